// Load test of `attune serve` on loopback: N concurrent clients (default 1, 16 and 64) send spoken
// turns (streamed, with speech) for a bounded time each; per phase it reports throughput, p50/p95
// latency to the first reply text and to the first reply audio (from sending the request, so queueing
// is included), the error count, and the server's resident memory before and after (from /metrics).
// The baseline, run first in this process, is the runtime called directly (no HTTP, no queue), one
// turn after another: the server's throughput is printed as a ratio of it.
//
//   ./build/bench/bench_serve [--attune build/src/cli/attune] [--model DIR] [--clients 1,16,64]
//                             [--seconds 30] [--max-tokens 160]
// It starts its own server (`attune serve --port 0`) and stops it; it ends by itself.
#include <fmt/format.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "affect/speech_style.h"
#include "attune/runtime.h"
#include "audio/audio_file.h"
#include "common/base64.h"
#include "tts/talker.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double at = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(at);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (at - static_cast<double>(lo));
}

struct Phase {
  std::string name;
  size_t turns = 0, errors = 0;
  double seconds = 0;
  std::vector<double> first_text, first_audio;
  double rss_before = 0, rss_after = 0;
  std::vector<std::string> error_kinds;
  double rate() const { return seconds > 0 ? static_cast<double>(turns) / seconds : 0; }
};

std::vector<attune::AudioBuffer> spoken_turns() {
  auto talker = attune::tts::make_talker("espeak");
  const std::vector<std::pair<const char*, const char*>> lines = {
      {"I lost my job today and I do not know what to tell my family.", "sad"},
      {"They promoted me! I can hardly believe it.", "happy"},
      {"Why does nobody ever listen to what I say?", "anger"},
      {"There is a strange noise downstairs and I am home alone.", "fear"}};
  std::vector<attune::AudioBuffer> turns;
  for (const auto& [text, emotion] : lines)
    turns.push_back(
        talker->synthesize(text, attune::affect::emotion_style(emotion, 0.8), attune::tts::find_voice("en-female-2")));
  return turns;
}

// The runtime called directly: fresh session per turn, as the server's stateless requests are.
Phase direct_baseline(const std::string& model_dir, const std::vector<attune::AudioBuffer>& turns, double seconds,
                      int64_t max_tokens) {
  attune::RuntimeOptions ro;
  ro.threads = static_cast<int>(std::thread::hardware_concurrency());  // as `attune serve` does by default
  const attune::Model model = attune::Model::load(model_dir, ro);
  attune::SessionOptions so;
  so.max_new_tokens = max_tokens;
  model.open_session(so).turn(turns[0]);  // warm-up (the server has had its first turn too by the time it is timed)
  Phase p{"runtime, direct (baseline)"};
  const auto t0 = Clock::now();
  while (since(t0) < seconds) {
    attune::Session s = model.open_session(so);
    const auto t = Clock::now();
    bool first = true;
    attune::TurnCallbacks cb;
    cb.on_text = [&](std::string_view) {
      if (first) p.first_text.push_back(since(t));
      first = false;
    };
    const attune::Reply r = s.turn(turns[p.turns % turns.size()], "", cb);
    if (r.timings.first_audio > 0) p.first_audio.push_back(r.timings.first_audio);
    ++p.turns;
  }
  p.seconds = since(t0);
  return p;
}

struct ServerProcess {
  pid_t pid = -1;
  int port = 0;
};

ServerProcess start_server(const std::string& attune, const std::string& model, size_t max_queue) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    const std::string queue = std::to_string(max_queue);
    std::vector<const char*> args = {attune.c_str(), "serve",       "--port",          "0",  "--quiet",
                                     "--max-queue",  queue.c_str(), "--queue-timeout", "900"};
    if (!model.empty()) {
      args.push_back("--model");
      args.push_back(model.c_str());
    }
    args.push_back(nullptr);
    execv(attune.c_str(), const_cast<char* const*>(args.data()));
    std::perror("exec attune");
    _exit(127);
  }
  close(fds[1]);
  FILE* err = fdopen(fds[0], "r");
  char line[1024];
  ServerProcess s{pid, 0};
  while (std::fgets(line, sizeof line, err)) {
    if (const char* at = std::strstr(line, "listening on http://")) {
      const char* colon = std::strchr(at + std::strlen("listening on http://"), ':');
      s.port = std::atoi(colon + 1);
      break;
    }
  }
  if (!s.port) throw std::runtime_error("the server did not start (is --attune right?)");
  // Keep draining its stderr so it never blocks on a full pipe.
  std::thread([err] {
    char buf[1024];
    while (std::fgets(buf, sizeof buf, err)) {
    }
    std::fclose(err);
  }).detach();
  return s;
}

double server_rss_mb(int port) {
  httplib::Client c("127.0.0.1", port);
  auto res = c.Get("/metrics");
  if (!res) return 0;
  const size_t at = res->body.find("\nprocess_resident_memory_bytes ");
  return at == std::string::npos ? 0 : std::stod(res->body.substr(at + 31)) / (1 << 20);
}

