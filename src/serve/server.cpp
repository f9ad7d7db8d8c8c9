#include "serve/server.h"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>

#include "attune/error.h"
#include "serve/api_error.h"
#include "serve/chat_response.h"
#include "serve/metrics.h"
#include "serve/session_store.h"
#include "serve/turn_gate.h"
#include "serve/web_assets.h"
#include "tts/talker.h"

namespace attune::serve {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Set when routing starts, read by the logger on the same thread (httplib handles a request on one thread).
thread_local Clock::time_point request_start;

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) { send_json(res, e.status(), e.to_json()); }

std::vector<std::string> voice_names() {
  std::vector<std::string> names;
  for (const tts::Voice& v : tts::builtin_voices()) names.push_back(v.name);
  return names;
}

std::string route_of(const httplib::Request& req) {
  if (req.path.rfind("/v1/sessions/", 0) == 0) return "/v1/sessions/{id}";
  for (const char* known : {"/health", "/metrics", "/v1/models", "/v1/chat/completions"}) {
    if (req.path == known) return known;
  }
  return req.path == "/" || req.path.find('.') != std::string::npos ? "web" : "other";
}

// One answer in the making: the session it runs on and the request's settings.
struct Turn {
  ChatRequest request;
  std::string session_id;
  std::shared_ptr<SessionStore::Entry> stored;  // keeps a stored session from expiring meanwhile
  std::optional<Session> own;                   // a stateless request's session
  std::unique_ptr<TurnGate::Pass> pass;
  Session& session() { return stored ? stored->session : *own; }
};

// Debian's cpp-httplib is compiled with a listen backlog of 5: 64 clients connecting at once overflow
// it and some connections fail (bench_serve). listen() again on the bound socket widens the queue;
// the socket is found by its port, as httplib does not hand it out.
void widen_listen_backlog(int port) {
  for (int fd = 0; fd < 1024; ++fd) {
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    sockaddr_storage addr{};
    socklen_t alen = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
    const int bound = addr.ss_family == AF_INET    ? ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port)
                      : addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                                   : -1;
    if (bound == port) ::listen(fd, SOMAXCONN);
  }
}

}  // namespace

struct Server::Impl {
  const Model& model;
  ServerOptions options;
  ConnectionGuard connections{options.connections};  // outlives http, whose task queue uses it
  httplib::Server http;
  TurnGate gate;
  SessionStore sessions;
  Metrics metrics;
  int bound_port = -1;
  std::atomic<bool> stopping{false};
  std::thread janitor;

  Impl(const Model& m, ServerOptions o)
      : model(m),
        options(std::move(o)),
        gate(options.max_waiting),
        sessions(options.max_sessions, options.session_idle) {
    if (options.model_id.empty()) options.model_id = model.directory().filename().string();
    routes();
  }

  SessionOptions session_options(const ChatRequest& r) const {
    SessionOptions s = options.session;
    if (r.max_tokens) s.max_new_tokens = *r.max_tokens;
    s.temperature = r.temperature;
    s.top_p = r.top_p;
    if (r.seed) s.seed = *r.seed;
    if (!r.voice.empty()) s.voice = r.voice;
    s.speak = r.want_audio;
    for (const ChatMessageIn& m : r.messages) {
      if (m.role == "system") s.system = m.text;
    }
    return s;
  }

  // Waits its turn, then finds or opens the session and, for a stateless request, reads its history.
  std::unique_ptr<Turn> prepare(ChatRequest request) {
    auto turn = std::make_unique<Turn>();
    turn->request = std::move(request);
    const ChatRequest& r = turn->request;
    const SessionOptions so = session_options(r);
    if (!r.session_id.empty()) {  // before queueing: an unknown session is a quick 404
      turn->stored = sessions.find(r.session_id);
      turn->session_id = r.session_id;
    }
    turn->pass = gate.enter(Clock::now() + options.queue_timeout);
    // Opening a session allocates its KV cache: done with the gate held, like everything torch does.
    try {
      if (r.new_session) {
        std::tie(turn->session_id, turn->stored) = sessions.add(model.open_session(so));
      } else if (!turn->stored) {
        turn->own.emplace(model.open_session(so));
      }
      turn->session().set_options(so);
    } catch (const ConfigError& e) {
      throw ApiError(400, "invalid_value", e.what(), "audio.voice");
    }
    if (turn->own) replay_history(*turn);
    return turn;
  }

