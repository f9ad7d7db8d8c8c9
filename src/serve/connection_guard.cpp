#include "serve/connection_guard.h"

#include <dirent.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace attune::serve {
namespace {

using Clock = std::chrono::steady_clock;

struct Connection {
  ino_t inode = 0;          // the socket's identity: its descriptor number is reused as soon as httplib closes it
  int handle = -1;          // our dup of the socket: it stays valid (and the inode unique) until we close it
  Clock::time_point since;  // when it began waiting for its current request
  bool reading = true;      // waiting for a request (under the deadline), not being answered
  bool cut = false;
};

// The connection this HTTP thread is serving (set by the task wrapper).
thread_local uint64_t current_id = 0;

// The local port of a connected TCP socket, or -1 for anything else.
int local_port_of(int fd, const struct stat& st) {
  if (!S_ISSOCK(st.st_mode)) return -1;
  int listening = 0;
  socklen_t len = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening) return -1;
  sockaddr_storage addr{};
  len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return -1;
}

// This process's open descriptors, ascending (the kernel hands out the lowest free one, so a socket
// just accepted is usually the first candidate).
std::vector<int> open_descriptors() {
  std::vector<int> fds;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (const dirent* e = readdir(dir)) {
      if (e->d_name[0] >= '0' && e->d_name[0] <= '9') fds.push_back(std::atoi(e->d_name));
    }
    closedir(dir);
  }
  std::sort(fds.begin(), fds.end());
  return fds;
}

}  // namespace

struct ConnectionGuard::Impl {
  ConnectionLimits limits;
  std::atomic<int> port{-1};
  mutable std::mutex mutex;
  std::map<uint64_t, Connection> open;  // by id
  uint64_t next_id = 1;
  std::atomic<uint64_t> refused{0}, cut{0};
  bool stopping = false;
  std::condition_variable wake;
  std::thread watchdog;

  // httplib hands the task queue a closure, not the socket: the socket is the server-side TCP
  // connection on our port that is not yet tracked. Called with `mutex` held.
  std::pair<int, ino_t> find_accepted() const {
    if (port < 0) return {-1, 0};
    for (int fd : open_descriptors()) {
      struct stat st {};
      if (fstat(fd, &st) != 0 || local_port_of(fd, st) != port) continue;
      const bool tracked =
          std::any_of(open.begin(), open.end(), [&](const auto& e) { return e.second.inode == st.st_ino; });
      if (!tracked) return {fd, st.st_ino};
    }
    return {-1, 0};
  }

  Connection* current() {
    auto it = open.find(current_id);
    return it != open.end() ? &it->second : nullptr;
  }
};

class GuardedQueue : public httplib::TaskQueue {
 public:
  GuardedQueue(ConnectionGuard::Impl& guard, size_t threads) : guard_(guard), pool_(threads) {}

  void enqueue(std::function<void()> fn) override {
    uint64_t id = 0;
    int handle = -1;
    bool over = false;
    {
      std::lock_guard lock(guard_.mutex);
      const auto [fd, inode] = guard_.find_accepted();
      if (fd >= 0) handle = ::dup(fd);
      if (handle >= 0) {
        const size_t live = static_cast<size_t>(
            std::count_if(guard_.open.begin(), guard_.open.end(), [](const auto& e) { return !e.second.cut; }));
        over = live >= guard_.limits.max_connections;
        id = guard_.next_id++;
        // A refused connection is tracked too (as cut), so that the next accept cannot mistake it
        // for the new socket while it waits to be closed.
        guard_.open[id] = {inode, handle, Clock::now(), !over, over};
      }
    }
    if (over) {
      // The client sees the connection closed at once; the task reads EOF and closes the socket.
      ::shutdown(handle, SHUT_RDWR);
      if (guard_.refused++ % 100 == 0)
        spdlog::warn("serve: {} connections open, the limit: closing new ones", guard_.limits.max_connections);
    }
    pool_.enqueue([this, fn = std::move(fn), id, handle] {
      current_id = id;
      fn();
      current_id = 0;
      if (handle < 0) return;  // not found: served untracked
      std::lock_guard lock(guard_.mutex);
      guard_.open.erase(id);
      ::close(handle);
    });
  }

  void shutdown() override { pool_.shutdown(); }

 private:
  ConnectionGuard::Impl& guard_;
  httplib::ThreadPool pool_;
};

ConnectionGuard::ConnectionGuard(ConnectionLimits limits) : impl_(std::make_unique<Impl>()) {
  impl_->limits = limits;
  impl_->watchdog = std::thread([this] {
    std::unique_lock lock(impl_->mutex);
    while (!impl_->stopping) {
      impl_->wake.wait_for(lock, std::chrono::seconds(1));
      lock.unlock();
      if (const size_t n = cut_stalled())
        spdlog::info("serve: closed {} connection(s) that sent no whole request within {} s", n,
                     impl_->limits.request_deadline.count());
      lock.lock();
    }
  });
}

ConnectionGuard::~ConnectionGuard() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->watchdog.join();
  for (const auto& [id, c] : impl_->open) ::close(c.handle);
}

void ConnectionGuard::watch_port(int port) { impl_->port = port; }

httplib::TaskQueue* ConnectionGuard::make_task_queue(size_t threads) { return new GuardedQueue(*impl_, threads); }

void ConnectionGuard::request_arrived() {
  std::lock_guard lock(impl_->mutex);
  if (Connection* c = impl_->current()) c->reading = false;
}

void ConnectionGuard::response_written() {
  std::lock_guard lock(impl_->mutex);
  if (Connection* c = impl_->current()) {
    c->reading = true;
    c->since = Clock::now();
  }
}

size_t ConnectionGuard::cut_stalled() {
  const auto now = Clock::now();
  size_t n = 0;
  std::lock_guard lock(impl_->mutex);
  for (auto& [id, c] : impl_->open) {
    if (c.reading && !c.cut && now - c.since > impl_->limits.request_deadline) {
      ::shutdown(c.handle, SHUT_RDWR);  // the HTTP thread's read returns at once and it closes the socket
      c.cut = true;
      ++n;
    }
  }
  impl_->cut += n;
  return n;
}

size_t ConnectionGuard::open_connections() const {
  std::lock_guard lock(impl_->mutex);
  return static_cast<size_t>(
      std::count_if(impl_->open.begin(), impl_->open.end(), [](const auto& e) { return !e.second.cut; }));
}
uint64_t ConnectionGuard::refused_total() const { return impl_->refused; }
uint64_t ConnectionGuard::cut_total() const { return impl_->cut; }

}  // namespace attune::serve
