#include "affect/emotions.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace attune::affect {
namespace {

struct LabelWords {
  const char* label;
  EmotionWords en, zh;
};

// The labels in their index order, each with its trace vocabulary.
constexpr std::array<LabelWords, kEmotionCount> kVocabulary = {{
    {"happy", {"happy", "joy", "bright and lively"}, {"开心", "快乐", "明亮、轻快"}},
    {"sad", {"sad", "sadness", "heavy and quiet"}, {"难过", "难过", "低沉、无力"}},
    {"anger", {"angry", "anger", "tense and sharp"}, {"生气", "怒气", "紧绷、尖锐"}},
    {"fear", {"afraid", "fear", "tight and shaky"}, {"害怕", "恐惧", "发紧、发颤"}},
    {"neutral", {"calm", "calm", "even"}, {"平静", "平静", "平稳"}},
    {"surprise", {"surprised", "surprise", "lifted and animated"}, {"惊讶", "惊讶", "上扬、激动"}},
    {"disgust", {"disgusted", "disgust", "flat and clipped"}, {"厌恶", "反感", "冷淡、生硬"}},
}};

}  // namespace

const std::vector<std::string>& emotion_labels() {
  static const std::vector<std::string> kLabels = [] {
    std::vector<std::string> labels;
    for (const LabelWords& entry : kVocabulary) labels.emplace_back(entry.label);
    return labels;
  }();
  return kLabels;
}

int emotion_index(std::string_view label) {
  const auto& labels = emotion_labels();
  const auto it = std::find(labels.begin(), labels.end(), label);
  return it == labels.end() ? -1 : static_cast<int>(it - labels.begin());
}

bool is_emotion_label(std::string_view label) { return emotion_index(label) >= 0; }

const std::string& joined_emotion_labels() {
  static const std::string kJoined = [] {
    std::string s;
    for (const auto& l : emotion_labels()) s += (s.empty() ? "" : ", ") + l;
    return s;
  }();
  return kJoined;
}

std::string canonical_emotion(std::string_view emotion) {
  std::string e;
  for (char c : emotion) {
    if (!std::isspace(static_cast<unsigned char>(c)))
      e += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  static const std::pair<const char*, const char*> kAliases[] = {
      {"happiness", "happy"},    {"joy", "happy"},         {"joyful", "happy"}, {"sadness", "sad"},
      {"angry", "anger"},        {"fearful", "fear"},      {"afraid", "fear"},  {"scared", "fear"},
      {"surprised", "surprise"}, {"disgusted", "disgust"}, {"calm", "neutral"},
  };
  for (const auto& [alias, label] : kAliases) {
    if (e == alias) return label;
  }
  return e;
}

const EmotionWords& emotion_words(std::string_view label, bool zh) {
  const int i = emotion_index(label);
  const LabelWords& entry = kVocabulary[static_cast<size_t>(i < 0 ? emotion_index("neutral") : i)];
  return zh ? entry.zh : entry.en;
}

std::string emotion_word(std::string_view label, std::string_view lang) {
  if (!is_emotion_label(label)) return std::string(label);
  return std::string(emotion_words(label, lang.substr(0, 2) == "zh").adjective);
}

}  // namespace attune::affect