  // A stateless request resends the dialogue: every user turn before the last, with the assistant's
  // answer that followed it, goes into the fresh session without generating.
  void replay_history(Turn& turn) {
    const auto& m = turn.request.messages;
    for (size_t i = 0; i + 1 < m.size(); ++i) {
      if (m[i].role == "system") continue;
      if (m[i].role == "assistant")
        throw ApiError(400, "invalid_value",
                       fmt::format("messages[{}]: an assistant message must follow a user message", i),
                       fmt::format("messages[{}]", i));
      const bool answered = i + 1 < m.size() - 1 && m[i + 1].role == "assistant";
      try {
        if (answered) {
          turn.own->add_exchange(m[i].audio, m[i].text, m[i + 1].text, m[i + 1].thinking);
        } else {
          turn.own->add_exchange(m[i].audio, m[i].text, "");
        }
      } catch (const Error& e) {
        throw ApiError(400, "invalid_value", fmt::format("messages[{}]: {}", i, e.what()),
                       fmt::format("messages[{}]", i));
      }
      if (answered) ++i;
    }
  }

  void record(const Reply& reply) {
    metrics.count_turn(reply.timings.first_token, reply.timings.first_audio, reply.timings.prompt_tokens,
                       reply.timings.generated_tokens, reply.timings.audio_seconds, reply.audio.duration_s());
  }

  Reply run_turn(Turn& turn, const TurnCallbacks& cb) {
    const ChatMessageIn& user = turn.request.messages.back();
    try {
      Reply reply = turn.session().turn(user.audio, user.text, cb);
      record(reply);
      return reply;
    } catch (const InputError& e) {
      throw ApiError(400, "invalid_value", e.what(), fmt::format("messages[{}]", turn.request.messages.size() - 1));
    } catch (const ConfigError& e) {  // e.g. the turn does not fit the context
      throw ApiError(400, "context_length_exceeded", e.what(), "messages");
    }
  }

