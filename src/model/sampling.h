// Next-token selection from one row of logits, torch-free: greedy, temperature, top-k, top-p and
// repetition penalty, applied in Hugging Face's order (repetition penalty, then temperature, top-k,
// top-p), with its own random engine so that a fixed seed gives the same tokens on every run and
// machine (std::mt19937_64 and a hand-written uniform draw, no std:: distributions whose output is
// implementation-defined).
//
//   model::SamplingOptions opts{.greedy = false, .temperature = 0.7, .top_p = 0.9, .seed = 42};
//   model::Sampler sampler(opts);
//   int32_t id = sampler.sample(logits_row, history);   // history: prompt + generated ids so far
//
// Repetition penalty (CTRL / HF semantics): for every id already in `history`, a positive logit is
// divided by the penalty and a negative one multiplied by it.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace attune::model {

struct SamplingOptions {
  bool greedy = true;               // argmax (after the repetition penalty); the other knobs are ignored
  double temperature = 1.0;         // > 0; logits are divided by it
  int64_t top_k = 0;                // keep the k most likely tokens; 0: all
  double top_p = 1.0;               // keep the smallest set whose probability reaches p; 1: all
  double min_tokens_to_keep = 1;    // top-p never keeps fewer than this
  double repetition_penalty = 1.0;  // 1: off; > 1 discourages repeats
  uint64_t seed = 0;                // the same seed gives the same tokens

  // ConfigError naming the option and the bad value.
  void validate() const;
  // One line, e.g. "greedy" or "temperature 0.7, top-k 50, top-p 0.9, repetition penalty 1.1, seed 42".
  std::string describe() const;
};

// The processing steps on their own (in place), for tests and other decoders.
void apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> history, double penalty);
// Hugging Face's no_repeat_ngram_size: every token that would complete an n-gram already present in
// `history` (whose last n - 1 ids are the prefix) gets -infinity. n <= 0: off.
void apply_no_repeat_ngram(std::span<float> logits, std::span<const int32_t> history, int64_t n);
void apply_temperature(std::span<float> logits, double temperature);
// Sets all but the k largest logits to -infinity (ties at the k-th value are kept, as HF does).
void apply_top_k(std::span<float> logits, int64_t k);
// Nucleus filtering, HF's rule: sort ascending by logit, and set to -infinity every token whose
// cumulative probability (from the least likely up) is <= 1 - top_p; the min_keep most likely stay.
void apply_top_p(std::span<float> logits, double top_p, int64_t min_keep = 1);
// Softmax in double precision (stable); -infinity -> 0.
std::vector<double> softmax(std::span<const float> logits);
// Index of the largest value (the first on ties).
int32_t argmax(std::span<const float> logits);

class Sampler {
 public:
  explicit Sampler(SamplingOptions options = {});
  // Picks the next id from `logits` (one row, vocab entries; modified in place by the processors).
  int32_t sample(std::span<float> logits, std::span<const int32_t> history);
  // Restarts the random stream (same seed: the same draws again).
  void reseed(uint64_t seed);
  const SamplingOptions& options() const { return options_; }

 private:
  double uniform();  // in [0, 1), 53 random bits
  SamplingOptions options_;
  std::mt19937_64 engine_;
};

}  // namespace attune::model
