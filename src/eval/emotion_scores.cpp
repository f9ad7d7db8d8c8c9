#include "eval/emotion_scores.h"

#include <fmt/format.h>

#include "affect/emotions.h"
#include "tts/talker.h"

namespace attune::eval {

size_t label_index(const std::string& label) {
  const auto& labels = affect::emotion_labels();
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] == label) return i;
  }
  return affect::kEmotionCount;
}

void EmotionScores::add(const std::string& truth, const std::string& predicted) {
  const size_t t = label_index(truth);
  if (t >= affect::kEmotionCount) return;
  confusion_[t][label_index(predicted)] += 1;
  ++total_;
}

double EmotionScores::accuracy() const {
  int64_t right = 0;
  for (size_t i = 0; i < affect::kEmotionCount; ++i) right += confusion_[i][i];
  return total_ ? static_cast<double>(right) / static_cast<double>(total_) : 0.0;
}

double EmotionScores::recall(size_t label) const {
  int64_t row = 0;
  for (int64_t v : confusion_[label]) row += v;
  return row ? static_cast<double>(confusion_[label][label]) / static_cast<double>(row) : 0.0;
}

double EmotionScores::f1(size_t label) const {
  int64_t predicted = 0, row = 0;
  for (size_t i = 0; i < affect::kEmotionCount; ++i) predicted += confusion_[i][label];
  for (int64_t v : confusion_[label]) row += v;
  const double tp = static_cast<double>(confusion_[label][label]);
  return predicted + row ? 2 * tp / static_cast<double>(predicted + row) : 0.0;
}

namespace {
template <typename F>
double mean_over_present(const std::array<std::array<int64_t, affect::kEmotionCount + 1>, affect::kEmotionCount>& c,
                         F&& value) {
  double sum = 0;
  int n = 0;
  for (size_t i = 0; i < affect::kEmotionCount; ++i) {
    int64_t row = 0;
    for (int64_t v : c[i]) row += v;
    if (row == 0) continue;
    sum += value(i);
    ++n;
  }
  return n ? sum / n : 0.0;
}
}  // namespace

double EmotionScores::unweighted_average_recall() const {
  return mean_over_present(confusion_, [&](size_t i) { return recall(i); });
}
double EmotionScores::macro_f1() const {
  return mean_over_present(confusion_, [&](size_t i) { return f1(i); });
}

std::string EmotionScores::markdown() const {
  const auto& labels = affect::emotion_labels();
  std::string out = "| truth \\ heard |";
  for (const auto& l : labels) out += " " + l + " |";
  out += " none | recall | F1 |\n|---|";
  for (size_t i = 0; i < 10; ++i) out += "---:|";
  out += "\n";
  for (size_t i = 0; i < affect::kEmotionCount; ++i) {
    int64_t row = 0;
    for (int64_t v : confusion_[i]) row += v;
    if (row == 0) continue;
    out += "| " + labels[i] + " |";
    for (int64_t v : confusion_[i]) out += fmt::format(" {} |", v);
    out += fmt::format(" {:.2f} | {:.2f} |\n", recall(i), f1(i));
  }
  return out;
}

}  // namespace attune::eval
