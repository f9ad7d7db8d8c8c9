#include "eval/cause_score.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "data/ieat.h"

namespace attune::eval {
namespace {

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (std::isalnum(c) || c == '\'') {
        word += static_cast<char>(std::tolower(c));
      } else if (!word.empty()) {
        out.push_back(std::move(word));
        word.clear();
      }
      ++i;
      continue;
    }
    if (!word.empty()) {
      out.push_back(std::move(word));
      word.clear();
    }
    const size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    const std::string_view ch = text.substr(i, len);
    // CJK punctuation (U+3000-U+303F) and full-width forms' punctuation are not words.
    const bool punct = ch.rfind("\xE3\x80", 0) == 0 || ch.rfind("\xEF\xBC", 0) == 0 || ch == "“" || ch == "”";
    if (!punct) out.emplace_back(ch);
    i += len;
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

}  // namespace

std::vector<std::string> quoted_spans(std::string_view text) {
  std::vector<std::string> out;
  for (size_t at = text.find("“"); at != std::string_view::npos; at = text.find("“", at + 1)) {
    const size_t end = text.find("”", at);
    if (end == std::string_view::npos) break;
    out.emplace_back(text.substr(at + 3, end - at - 3));
  }
  for (std::string& quote : data::trace_quotes(text)) out.push_back(std::move(quote));
  return out;
}

double word_f1(std::string_view a, std::string_view b) {
  const std::vector<std::string> wa = words_of(a), wb = words_of(b);
  if (wa.empty() || wb.empty()) return 0;
  std::map<std::string, int> counts;
  for (const auto& w : wb) counts[w] += 1;
  int common = 0;
  for (const auto& w : wa) {
    auto it = counts.find(w);
    if (it != counts.end() && it->second > 0) {
      --it->second;
      ++common;
    }
  }
  if (common == 0) return 0;
  const double p = static_cast<double>(common) / static_cast<double>(wa.size());
  const double r = static_cast<double>(common) / static_cast<double>(wb.size());
  return 2 * p * r / (p + r);
}

double cause_f1(std::string_view thinking, const std::vector<std::string>& references) {
  double best = 0;
  for (const std::string& span : quoted_spans(thinking)) {
    for (const std::string& ref : references) best = std::max(best, word_f1(span, ref));
  }
  return best;
}

}  // namespace attune::eval
