// The server's counters, rendered as Prometheus text (GET /metrics): requests by route and status,
// latency histograms (request, first token, first audio), tokens, audio seconds in and out, sessions,
// queue, and the process's resident memory.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace attune::serve {

class Histogram {
 public:
  static constexpr std::array<double, 12> kBounds = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160};
  void observe(double seconds);
  std::string render(const std::string& name, const std::string& help) const;

 private:
  std::array<uint64_t, kBounds.size()> counts_{};
  uint64_t count_ = 0;
  double sum_ = 0;
};

class Metrics {
 public:
  void count_request(const std::string& route, int status, double seconds);
  // One finished turn.
  void count_turn(double first_token, double first_audio, int64_t prompt_tokens, int64_t generated_tokens,
                  double audio_in_seconds, double audio_out_seconds);
  std::string render(size_t active_sessions, size_t waiting, bool busy) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  Histogram request_seconds_, first_token_seconds_, first_audio_seconds_;
  uint64_t turns_ = 0, prompt_tokens_ = 0, generated_tokens_ = 0;
  double audio_in_ = 0, audio_out_ = 0;
};

// Resident set size of this process in bytes (0 where /proc is missing).
uint64_t resident_memory_bytes();

}  // namespace attune::serve
