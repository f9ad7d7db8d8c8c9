#include "affect/trace.h"

#include <fmt/format.h>

#include <algorithm>

#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "affect/emotions.h"
#include "attune/error.h"

namespace attune::affect {
namespace {

struct Found {
  size_t offset = std::string::npos;
  size_t length = 0;
  std::string label;
};

bool is_ascii_letter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// Every emotion word at or after `from`, the earliest first; English words must stand alone.
Found find_emotion_word(std::string_view text, size_t from, size_t until) {
  Found best;
  for (const std::string& label : emotion_labels()) {
    for (const std::string& word : trace_emotion_words(label)) {
      const bool ascii = is_ascii_letter(word[0]);
      for (size_t at = text.find(word, from); at != std::string_view::npos && at < until;
           at = text.find(word, at + 1)) {
        const bool starts = at == 0 || !ascii || !is_ascii_letter(text[at - 1]);
        const size_t end = at + word.size();
        const bool ends = end >= text.size() || !ascii || !is_ascii_letter(text[end]);
        if (starts && ends) {
          if (at < best.offset) best = {at, word.size(), label};
          break;
        }
      }
    }
  }
  return best;
}

// The first "(0.6)" / "（0.6）": its offset and value.
std::pair<size_t, double> find_intensity(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    size_t open = 0;
    if (text[i] == '(') open = 1;
    if (text.compare(i, 3, "（") == 0) open = 3;
    if (!open) continue;
    size_t j = i + open;
    const size_t digits_from = j;
    while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.')) ++j;
    if (j == digits_from) continue;
    if (text[j] == ')' || text.compare(j, 3, "）") == 0) {
      const double v = std::strtod(std::string(text.substr(digits_from, j - digits_from)).c_str(), nullptr);
      if (v >= 0 && v <= 1) return {i, v};
    }
  }
  return {std::string_view::npos, 0};
}

size_t first_sentence_end(std::string_view text) {
  size_t end = text.size();
  for (std::string_view stop : {". ", ".\n", "。", "! ", "? "}) end = std::min(end, text.find(stop));
  return end;
}

}  // namespace

const std::vector<std::string>& trace_emotion_words(std::string_view label) {
  static const auto kWords = [] {
    std::array<std::vector<std::string>, kEmotionCount> words;
    const auto& labels = emotion_labels();
    for (size_t i = 0; i < labels.size(); ++i) {
      words[i] = {emotion_word(labels[i], "en"), emotion_word(labels[i], "zh")};
    }
    return words;
  }();
  static const std::vector<std::string> kNone;
  const auto& labels = emotion_labels();
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] == label) return kWords[i];
  }
  return kNone;
}

ThinkingEmotion read_heard_emotion(std::string_view thinking) {
  ThinkingEmotion out;
  const auto [paren, value] = find_intensity(thinking);
  Found found;
  if (paren != std::string_view::npos) {
    // The last emotion word before the intensity.
    for (Found f = find_emotion_word(thinking, 0, paren); f.offset != std::string::npos;
         f = find_emotion_word(thinking, f.offset + f.length, paren)) {
      found = f;
    }
  }
  if (found.offset == std::string::npos) found = find_emotion_word(thinking, 0, first_sentence_end(thinking));
  if (found.offset == std::string::npos) return out;
  out.label = found.label;
  out.word_offset = found.offset;
  out.word = std::string(thinking.substr(found.offset, found.length));
  const bool has_value = paren != std::string_view::npos && paren > found.offset;
  out.intensity = has_value ? value : (found.label == "neutral" ? 0.2 : 0.6);  // docs/ieat.md's defaults
  return out;
}

std::string read_trajectory_sentence(std::string_view thinking) {
  size_t arrow = thinking.find("->");
  if (arrow == std::string_view::npos) arrow = thinking.find("→");
  if (arrow == std::string_view::npos) return "";
  size_t begin = 0;
  for (std::string_view stop : {". ", "。", "! ", "? ", "\n"}) {
    const size_t p = thinking.rfind(stop, arrow);
    if (p != std::string_view::npos) begin = std::max(begin, p + stop.size());
  }
  size_t end = thinking.size();
  for (std::string_view stop : {". ", "。", "\n"}) {
    const size_t p = thinking.find(stop, arrow);
    if (p != std::string_view::npos) end = std::min(end, p + (stop == "\n" ? 0 : stop.size()));
  }
  std::string s(thinking.substr(begin, end - begin));
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

std::string style_line(const ResponseStyle& style) {
  if (!is_emotion_label(style.emotion)) {
    throw ConfigError(fmt::format("response style: emotion '{}' is not one of the seven labels", style.emotion));
  }
  if (!std::isfinite(style.intensity)) throw ConfigError("response style: intensity is not a number");
  return fmt::format("style: {} {:.2f}", style.emotion, std::clamp(style.intensity, 0.0, 1.0));
}

std::optional<ResponseStyle> parse_style_line(std::string_view thinking) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!thinking.empty() && blank(thinking.back())) thinking.remove_suffix(1);
  const size_t newline = thinking.rfind('\n');
  std::string_view line = newline == std::string_view::npos ? thinking : thinking.substr(newline + 1);
  constexpr std::string_view kPrefix = "style: ";
  if (line.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  line.remove_prefix(kPrefix.size());
  const size_t space = line.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view label = line.substr(0, space), value = line.substr(space + 1);
  if (!is_emotion_label(label)) return std::nullopt;
  // Exactly d.dd: the runtime reads what the builder writes, nothing looser.
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (value.size() != 4 || !digit(value[0]) || value[1] != '.' || !digit(value[2]) || !digit(value[3])) {
    return std::nullopt;
  }
  const double x = (value[0] - '0') + (value[2] - '0') / 10.0 + (value[3] - '0') / 100.0;
  if (x > 1.0) return std::nullopt;
  return ResponseStyle{std::string(label), x};
}

}  // namespace attune::affect
