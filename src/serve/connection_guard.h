// Bounds what slow or idle clients can hold: at most `max_connections` connections at once (more are
// closed as they arrive) and a deadline for each request to arrive in full, from the connection's
// accept (or its previous response) to its handler. httplib 0.11 only times out one recv at a time,
// so a client trickling a byte every few seconds held an HTTP thread for hours; 100 of them made
// /health wait. The guard sits in httplib's task queue, where each accepted connection passes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace httplib {
class TaskQueue;
}

namespace attune::serve {

struct ConnectionLimits {
  size_t max_connections = 128;               // open at once (more are closed on arrival)
  std::chrono::seconds request_deadline{30};  // a whole request (headers and body) must arrive in this
};

class ConnectionGuard {
 public:
  explicit ConnectionGuard(ConnectionLimits limits);
  ~ConnectionGuard();
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  // The server's bound port: accepted sockets are told apart from the process's other sockets by it.
  void watch_port(int port);
  // A pool of `threads` HTTP threads whose connections are tracked; httplib owns the result.
  httplib::TaskQueue* make_task_queue(size_t threads);
  // Called on an HTTP thread when its request has arrived whole (its handler starts): no deadline
  // until the response is written.
  void request_arrived();
  // Called on an HTTP thread when a response is written: a kept-alive connection waits for its next
  // request under the deadline again.
  void response_written();
  // Shuts down connections past their deadline; returns how many. Runs every second on its own
  // thread; public for tests.
  size_t cut_stalled();

  size_t open_connections() const;
  uint64_t refused_total() const;
  uint64_t cut_total() const;

  struct Impl;  // shared with the task queue in the .cpp

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace attune::serve
