// The thinking-trace format (docs/ieat.md, "The trace"), written by data/ieat and read back by the
// trainer, the runtime and eval: the machine-readable style line that ends every trace, and what the
// model said about the user: the heard emotion and intensity of its first sentence ("I hear someone
// fairly sad (0.6).") and its trajectory sentence ("So far: calm -> sad; it shifted to sad at turn 3.").
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "affect/speech_style.h"

namespace attune::affect {

// "style: sad 0.30" (the intensity clamped to [0, 1]; an unknown emotion throws ConfigError).
std::string style_line(const ResponseStyle& style);
// The style of a thinking block: its last non-blank line must be exactly "style: <label> <d.dd>"
// with a label of emotion_labels() and a value in [0, 1] (trailing spaces and "\r" ignored).
// Anything else (no such line, a line that is not last, an unknown label, another number format,
// extra words) gives std::nullopt.
std::optional<ResponseStyle> parse_style_line(std::string_view thinking);

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
const std::vector<std::string>& trace_emotion_words(std::string_view label);

}  // namespace attune::affect
