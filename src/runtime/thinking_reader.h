// Reads what the model said about the user in its thinking block (docs/ieat.md, "The trace"): the
// heard emotion and intensity of its first sentence ("I hear someone fairly sad (0.6).") and its
// trajectory sentence ("So far: calm -> sad; it shifted to sad at turn 3."). Torch-free.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace attune::runtime {

struct ThinkingEmotion {
  std::string label;                       // one of the seven labels; "" when the thinking names none
  double intensity = 0;                    // the "(0.6)" after it; emotion default when there is none
  size_t word_offset = std::string::npos;  // byte offset of the emotion word in the thinking
  std::string word;                        // the word as written ("sad", "难过")
};

// The emotion the thinking's opening names: the last emotion word (English or Chinese trace
// vocabulary) before the first parenthesised intensity, or the first emotion word of the first
// sentence when there is no intensity.
ThinkingEmotion read_heard_emotion(std::string_view thinking);

// The sentence that describes the trajectory (it has "->" or "→"), trimmed; "" when none.
std::string read_trajectory_sentence(std::string_view thinking);

// The emotion words the traces use for `label` (English and Chinese), for scoring the model's
// next-token probabilities.
const std::vector<std::string>& emotion_words(std::string_view label);

}  // namespace attune::runtime
