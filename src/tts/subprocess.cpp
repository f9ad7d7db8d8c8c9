#include "tts/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <tuple>

extern char** environ;

namespace attune::tts {
namespace {

using Clock = std::chrono::steady_clock;

std::string errno_text(int err) { return std::strerror(err); }

// Closes a descriptor once; -1 means already closed.
void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

struct Fds {
  int in[2] = {-1, -1};   // socketpair: parent writes in[0], child reads in[1] as stdin
  int out[2] = {-1, -1};  // pipe: child writes out[1], parent reads out[0]
  int err[2] = {-1, -1};
  ~Fds() {
    for (int* pair : {in, out, err}) {
      close_fd(pair[0]);
      close_fd(pair[1]);
    }
  }
};

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// posix_spawn attributes and file actions, released on every path out.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// Starts argv with the given descriptors as its stdin, stdout and stderr (-1: /dev/null), default
// signal handling and nothing blocked, whatever this process does.
pid_t spawn_child(const std::vector<std::string>& argv, int in_fd, int out_fd, int err_fd) {
  const std::string& program = argv[0];
  SpawnSetup setup;
  for (auto [fd, target] : {std::pair{in_fd, STDIN_FILENO}, {out_fd, STDOUT_FILENO}, {err_fd, STDERR_FILENO}}) {
    if (fd >= 0) {
      posix_spawn_file_actions_adddup2(&setup.actions, fd, target);
    } else {
      posix_spawn_file_actions_addopen(&setup.actions, target, "/dev/null", O_RDWR, 0);
    }
  }
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&setup.attr, &empty);
  posix_spawnattr_setsigdefault(&setup.attr, &defaults);
  posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, program.c_str(), &setup.actions, &setup.attr, args.data(), environ);
  if (rc == ENOENT || rc == EACCES || rc == ENOEXEC || rc == ENOTDIR) {
    throw ProgramNotFoundError(program + " not found or not executable: " + errno_text(rc));
  }
  if (rc != 0) throw IoError("cannot start " + program + ": " + errno_text(rc));
  return pid;
}

Clock::time_point deadline_after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// Waits until `fd` is ready for `events`; false when the deadline passes first.
bool wait_ready(int fd, short events, Clock::time_point deadline) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left + 1, 1000)));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) throw IoError(std::string("poll failed: ") + errno_text(errno));
  }
}

}  // namespace

bool program_exists(const std::string& program) {
  if (program.empty()) return false;
  auto executable = [](const std::filesystem::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (program.find('/') != std::string::npos) return executable(program);
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (executable(std::filesystem::path(dir.empty() ? "." : dir) / program)) return true;
    start = end + 1;
  }
  return false;
}

