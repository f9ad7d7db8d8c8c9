#include "eval/humdial_scores.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include "affect/trace.h"
#include "tts/talker.h"

namespace attune::eval {
namespace {

// Words beyond the traces' own (affect::trace_emotion_words), for free text.
const std::map<std::string, std::vector<std::string>>& lexicon() {
  static const std::map<std::string, std::vector<std::string>> kWords = {
      {"happy",
       {"happy", "glad", "joy", "joyful", "excited", "delighted", "cheerful", "pleased", "happier", "开心", "高兴",
        "快乐"}},
      {"sad",
       {"sad", "unhappy", "upset", "sorrow", "depressed", "heartbroken", "sadder", "sadness", "难过", "伤心", "悲伤"}},
      {"anger", {"angry", "anger", "mad", "furious", "annoyed", "frustrated", "irritated", "angrier", "生气", "愤怒"}},
      {"fear", {"afraid", "scared", "fear", "frightened", "anxious", "worried", "nervous", "害怕", "担心", "恐惧"}},
      {"neutral", {"calm", "neutral", "calmer", "平静"}},
      {"surprise", {"surprised", "surprise", "shocked", "amazed", "astonished", "惊讶", "吃惊"}},
      {"disgust", {"disgusted", "disgust", "gross", "revolted", "厌恶", "恶心"}}};
  return kWords;
}

bool ascii_letter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

bool has_word(std::string_view text, std::string_view word) {
  const bool ascii = ascii_letter(word[0]);
  for (size_t at = text.find(word); at != std::string_view::npos; at = text.find(word, at + 1)) {
    const size_t end = at + word.size();
    if (!ascii || ((at == 0 || !ascii_letter(text[at - 1])) && (end >= text.size() || !ascii_letter(text[end]))))
      return true;
  }
  return false;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  std::string w;
  for (char c : lower(text)) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '\'' || static_cast<unsigned char>(c) >= 0x80) {
      w += c;
    } else if (!w.empty()) {
      words.push_back(std::move(w));
      w.clear();
    }
  }
  if (!w.empty()) words.push_back(w);
  return words;
}

}  // namespace

std::set<std::string> named_emotions(std::string_view text) {
  const std::string t = lower(text);
  std::set<std::string> named;
  for (const auto& [label, words] : lexicon()) {
    for (const std::string& w : words) {
      if (has_word(t, w)) named.insert(label);
    }
    for (const std::string& w : affect::trace_emotion_words(label)) {
      if (!w.empty() && has_word(t, lower(w))) named.insert(label);
    }
  }
  return named;
}

std::set<int> mentioned_turns(std::string_view text) {
  std::set<int> turns;
  const std::string t = lower(text);
  for (size_t at = t.find("turn"); at != std::string::npos; at = t.find("turn", at + 4)) {
    if (at > 0 && ascii_letter(t[at - 1])) continue;  // "return 5"
    size_t i = at + 4;
    if (i < t.size() && t[i] == 's') ++i;
    while (i < t.size() && t[i] == ' ') ++i;
    if (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) turns.insert(std::atoi(t.c_str() + i));
  }
  for (size_t at = t.find("第"); at != std::string::npos; at = t.find("第", at + 3)) {
    const size_t i = at + 3;
    if (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) {
      size_t j = i;
      while (j < t.size() && std::isdigit(static_cast<unsigned char>(t[j]))) ++j;
      if (t.compare(j, 3, "轮") == 0) turns.insert(std::atoi(t.c_str() + i));
    }
  }
  return turns;
}

SetScore set_score(const std::set<int>& predicted, const std::set<int>& reference) {
  if (predicted.empty() && reference.empty()) return {1, 1, 1};
  size_t hit = 0;
  for (int p : predicted) hit += reference.count(p);
  SetScore s;
  s.precision = predicted.empty() ? 0 : static_cast<double>(hit) / static_cast<double>(predicted.size());
  s.recall = reference.empty() ? 0 : static_cast<double>(hit) / static_cast<double>(reference.size());
  s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0;
  return s;
}

bool same_emotions(const std::set<std::string>& named, const std::set<std::string>& annotated) {
  return !annotated.empty() && named == annotated;
}

size_t word_count(std::string_view text) {
  size_t n = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

double distinct_n(const std::vector<std::string>& texts, int n) {
  std::set<std::vector<std::string>> unique;
  size_t total = 0;
  for (const std::string& text : texts) {
    const std::vector<std::string> w = words_of(text);
    for (size_t i = 0; i + static_cast<size_t>(n) <= w.size(); ++i) {
      unique.insert(std::vector<std::string>(w.begin() + static_cast<std::ptrdiff_t>(i),
                                             w.begin() + static_cast<std::ptrdiff_t>(i) + n));
      ++total;
    }
  }
  return total ? static_cast<double>(unique.size()) / static_cast<double>(total) : 0.0;
}

bool acknowledges_emotion(std::string_view reply) {
  if (!named_emotions(reply).empty()) return true;
  const std::string t = lower(reply);
  for (const char* cue :
       {"sorry", "sounds like", "sounds hard", "must be", "must have", "i understand", "i hear you", "that's great",
        "congratulations", "i'm here", "that's tough", "how awful", "理解", "抱歉", "辛苦", "别担心", "太好了"}) {
    if (t.find(cue) != std::string::npos) return true;
  }
  return false;
}

int graded_turn(const data::Dialogue& d) {
  int seen = 0;
  for (size_t i = 0; i < d.turns.size(); ++i) {
    const data::Turn& t = d.turns[i];
    if (!t.task.empty() || t.emotion.empty() || t.emotion == "neutral") continue;
    if (++seen == 2) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace attune::eval
