// `attune serve`: one loaded model behind an OpenAI-style HTTP API (GET /health, /metrics,
// /v1/models; POST /v1/chat/completions with spoken turns, streamed or whole; DELETE
// /v1/sessions/{id}) and the web page at /. Turns run one at a time in arrival order (TurnGate);
// sessions are kept apart (SessionStore). docs/serve.md is the reference.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "attune/runtime.h"
#include "serve/chat_request.h"
#include "serve/connection_guard.h"

namespace attune::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;       // 0: any free port (see Server::port)
  std::string model_id;  // the name /v1/models reports; "" = the model directory's name
  size_t max_sessions = 64;
  std::chrono::seconds session_idle{1800};  // idle sessions are forgotten after this
  size_t max_waiting = 64;                  // requests queued for the model beyond the running one
  std::chrono::seconds queue_timeout{300};  // the longest a request waits for the model
  std::chrono::seconds io_timeout{10};      // reading a request / writing a response (slow clients)
  size_t max_body_bytes = 32u << 20;
  ConnectionLimits connections;  // open connections at most, and the deadline for a whole request
  RequestLimits limits;
  SessionOptions session;  // defaults for every dialogue (voice, max_new_tokens, context)
  bool log_requests = true;
  // When set, /v1/* and /metrics need "Authorization: Bearer <api_key>" (else 401); /health and
  // the web page's files stay open.
  std::string api_key;
};

class Server {
 public:
  // Borrows the model: it must outlive the server.
  Server(const Model& model, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the socket; throws IoError when the address is taken or not valid. Returns the port.
  int bind();
  // Serves until stop() (from another thread or a signal handler's thread).
  void run();
  void stop();
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace attune::serve