  void chat(const httplib::Request& req, httplib::Response& res) {
    std::shared_ptr<Turn> turn = prepare(parse_chat_request(req.body, options.limits));
    if (!turn->request.stream) {
      const Reply reply = run_turn(*turn, {});
      const ChatRequest& r = turn->request;
      send_json(res, 200,
                completion(new_completion(options.model_id), reply, turn->session_id, r.want_audio, r.audio_format,
                           r.show_thinking));
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider("text/event-stream", [this, turn](size_t, httplib::DataSink& sink) {
      stream(*turn, sink);
      turn->pass.reset();  // the next request may start while this connection closes
      return true;
    });
  }

  // The streamed answer as server-sent events: the role, then text deltas (and thinking, when asked
  // for, in attune.thinking) with audio chunks as each sentence is spoken, then the finish with the
  // attune object, usage when asked for, and [DONE]. A client that goes away stops the turn.
  void stream(Turn& turn, httplib::DataSink& sink) {
    const ChatRequest& r = turn.request;
    const CompletionHeader h = new_completion(options.model_id);
    bool gone = false;
    auto send = [&](const json& event) {
      if (gone) return;
      const std::string s = sse_event(event);
      if (!sink.write(s.data(), s.size())) gone = true;
    };
    send(chunk(h, {{"role", "assistant"}, {"content", ""}}));
    TurnCallbacks cb;
    cb.on_text = [&](std::string_view piece) { send(chunk(h, {{"content", std::string(piece)}})); };
    if (r.show_thinking) {
      cb.on_thinking = [&](std::string_view piece) {
        send(chunk(h, json::object(), {{"thinking", std::string(piece)}}));
      };
    }
    if (r.want_audio) {
      const std::string audio_id = "audio-" + h.id.substr(h.id.find('-') + 1);
      cb.on_audio = [&](const AudioBuffer& audio, size_t sentence) {
        send(chunk(
            h, {{"audio", {{"id", audio_id}, {"data", audio_base64(audio, r.audio_format)}}}},
            {{"audio", {{"sentence", sentence}, {"format", r.audio_format}, {"sample_rate", audio.sample_rate}}}}));
      };
    }
    cb.should_stop = [&] { return gone; };
    try {
      const Reply reply = run_turn(turn, cb);
      if (gone) {
        spdlog::info("serve: the client left during turn {} (stopped after {} tokens)", reply.turn,
                     reply.timings.generated_tokens);
        return;
      }
      send(chunk(h, json::object(), attune_extension(reply, turn.session_id, r.show_thinking), finish_reason(reply)));
      if (r.include_usage) {
        json u = chunk(h, json::object());
        u["choices"] = json::array();
        u["usage"] = usage(reply);
        send(u);
      }
    } catch (const ApiError& e) {
      send(e.to_json());
    } catch (const std::exception& e) {
      send(ApiError(500, "internal_error", e.what()).to_json());
    }
    if (!gone) {
      const std::string done = "data: [DONE]\n\n";
      sink.write(done.data(), done.size());
      sink.done();
    }
  }

  // Turns ApiError (and anything else) thrown by a handler into the JSON error with its status.
  template <typename F>
  httplib::Server::Handler guarded(F f) {
    return [this, f](const httplib::Request& req, httplib::Response& res) {
      connections.request_arrived();  // a turn may take minutes: no read deadline while it runs
      try {
        f(req, res);
      } catch (const ApiError& e) {
        send_error(res, e);
      }
    };
  }

  // The method a route answers ("" when no route has this path): a known path asked with another
  // method gets 405 with Allow, not 404.
  static std::string allowed_method(const std::string& path) {
    if (path == "/health" || path == "/metrics" || path == "/v1/models") return "GET";
    if (path == "/v1/chat/completions") return "POST";
    if (path.starts_with("/v1/sessions/") && path.size() > 13 &&
        path.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-", 13) ==
            std::string::npos) {
      return "DELETE";
    }
    for (const WebAsset& asset : web_assets()) {
      if (path == asset.path) return "GET";
    }
    return "";
  }

  bool needs_key(const std::string& path) const {
    return !options.api_key.empty() && (path.starts_with("/v1/") || path == "/metrics");
  }

  // Compares in time independent of where the first difference is.
  bool has_key(const httplib::Request& req) const {
    const std::string header = req.get_header_value("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (!header.starts_with(kBearer)) return false;
    const std::string_view given = std::string_view(header).substr(kBearer.size());
    const std::string& key = options.api_key;
    unsigned char diff = given.size() == key.size() ? 0 : 1;
    for (size_t i = 0; i < key.size(); ++i)
      diff |= static_cast<unsigned char>(key[i] ^ (i < given.size() ? given[i] : 0));
    return diff == 0;
  }

  void routes() {
    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200,
                {{"status", "ok"},
                 {"model", options.model_id},
                 {"sessions", sessions.size()},
                 {"waiting", gate.waiting()},
                 {"busy", gate.busy()}});
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics.render(sessions.size(), gate.waiting(), gate.busy()), "text/plain; version=0.0.4");
    });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      const auto created =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      send_json(res, 200,
                {{"object", "list"},
                 {"data", json::array({{{"id", options.model_id},
                                        {"object", "model"},
                                        {"created", created},
                                        {"owned_by", "attune"},
                                        {"attune",
                                         {{"description", model.describe()},
                                          {"context_length", model.context_length()},
                                          {"emotions", emotion_labels()},
                                          {"voices", voice_names()},
                                          {"default_voice", options.session.voice}}}}})}});
    });
    http.Post("/v1/chat/completions",
              guarded([this](const httplib::Request& req, httplib::Response& res) { chat(req, res); }));
    http.Delete(R"(/v1/sessions/([A-Za-z0-9-]+))", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string id = req.matches[1];
      if (!sessions.remove(id)) {
        send_error(res, ApiError(404, "session_not_found", fmt::format("no session '{}'", id), "id"));
        return;
      }
      send_json(res, 200, {{"id", id}, {"object", "session.deleted"}, {"deleted", true}});
    });
    for (const WebAsset& asset : web_assets()) {
      http.Get(std::string(asset.path), [&asset](const httplib::Request&, httplib::Response& res) {
        res.set_content(std::string(asset.body), std::string(asset.content_type).c_str());
      });
    }
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      request_start = Clock::now();
      if (needs_key(req.path) && !has_key(req)) {
        send_error(res, ApiError(401, "invalid_api_key",
                                 "this server needs an API key: send the header Authorization: Bearer <key>"));
        return httplib::Server::HandlerResponse::Handled;
      }
      // httplib 0.11 applies the body cap to Content-Length only: a chunked body would be read
      // without bound. This runs before the body is read, so refusing here enforces the cap.
      std::string encoding = req.get_header_value("Transfer-Encoding");
      for (char& c : encoding) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (encoding.find("chunked") != std::string::npos) {
        send_error(res, ApiError(411, "length_required",
                                 "chunked request bodies are not accepted: send the body with a Content-Length"));
        res.set_header("Connection", "close");
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    // httplib's own refusals (413 body too large, 404 no route, 400 bad request line) get a JSON body too.
    http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 413 && req.get_header_value("Content-Type").find("form-urlencoded") != std::string::npos) {
        // httplib caps form bodies at 8 KiB: curl -d without a JSON content type lands here.
        send_error(res, ApiError(413, "request_too_large",
                                 "the body was sent as a form; send it with Content-Type: application/json"));
      } else if (res.status == 413) {
        send_error(res, ApiError(413, "request_too_large", "the request body is larger than this server accepts"));
      } else if (const std::string allow = allowed_method(req.path); res.status == 404 && !allow.empty()) {
        res.set_header("Allow", allow);
        send_error(res, ApiError(405, "method_not_allowed",
                                 fmt::format("{} {}: this route answers {}", req.method, req.path, allow)));
      } else if (res.status == 404) {
        send_error(res, ApiError(404, "not_found", fmt::format("no route {} {}", req.method, req.path)));
      } else {
        send_error(res, ApiError(res.status, "bad_request", fmt::format("HTTP {}", res.status)));
      }
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      spdlog::error("serve: {}", what);
      send_error(res, ApiError(500, "internal_error", what));
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      connections.response_written();
      const double seconds = std::chrono::duration<double>(Clock::now() - request_start).count();
      metrics.count_request(route_of(req), res.status, seconds);
      if (options.log_requests)
        spdlog::info("serve: {} {} {} {:.0f} ms", req.method, req.path, res.status, seconds * 1000);
    });
    // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which lets a second server bind the same
    // port and silently take half the requests (and sessions) of the first.
    http.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    http.set_payload_max_length(options.max_body_bytes);
    http.set_read_timeout(options.io_timeout);
    http.set_write_timeout(options.io_timeout);
    // An idle connection is closed after the I/O timeout too: httplib bounds a stalled request by it.
    http.set_keep_alive_timeout(options.io_timeout.count());
    http.set_keep_alive_max_count(1000);
    // A thread for every connection allowed, and enough for every queued request plus the quick
    // routes (/health, /metrics, the page); the guard closes connections past the limit or deadline.
    const size_t threads = std::max(options.connections.max_connections, options.max_waiting + 8) + 8;
    http.new_task_queue = [this, threads] { return connections.make_task_queue(threads); };
  }
};

