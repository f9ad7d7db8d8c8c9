#include "serve/metrics.h"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>

namespace attune::serve {

void Histogram::observe(double seconds) {
  for (size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) counts_[i] += 1;
  }
  count_ += 1;
  sum_ += seconds;
}

std::string Histogram::render(const std::string& name, const std::string& help) const {
  std::string out = fmt::format("# HELP {0} {1}\n# TYPE {0} histogram\n", name, help);
  for (size_t i = 0; i < kBounds.size(); ++i)
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBounds[i], counts_[i]);
  out += fmt::format("{0}_bucket{{le=\"+Inf\"}} {1}\n{0}_sum {2}\n{0}_count {1}\n", name, count_, sum_);
  return out;
}

void Metrics::count_request(const std::string& route, int status, double seconds) {
  std::lock_guard lock(mutex_);
  requests_[{route, status}] += 1;
  request_seconds_.observe(seconds);
}

void Metrics::count_turn(double first_token, double first_audio, int64_t prompt_tokens, int64_t generated_tokens,
                         double audio_in_seconds, double audio_out_seconds) {
  std::lock_guard lock(mutex_);
  turns_ += 1;
  first_token_seconds_.observe(first_token);
  if (first_audio > 0) first_audio_seconds_.observe(first_audio);
  prompt_tokens_ += static_cast<uint64_t>(prompt_tokens);
  generated_tokens_ += static_cast<uint64_t>(generated_tokens);
  audio_in_ += audio_in_seconds;
  audio_out_ += audio_out_seconds;
}

std::string Metrics::render(size_t active_sessions, size_t waiting, bool busy) const {
  std::lock_guard lock(mutex_);
  std::string out =
      "# HELP attune_requests_total HTTP requests by route and status.\n# TYPE attune_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    out += fmt::format("attune_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, n);
  out +=
      request_seconds_.render("attune_request_duration_seconds", "Time from request to the last byte of the response.");
  out += first_token_seconds_.render("attune_first_token_seconds",
                                     "End of the user's audio to the first generated token.");
  out += first_audio_seconds_.render("attune_first_audio_seconds", "End of the user's audio to the first reply audio.");
  auto counter = [&](const char* name, const char* help, auto value) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, value);
  };
  auto gauge = [&](const char* name, const char* help, auto value) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, help, value);
  };
  counter("attune_turns_total", "Dialogue turns answered.", turns_);
  counter("attune_prompt_tokens_total", "Tokens read (turn prompts, audio slots included).", prompt_tokens_);
  counter("attune_generated_tokens_total", "Tokens generated (thinking and reply).", generated_tokens_);
  counter("attune_audio_input_seconds_total", "Seconds of user audio heard.", audio_in_);
  counter("attune_audio_output_seconds_total", "Seconds of reply audio spoken.", audio_out_);
  gauge("attune_active_sessions", "Server-side sessions held.", active_sessions);
  gauge("attune_queue_waiting", "Requests waiting for the model.", waiting);
  gauge("attune_model_busy", "1 while a turn runs.", busy ? 1 : 0);
  gauge("process_resident_memory_bytes", "Resident memory of the server process.", resident_memory_bytes());
  return out;
}

uint64_t resident_memory_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace attune::serve