ProcessResult run_process(const std::vector<std::string>& argv, std::string_view input, const ProcessLimits& limits) {
  if (argv.empty() || argv[0].empty()) throw ConfigError("run_process: empty program name");
  if (!(limits.timeout_s > 0)) {
    throw ConfigError("run_process: timeout_s is " + fmt::format("{:g}", limits.timeout_s) + "; expected > 0");
  }
  const std::string& program = argv[0];

  Fds fds;
  // stdin is a socket so that writing to a child that has already exited gives EPIPE from
  // send(MSG_NOSIGNAL) instead of a process-wide SIGPIPE.
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.in) != 0 || ::pipe2(fds.out, O_CLOEXEC) != 0 ||
      ::pipe2(fds.err, O_CLOEXEC) != 0) {
    throw IoError("cannot create pipes for " + program + ": " + errno_text(errno));
  }

  pid_t pid = spawn_child(argv, fds.in[1], fds.out[1], fds.err[1]);

  close_fd(fds.in[1]);
  close_fd(fds.out[1]);
  close_fd(fds.err[1]);
  for (int fd : {fds.in[0], fds.out[0], fds.err[0]}) set_nonblocking(fd);

  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limits.timeout_s));
  ProcessResult result;
  size_t written = 0;
  if (input.empty()) {
    ::shutdown(fds.in[0], SHUT_WR);
    close_fd(fds.in[0]);
  }
  char buffer[65536];
  while (fds.out[0] >= 0 || fds.err[0] >= 0) {
    auto now = Clock::now();
    if (now >= deadline) {
      kill_and_reap(pid);
      throw Error(program + " did not finish within " + fmt::format("{:g}", limits.timeout_s) + " s; it was killed");
    }
    pollfd polls[3];
    int n = 0;
    int in_slot = -1, out_slot = -1, err_slot = -1;
    if (fds.in[0] >= 0) {
      in_slot = n;
      polls[n++] = {fds.in[0], POLLOUT, 0};
    }
    if (fds.out[0] >= 0) {
      out_slot = n;
      polls[n++] = {fds.out[0], POLLIN, 0};
    }
    if (fds.err[0] >= 0) {
      err_slot = n;
      polls[n++] = {fds.err[0], POLLIN, 0};
    }
    auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
    int ready = ::poll(polls, n, static_cast<int>(std::min<long long>(wait_ms, 1000)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      kill_and_reap(pid);
      throw IoError("poll on " + program + "'s pipes failed: " + errno_text(e));
    }
    if (in_slot >= 0 && polls[in_slot].revents != 0) {
      ssize_t w = ::send(fds.in[0], input.data() + written, input.size() - written, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) written += static_cast<size_t>(w);
      // EPIPE or any other error: the child stopped reading; keep collecting what it wrote.
      if (written == input.size() || (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        ::shutdown(fds.in[0], SHUT_WR);
        close_fd(fds.in[0]);
      }
    }
    for (auto [slot, fd, sink] :
         {std::tuple{out_slot, &fds.out[0], &result.out}, std::tuple{err_slot, &fds.err[0], &result.err}}) {
      if (slot < 0 || polls[slot].revents == 0) continue;
      while (true) {
        ssize_t r = ::read(*fd, buffer, sizeof buffer);
        if (r > 0) {
          sink->append(buffer, static_cast<size_t>(r));
          if (result.out.size() > limits.max_output_bytes) {
            kill_and_reap(pid);
            throw Error(program + " wrote more than " + std::to_string(limits.max_output_bytes) +
                        " bytes to stdout; it was killed");
          }
          continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        close_fd(*fd);  // end of stream (or an error: nothing more will come)
        break;
      }
    }
  }
  close_fd(fds.in[0]);

  // Both streams closed: the child is exiting; wait for it, still within the deadline.
  while (true) {
    int status = 0;
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      result.exit_code = decode_status(status);
      return result;
    }
    if (w < 0 && errno != EINTR) throw IoError("waitpid for " + program + " failed: " + errno_text(errno));
    if (Clock::now() >= deadline) {
      kill_and_reap(pid);
      throw Error(program + " did not exit within " + fmt::format("{:g}", limits.timeout_s) + " s; it was killed");
    }
    ::usleep(1000);
  }
}

// ---- Coprocess ----------------------------------------------------------------------------------

Coprocess::Coprocess(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0].empty()) throw ConfigError("Coprocess: empty program name");
  program_ = argv[0];
  Fds fds;
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.in) != 0 || ::pipe2(fds.out, O_CLOEXEC) != 0) {
    throw IoError("cannot create pipes for " + program_ + ": " + errno_text(errno));
  }
  pid_ = spawn_child(argv, fds.in[1], fds.out[1], -1);
  std::swap(in_, fds.in[0]);  // owned here from now on
  std::swap(out_, fds.out[0]);
  set_nonblocking(in_);
  set_nonblocking(out_);
}

Coprocess::~Coprocess() {
  close_fd(in_);
  close_fd(out_);
  if (pid_ > 0) kill_and_reap(pid_);
}

void Coprocess::write_all(std::string_view bytes, double timeout_s) {
  const auto deadline = deadline_after(timeout_s);
  size_t written = 0;
  while (written < bytes.size()) {
    if (!wait_ready(in_, POLLOUT, deadline)) throw Error(program_ + " did not read its input in time");
    ssize_t w = ::send(in_, bytes.data() + written, bytes.size() - written, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      written += static_cast<size_t>(w);
    } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      throw Error(program_ + " stopped reading its input: " + errno_text(errno));
    }
  }
}

bool Coprocess::fill(Clock::time_point deadline) {
  if (!wait_ready(out_, POLLIN, deadline)) throw Error(program_ + " did not answer in time");
  char chunk[65536];
  ssize_t r = ::read(out_, chunk, sizeof chunk);
  if (r > 0) {
    buffer_.append(chunk, static_cast<size_t>(r));
    return true;
  }
  return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);  // false: it exited
}

std::string Coprocess::read_line(double timeout_s) {
  const auto deadline = deadline_after(timeout_s);
  size_t newline;
  while ((newline = buffer_.find('\n')) == std::string::npos) {
    if (buffer_.size() > 4096) throw Error(program_ + " sent a line longer than 4096 bytes");
    if (!fill(deadline)) throw Error(program_ + " exited");
  }
  std::string line = buffer_.substr(0, newline);
  buffer_.erase(0, newline + 1);
  return line;
}

std::string Coprocess::read_exact(size_t n, double timeout_s) {
  const auto deadline = deadline_after(timeout_s);
  while (buffer_.size() < n) {
    if (!fill(deadline)) throw Error(program_ + " exited in the middle of an answer");
  }
  std::string out = buffer_.substr(0, n);
  buffer_.erase(0, n);
  return out;
}

}  // namespace attune::tts