Server::Server(const Model& model, ServerOptions options) : impl_(std::make_unique<Impl>(model, std::move(options))) {}

Server::~Server() {
  stop();
  if (impl_->janitor.joinable()) impl_->janitor.join();
}

int Server::bind() {
  Impl& s = *impl_;
  const int port = s.options.port == 0 ? s.http.bind_to_any_port(s.options.host)
                                       : (s.http.bind_to_port(s.options.host, s.options.port) ? s.options.port : -1);
  if (port < 0)
    throw IoError(fmt::format("{}:{}: cannot listen there (the port is in use, or the address is not this machine's)",
                              s.options.host, s.options.port));
  s.bound_port = port;
  s.connections.watch_port(port);
  widen_listen_backlog(port);
  return port;
}

void Server::run() {
  Impl& s = *impl_;
  if (s.bound_port < 0) bind();
#ifdef __GLIBC__
  // Every HTTP thread would otherwise get its own malloc arena holding on to freed request bodies
  // (bench_serve: RSS grew ~400 MB over 64 clients without this).
  mallopt(M_ARENA_MAX, 4);
#endif
  s.janitor = std::thread([&s] {
    while (!s.stopping) {
      for (int i = 0; i < 50 && !s.stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (const size_t n = s.sessions.expire()) spdlog::info("serve: {} idle session(s) expired", n);
#ifdef __GLIBC__
      malloc_trim(0);  // hand freed request and audio buffers back to the system
#endif
    }
  });
  s.http.listen_after_bind();
}

void Server::stop() {
  impl_->stopping = true;
  impl_->http.stop();
}

int Server::port() const { return impl_->bound_port; }

}  // namespace attune::serve
