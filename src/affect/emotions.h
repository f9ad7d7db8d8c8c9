// The emotion vocabulary: HumDial's seven labels and the words the thinking traces use for them.
// This is the one home of the label list (docs/design.md, "Shared concepts"); io, data, tts, train,
// runtime, eval and serve all read it from here. Torch-free, on the ground floor beside common.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace attune::affect {

// The number of labels, for fixed-size per-emotion arrays.
inline constexpr size_t kEmotionCount = 7;

// happy, sad, anger, fear, neutral, surprise, disgust. This order is the index of every per-emotion
// array (probabilities, confusion rows, class ids, shard emotion ids).
const std::vector<std::string>& emotion_labels();
// Index in emotion_labels(), or -1.
int emotion_index(std::string_view label);
bool is_emotion_label(std::string_view label);
// "happy, sad, anger, fear, neutral, surprise, disgust", for error messages.
const std::string& joined_emotion_labels();
// Lower-cased, spaces removed, and common forms mapped to a label ("Happiness" -> "happy", "angry" ->
// "anger", "calm" -> "neutral"). Anything else comes back lower-cased, so callers still check it.
std::string canonical_emotion(std::string_view emotion);

// How the thinking traces name an emotion (docs/ieat.md), English or Chinese.
struct EmotionWords {
  std::string_view adjective;  // "sad" / 难过
  std::string_view noun;       // "sadness" / 难过
  std::string_view voice;      // how a voice carrying it sounds: "heavy and quiet" / 低沉、无力
};
// The words of `label`; neutral's for an unknown label.
const EmotionWords& emotion_words(std::string_view label, bool zh);
// The adjective for lang "zh..." (Chinese) or any other language (English); unknown labels come
// back as given.
std::string emotion_word(std::string_view label, std::string_view lang);

}  // namespace attune::affect
