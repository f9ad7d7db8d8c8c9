// Small portable randomness for reproducible data: SplitMix64 (Steele, Lea & Flood 2014) and a
// stable string hash (FNV-1a, 64 bit). std:: distributions differ between standard libraries, so
// anything that must give the same result for a seed on every platform draws from these.
#pragma once

#include <cstdint>
#include <string_view>

namespace attune::common {

// Next value of a SplitMix64 stream whose state is `state` (advanced).
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// FNV-1a of the bytes of `text`.
inline uint64_t stable_hash(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// A generator seeded from a seed and a key (e.g. a dialogue id), so each item draws its own stream
// and adding items does not shift the draws of the others.
class SeededRng {
 public:
  explicit SeededRng(uint64_t seed, std::string_view key = {}, uint64_t salt = 0)
      : state_(seed ^ stable_hash(key) ^ (salt * 0xD1B54A32D192ED03ull)) {
    splitmix64(state_);
  }
  uint64_t next() { return splitmix64(state_); }
  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n); n > 0.
  uint64_t below(uint64_t n) { return next() % n; }
  bool chance(double p) { return uniform() < p; }

 private:
  uint64_t state_;
};

}  // namespace attune::common
