#include "text/ctc_beam.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "attune/error.h"

namespace attune::text {
namespace {

constexpr double kNone = -std::numeric_limits<double>::infinity();

double log_add(double a, double b) {
  if (a == kNone) return b;
  if (b == kNone) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::fabs(a - b)));
}

struct Prefix {
  std::vector<int32_t> classes;         // 1-based alphabet classes
  double blank = kNone, other = kNone;  // log p(prefix, path ends in a blank / in its last class)
  double lm = 0;                        // weight * ln p_lm of its characters + bonus per character
  double total() const { return log_add(blank, other); }
};

std::string key_of(const std::vector<int32_t>& classes) {
  return std::string(reinterpret_cast<const char*>(classes.data()), classes.size() * sizeof(int32_t));
}

}  // namespace

std::string ctc_beam_decode(std::span<const float> log_probs, int64_t frames, const std::vector<std::string>& alphabet,
                            const CharLm* lm, const CtcBeamOptions& options) {
  const int64_t V = static_cast<int64_t>(alphabet.size()) + 1;
  if (frames < 0 || static_cast<int64_t>(log_probs.size()) != frames * V) {
    throw InputError("CTC beam search: expected " + std::to_string(frames) + " x " + std::to_string(V) +
                     " log probabilities, got " + std::to_string(log_probs.size()));
  }
  if (options.beam < 1) throw ConfigError("CTC beam search: the beam must be at least 1");
  const double ln10 = std::log(10.0);
  // The LM's view of a prefix: "<s>" and its characters.
  auto lm_context = [&](const std::vector<int32_t>& classes) {
    std::vector<std::string> context = {"<s>"};
    const size_t keep = std::min(classes.size(), static_cast<size_t>(std::max(0, lm->order() - 1)));
    for (size_t i = classes.size() - keep; i < classes.size(); ++i)
      context.push_back(alphabet[static_cast<size_t>(classes[i] - 1)]);
    if (keep < classes.size()) context.erase(context.begin());  // <s> is out of reach
    return context;
  };
  auto is_space = [&](int32_t c) { return alphabet[static_cast<size_t>(c - 1)] == " "; };

  std::vector<Prefix> beam(1);
  beam[0].blank = 0;
  std::unordered_map<std::string, size_t> index;
  std::vector<Prefix> next;
  std::vector<int32_t> candidates;
  for (int64_t t = 0; t < frames; ++t) {
    const float* row = log_probs.data() + t * V;
    candidates.clear();
    for (int32_t c = 1; c < V; ++c) {
      if (row[c] >= options.prune_below) candidates.push_back(c);
    }
    next.clear();
    index.clear();
    auto slot = [&](const std::vector<int32_t>& classes, double lm_score) -> Prefix& {
      const auto [it, fresh] = index.emplace(key_of(classes), next.size());
      if (fresh) {
        next.push_back(Prefix{classes, kNone, kNone, lm_score});
      }
      return next[it->second];
    };
    for (const Prefix& p : beam) {
      // The same prefix: a blank, or its last class repeated.
      Prefix& same = slot(p.classes, p.lm);
      same.blank = log_add(same.blank, p.total() + row[0]);
      if (!p.classes.empty()) same.other = log_add(same.other, p.other + row[p.classes.back()]);
      // A longer prefix.
      const std::vector<std::string> context = lm != nullptr ? lm_context(p.classes) : std::vector<std::string>{};
      for (int32_t c : candidates) {
        const bool space = is_space(c);
        if (space && (p.classes.empty() || is_space(p.classes.back()))) continue;
        double lm_score = p.lm;
        if (lm != nullptr) {
          lm_score += options.lm_weight * ln10 * lm->log10_prob(context, alphabet[static_cast<size_t>(c - 1)]) +
                      options.char_bonus;
        }
        std::vector<int32_t> longer = p.classes;
        longer.push_back(c);
        Prefix& grown = slot(longer, lm_score);
        // After the same class, only a path through a blank starts a new character.
        const double from = !p.classes.empty() && p.classes.back() == c ? p.blank : p.total();
        grown.other = log_add(grown.other, from + row[c]);
      }
    }
    const size_t keep = std::min(next.size(), static_cast<size_t>(options.beam));
    std::partial_sort(next.begin(), next.begin() + static_cast<std::ptrdiff_t>(keep), next.end(),
                      [](const Prefix& a, const Prefix& b) { return a.total() + a.lm > b.total() + b.lm; });
    next.resize(keep);
    beam.swap(next);
  }
  // The end of the sentence: the LM's </s> (after a trailing space is dropped).
  const Prefix* best = nullptr;
  double best_score = kNone;
  for (Prefix& p : beam) {
    while (!p.classes.empty() && is_space(p.classes.back())) p.classes.pop_back();
    double score = p.total() + p.lm;
    if (lm != nullptr) score += options.lm_weight * ln10 * lm->log10_prob(lm_context(p.classes), "</s>");
    if (best == nullptr || score > best_score) best = &p, best_score = score;
  }
  std::string out;
  if (best != nullptr) {
    for (int32_t c : best->classes) out += alphabet[static_cast<size_t>(c - 1)];
  }
  return out;
}

}  // namespace attune::text
