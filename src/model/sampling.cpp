#include "model/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <unordered_set>

#include "attune/error.h"
#include "kernels/softmax.h"

namespace attune::model {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

std::string fmt_number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
}  // namespace

void SamplingOptions::validate() const {
  if (!(repetition_penalty > 0) || !std::isfinite(repetition_penalty)) {
    throw ConfigError("sampling: repetition_penalty must be a positive number, got " + fmt_number(repetition_penalty));
  }
  if (greedy) return;
  if (!(temperature > 0) || !std::isfinite(temperature)) {
    throw ConfigError("sampling: temperature must be > 0, got " + fmt_number(temperature) +
                      " (use greedy decoding for temperature 0)");
  }
  if (top_k < 0) throw ConfigError("sampling: top_k must be >= 0, got " + std::to_string(top_k));
  if (!(top_p > 0 && top_p <= 1)) throw ConfigError("sampling: top_p must be in (0, 1], got " + fmt_number(top_p));
  if (!(min_tokens_to_keep >= 1)) {
    throw ConfigError("sampling: min_tokens_to_keep must be >= 1, got " + fmt_number(min_tokens_to_keep));
  }
}

std::string SamplingOptions::describe() const {
  std::string s = greedy ? "greedy" : "temperature " + fmt_number(temperature);
  if (!greedy) {
    if (top_k > 0) s += ", top-k " + std::to_string(top_k);
    if (top_p < 1) s += ", top-p " + fmt_number(top_p);
  }
  if (repetition_penalty != 1.0) s += ", repetition penalty " + fmt_number(repetition_penalty);
  if (!greedy) s += ", seed " + std::to_string(seed);
  return s;
}

void apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> history, double penalty) {
  if (penalty == 1.0) return;
  std::unordered_set<int32_t> seen;
  for (int32_t id : history) {
    if (id < 0 || static_cast<size_t>(id) >= logits.size() || !seen.insert(id).second) continue;
    float& x = logits[id];
    x = x < 0 ? static_cast<float>(x * penalty) : static_cast<float>(x / penalty);
  }
}

void apply_no_repeat_ngram(std::span<float> logits, std::span<const int32_t> history, int64_t n) {
  const size_t len = history.size(), k = static_cast<size_t>(std::max<int64_t>(n, 0));
  if (k == 0 || len + 1 < k) return;
  const std::span<const int32_t> prefix = history.subspan(len - (k - 1));  // the n-gram's first n - 1 ids
  for (size_t start = 0; start + k <= len; ++start) {
    if (!std::equal(prefix.begin(), prefix.end(), history.begin() + static_cast<std::ptrdiff_t>(start))) continue;
    const int32_t banned = history[start + k - 1];
    if (banned >= 0 && static_cast<size_t>(banned) < logits.size()) {
      logits[static_cast<size_t>(banned)] = -std::numeric_limits<float>::infinity();
    }
  }
}

void apply_temperature(std::span<float> logits, double temperature) {
  if (temperature == 1.0) return;
  for (float& x : logits) x = static_cast<float>(x / temperature);
}

void apply_top_k(std::span<float> logits, int64_t k) {
  if (k <= 0 || static_cast<size_t>(k) >= logits.size()) return;
  std::vector<float> copy(logits.begin(), logits.end());
  std::nth_element(copy.begin(), copy.begin() + (k - 1), copy.end(), std::greater<float>());
  const float kth = copy[k - 1];
  for (float& x : logits) {
    if (x < kth) x = kNegInf;
  }
}

void apply_top_p(std::span<float> logits, double top_p, int64_t min_keep) {
  if (top_p >= 1.0) return;
  const size_t n = logits.size();
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Ascending, as HF sorts; stable so that ties keep index order.
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] < logits[b]; });
  std::vector<double> probs = softmax(logits);
  double cumulative = 0;
  const size_t keep_from = n > static_cast<size_t>(min_keep) ? n - static_cast<size_t>(min_keep) : 0;
  std::vector<int32_t> remove;
  for (size_t i = 0; i < n; ++i) {
    cumulative += probs[order[i]];
    if (i < keep_from && cumulative <= 1.0 - top_p) remove.push_back(order[i]);
  }
  for (int32_t id : remove) logits[id] = kNegInf;
}

std::vector<double> softmax(std::span<const float> logits) {
  std::vector<double> p(logits.size(), 0.0);
  if (logits.empty()) return p;
  const float max = *std::max_element(logits.begin(), logits.end());
  if (max == kNegInf) return p;
  thread_local std::vector<float> e;
  e.resize(logits.size());
  const double sum = kernels::exp_shifted(logits.data(), static_cast<int64_t>(logits.size()), max, e.data());
  for (size_t i = 0; i < logits.size(); ++i) p[i] = e[i] / sum;
  return p;
}

int32_t argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = static_cast<int32_t>(i);
  }
  return best;
}

Sampler::Sampler(SamplingOptions options) : options_(options), engine_(options.seed) { options_.validate(); }

void Sampler::reseed(uint64_t seed) {
  options_.seed = seed;
  engine_.seed(seed);
}

double Sampler::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history) {
  if (logits.empty()) throw InputError("sampling: empty logits");
  for (float x : logits) {
    if (std::isnan(x)) throw InputError("sampling: the logits contain NaN (numerical overflow in the model?)");
  }
  apply_repetition_penalty(logits, history, options_.repetition_penalty);
  if (options_.greedy) return argmax(logits);
  apply_temperature(logits, options_.temperature);
  const auto min_keep = static_cast<int64_t>(options_.min_tokens_to_keep);
  if (options_.top_k > 0) apply_top_k(logits, std::max(options_.top_k, min_keep));
  apply_top_p(logits, options_.top_p, min_keep);
  std::vector<double> probs = softmax(logits);
  double u = uniform();
  int32_t last_nonzero = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] <= 0) continue;
    last_nonzero = static_cast<int32_t>(i);
    if (u < probs[i]) return static_cast<int32_t>(i);
    u -= probs[i];
  }
  return last_nonzero;  // rounding left u just above the total
}

}  // namespace attune::model
