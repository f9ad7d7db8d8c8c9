// Scores for emotion recognition over HumDial's seven labels: a confusion matrix, accuracy, per-label
// and macro F1, and unweighted average recall (UAR, the usual speech-emotion figure). Torch-free.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "affect/emotions.h"
#include "tts/talker.h"

namespace attune::eval {

class EmotionScores {
 public:
  // `truth` must be one of the seven labels; `predicted` may also be "" (the model named none,
  // counted as wrong and shown in its own column).
  void add(const std::string& truth, const std::string& predicted);

  int64_t count() const { return total_; }
  double accuracy() const;
  // Mean over the labels that occur in the truth of recall (UAR) and of F1.
  double unweighted_average_recall() const;
  double macro_f1() const;
  double recall(size_t label) const;
  double f1(size_t label) const;
  // rows: truth (kEmotionCount), columns: prediction (the labels, then "none").
  const std::array<std::array<int64_t, affect::kEmotionCount + 1>, affect::kEmotionCount>& confusion() const {
    return confusion_;
  }
  // The confusion matrix and the per-label recall/F1 as a Markdown table.
  std::string markdown() const;

 private:
  std::array<std::array<int64_t, affect::kEmotionCount + 1>, affect::kEmotionCount> confusion_{};
  int64_t total_ = 0;
};

// Index of `label` in affect::emotion_labels() order (happy, sad, anger, fear, neutral, surprise,
// disgust), kEmotionCount for "" or anything else.
size_t label_index(const std::string& label);

}  // namespace attune::eval
