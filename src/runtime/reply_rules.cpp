#include "runtime/reply_rules.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/softmax.h"
#include "model/sampling.h"
#include "tts/sentences.h"

namespace attune::runtime {

void ban_tokens(std::span<float> logits, const std::unordered_set<int32_t>& ids) {
  for (int32_t id : ids) {
    if (id >= 0 && static_cast<size_t>(id) < logits.size()) {
      logits[static_cast<size_t>(id)] = -std::numeric_limits<float>::infinity();
    }
  }
}

void constrain_reply(std::span<float> logits, std::span<const int32_t> reply_ids, const ReplyRules& rules,
                     const std::unordered_set<int32_t>& stop_ids) {
  if (static_cast<int64_t>(reply_ids.size()) < rules.min_tokens) ban_tokens(logits, stop_ids);
  model::apply_repetition_penalty(logits, reply_ids, rules.repetition_penalty);
  model::apply_no_repeat_ngram(logits, reply_ids, rules.no_repeat_ngram);
}

namespace {

// log-softmax of `row` into `out` (-inf stays -inf).
void log_softmax(std::span<const float> row, std::vector<double>& out) {
  const float top = row.empty() ? 0.0f : *std::max_element(row.begin(), row.end());
  thread_local std::vector<float> e;
  e.resize(row.size());
  const double norm = top + std::log(kernels::exp_shifted(row.data(), static_cast<int64_t>(row.size()), top, e.data()));
  out.resize(row.size());
  for (size_t i = 0; i < row.size(); ++i) out[i] = static_cast<double>(row[i]) - norm;
}

}  // namespace

void guide_logits(std::span<float> logits, std::span<const float> unguided, double weight) {
  if (weight == 0 || logits.size() != unguided.size()) return;
  std::vector<double> l, u;
  log_softmax(logits, l);
  log_softmax(unguided, u);
  const double floor = std::log(1e-9);
  for (size_t i = 0; i < logits.size(); ++i) {
    if (std::isinf(l[i])) continue;
    logits[i] = static_cast<float>(l[i] + weight * (l[i] - std::max(u[i], floor)));
  }
}

namespace {

// The piece ends like a sentence: . ! ? (ASCII or full-width), 。 or …, before closing quotes or brackets.
bool ends_a_sentence(std::string_view s) {
  while (!s.empty() && (s.back() == '"' || s.back() == '\'' || s.back() == ')' || s.back() == ' ')) s.remove_suffix(1);
  for (std::string_view end : {".", "!", "?", "\xE3\x80\x82", "\xEF\xBC\x81", "\xEF\xBC\x9F", "\xE2\x80\xA6"}) {
    if (s.size() >= end.size() && s.substr(s.size() - end.size()) == end) return true;
  }
  return false;
}

}  // namespace

std::string end_at_sentence(std::string_view text) {
  const std::vector<std::string> sentences = tts::split_sentences(text);
  if (sentences.size() < 2 || ends_a_sentence(sentences.back())) return std::string(text);
  // Cut where the last sentence starts in `text`: after the end of the one before it.
  const std::string& before = sentences[sentences.size() - 2];
  const size_t at = text.rfind(before);
  if (at == std::string_view::npos) return std::string(text);
  return std::string(text.substr(0, at + before.size()));
}

}  // namespace attune::runtime