Phase load(int port, size_t clients, double seconds, const std::vector<std::string>& bodies) {
  Phase p{fmt::format("serve, {} client{}", clients, clients == 1 ? "" : "s")};
  p.rss_before = server_rss_mb(port);
  std::mutex mutex;
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (size_t c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(900);
      for (size_t i = c; since(t0) < seconds; i += clients) {
        httplib::Request req;
        req.method = "POST";
        req.path = "/v1/chat/completions";
        req.body = bodies[i % bodies.size()];
        req.headers.emplace("Content-Type", "application/json");
        std::string pending;
        double first_text = 0, first_audio = 0;
        bool done = false;
        const auto t = Clock::now();
        req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
          pending.append(data, n);
          size_t end;
          while ((end = pending.find("\n\n")) != std::string::npos) {
            const std::string event = pending.substr(0, end);
            pending.erase(0, end + 2);
            if (event == "data: [DONE]")
              done = true;
            else if (!first_text && event.find("\"content\":\"") != std::string::npos &&
                     event.find("\"content\":\"\"") == std::string::npos)
              first_text = since(t);
            else if (!first_audio && event.find("\"audio\":{\"data\"") != std::string::npos)
              first_audio = since(t);
          }
          return true;
        };
        auto res = client.send(req);
        std::lock_guard lock(mutex);
        if (!res || res->status != 200 || !done) {
          ++p.errors;
          p.error_kinds.push_back(!res ? "connection: " + httplib::to_string(res.error())
                                  : res->status != 200
                                      ? fmt::format("HTTP {}: {}", res->status, res->body.substr(0, 200))
                                      : "stream ended without [DONE]");
          continue;
        }
        ++p.turns;
        if (first_text > 0) p.first_text.push_back(first_text);
        if (first_audio > 0) p.first_audio.push_back(first_audio);
      }
    });
  }
  for (auto& t : threads) t.join();
  p.seconds = since(t0);
  p.rss_after = server_rss_mb(port);
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  std::string attune = ATTUNE_BINARY, model = ATTUNE_SOURCE_DIR "/models/attune-small";
  std::vector<size_t> clients = {1, 16, 64};
  double seconds = 30;
  int64_t max_tokens = 160;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--attune")
      attune = v;
    else if (k == "--model")
      model = v;
    else if (k == "--seconds")
      seconds = std::stod(v);
    else if (k == "--max-tokens")
      max_tokens = std::stoll(v);
    else if (k == "--clients") {
      clients.clear();
      for (size_t at = 0; at < v.size();) {
        const size_t comma = v.find(',', at);
        clients.push_back(std::stoul(v.substr(at, comma - at)));
        at = comma == std::string::npos ? v.size() : comma + 1;
      }
    } else {
      std::fprintf(stderr, "bench_serve: unknown option %s (see the comment at the top of bench/bench_serve.cpp)\n",
                   k.c_str());
      return 2;
    }
  }
  const std::vector<attune::AudioBuffer> turns = spoken_turns();
  std::vector<std::string> bodies;
  for (const auto& t : turns) {
    const json content = json::array(
        {{{"type", "input_audio"},
          {"input_audio",
           {{"data", attune::common::base64_encode(attune::audio::encode_audio(t, attune::audio::AudioFormat::kWav16))},
            {"format", "wav"}}}}});
    bodies.push_back(json({{"messages", {{{"role", "user"}, {"content", content}}}},
                           {"stream", true},
                           {"max_tokens", max_tokens},
                           {"modalities", {"text", "audio"}}})
                         .dump());
  }
  std::fprintf(stderr, "bench_serve: baseline, the runtime called directly for %.0f s\n", seconds);
  std::vector<Phase> phases = {direct_baseline(model, turns, seconds, max_tokens)};
  const size_t most = *std::max_element(clients.begin(), clients.end());
  const ServerProcess server = start_server(attune, model, most + 8);
  const double rss_start = server_rss_mb(server.port);
  load(server.port, 1, 0.1, bodies);  // warm-up turn, not reported
  for (size_t n : clients) {
    std::fprintf(stderr, "bench_serve: %zu client(s) for %.0f s (then the requests in flight finish)\n", n, seconds);
    phases.push_back(load(server.port, n, seconds, bodies));
  }
  kill(server.pid, SIGTERM);
  waitpid(server.pid, nullptr, 0);

  const double base = phases[0].rate();
  std::printf(
      "\n| run | turns | turns/s | vs direct | first text p50 / p95 (s) | first audio p50 / p95 (s) | errors | server "
      "RSS before -> after (MB) |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const Phase& p : phases) {
    const std::string rss = p.rss_before > 0 ? fmt::format("{:.0f} -> {:.0f}", p.rss_before, p.rss_after) : "-";
    std::printf("| %s | %zu | %.2f | %.2fx | %.2f / %.2f | %.2f / %.2f | %zu | %s |\n", p.name.c_str(), p.turns,
                p.rate(), base > 0 ? p.rate() / base : 0, percentile(p.first_text, 0.5), percentile(p.first_text, 0.95),
                percentile(p.first_audio, 0.5), percentile(p.first_audio, 0.95), p.errors, rss.c_str());
  }
  std::printf(
      "\nserver RSS at start %.0f MB. Latencies count from sending the request: with N clients and one model,\n"
      "a request waits for the turns ahead of it (the server runs one turn at a time).\n",
      rss_start);
  size_t errors = 0;
  for (const Phase& p : phases) {
    errors += p.errors;
    for (const std::string& e : p.error_kinds) std::printf("error in '%s': %s\n", p.name.c_str(), e.c_str());
  }
  return errors ? 1 : 0;
}
