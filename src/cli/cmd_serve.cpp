// `attune serve`: the shipped (or any) model behind an OpenAI-style HTTP API with the web page at /.
//   attune serve [--model DIR] [--host 127.0.0.1] [--port 8080] [--max-sessions 64] ...
// Ctrl-C (SIGINT) or SIGTERM stops it cleanly. docs/serve.md has the API.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>

#include "attune/runtime.h"
#include "cli/chat_options.h"
#include "cli/command.h"
#include "serve/server.h"

namespace attune::cli {
namespace {

struct ServeCliOptions {
  ChatModelOptions model;
  serve::ServerOptions server;
  int64_t session_idle_s = 1800, queue_timeout_s = 300, io_timeout_s = 10, request_deadline_s = 30;
  double max_body_mb = 32;
};

int run_serve(ServeCliOptions& o) {
  // Block the stop signals in every thread; one thread waits for them and stops the server.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const Model model = load_chat_model(o.model, stderr);
  o.server.session = session_options(o.model);
  o.server.session_idle = std::chrono::seconds(o.session_idle_s);
  o.server.queue_timeout = std::chrono::seconds(o.queue_timeout_s);
  o.server.io_timeout = std::chrono::seconds(o.io_timeout_s);
  o.server.connections.request_deadline = std::chrono::seconds(o.request_deadline_s);
  o.server.max_body_bytes = static_cast<size_t>(o.max_body_mb * 1024 * 1024);
  serve::Server server(model, o.server);
  const int port = server.bind();
  std::fprintf(stderr, "attune serve: listening on http://%s:%d/ (web page at /, API at /v1/chat/completions)\n",
               o.server.host.c_str(), port);
  if (o.server.api_key.empty() && o.server.host != "127.0.0.1" && o.server.host != "localhost" &&
      o.server.host != "::1") {
    std::fprintf(stderr,
                 "attune serve: warning: reachable beyond this machine (--host %s) and anyone may use it; set "
                 "--api-key or ATTUNE_API_KEY\n",
                 o.server.host.c_str());
  }
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("serve: signal {}: stopping", sig);
    server.stop();
  });
  server.run();
  // Stopped by something else than a signal: wake the waiter.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  std::fprintf(stderr, "attune serve: stopped\n");
  return 0;
}

const bool registered_serve = register_command(
    {"serve",
     "Serve a model over an OpenAI-style HTTP API (spoken turns in, streamed text and speech out) with a web page",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<ServeCliOptions>();
       add_chat_model_options(app, o->model);
       app.add_option("--host", o->server.host, "Address to listen on (127.0.0.1: this machine only)");
       app.add_option("--port", o->server.port, "Port (0: any free one, printed at start)")
           ->check(CLI::Range(0, 65535));
       app.add_option("--api-key", o->server.api_key,
                      "Clients must send Authorization: Bearer KEY to /v1/* and /metrics (/health and the page stay "
                      "open)")
           ->envname("ATTUNE_API_KEY");
       app.add_option("--model-id", o->server.model_id, "The model name /v1/models reports (default: the directory's)");
       app.add_option("--max-sessions", o->server.max_sessions,
                      "Server-side sessions held at most (least recently used go)")
           ->check(CLI::Range(1, 100000));
       app.add_option("--session-idle", o->session_idle_s, "Seconds after which an idle session is forgotten")
           ->check(CLI::Range(1, 7 * 24 * 3600));
       app.add_option("--max-queue", o->server.max_waiting, "Requests that may wait for the model (more get HTTP 429)")
           ->check(CLI::Range(1, 4096));
       app.add_option("--queue-timeout", o->queue_timeout_s, "Seconds a request may wait for the model (then HTTP 503)")
           ->check(CLI::Range(1, 3600));
       app.add_option("--io-timeout", o->io_timeout_s, "Seconds to read a request or write a response before giving up")
           ->check(CLI::Range(1, 600));
       app.add_option("--max-connections", o->server.connections.max_connections,
                      "Connections open at once (more are closed as they arrive); one HTTP thread each")
           ->check(CLI::Range(1, 4096));
       app.add_option("--request-deadline", o->request_deadline_s,
                      "Seconds for a whole request (headers and body) to arrive, however slowly it trickles")
           ->check(CLI::Range(1, 3600));
       app.add_option("--max-body-mb", o->max_body_mb, "Largest request body in MiB (HTTP 413 beyond)")
           ->check(CLI::Range(0.01, 1024.0));
       app.add_option("--max-audio-seconds", o->server.limits.max_audio_seconds, "Longest audio per turn")
           ->check(CLI::Range(1.0, 3600.0));
       app.add_option("--max-tokens-limit", o->server.limits.max_tokens, "The largest max_tokens a request may ask for")
           ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
       app.add_flag("!--quiet", o->server.log_requests, "Do not log every request");
       return [o] { return run_serve(*o); };
     }});

}  // namespace
}  // namespace attune::cli
