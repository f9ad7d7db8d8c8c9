#include "text/transcript.h"

#include <algorithm>
#include <map>

#include "text/unicode.h"

namespace attune::text {

std::vector<std::string> ctc_characters(std::string_view text) {
  std::vector<std::string> out;
  bool pending_space = false;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    const unicode::Utf8Step step = unicode::next_utf8(s + i, text.size() - i);
    i += std::max<size_t>(1, step.length);
    if (step.kind != unicode::Utf8Kind::kValid) {
      pending_space = true;
      continue;
    }
    char32_t cp = step.cp;
    // ASCII and Latin-1 capitals (A-Z, À-Þ but ×) to lower case: enough for English and German.
    if ((cp >= 'A' && cp <= 'Z') || (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)) cp += 0x20;
    const uint8_t props = unicode::properties(cp);
    const bool keep = (props & (unicode::kLetter | unicode::kNumber)) || cp == '\'' || cp == 0x2019;
    if (!keep) {
      pending_space = !out.empty();
      continue;
    }
    if (cp == 0x2019) cp = '\'';
    if (pending_space) out.emplace_back(" ");
    pending_space = false;
    std::string c;
    unicode::append_utf8(c, cp);
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<std::string> build_ctc_alphabet(const std::vector<std::vector<std::string>>& transcripts,
                                            int64_t min_count) {
  std::map<std::string, int64_t> counts;
  for (const auto& t : transcripts) {
    for (const auto& c : t) ++counts[c];
  }
  std::vector<std::pair<std::string, int64_t>> kept;
  for (const auto& [c, n] : counts) {
    if (n >= min_count) kept.emplace_back(c, n);
  }
  std::stable_sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> out;
  for (auto& [c, n] : kept) out.push_back(c);
  return out;
}

int64_t edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<int64_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int64_t>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int64_t diagonal = row[0];
    row[0] = static_cast<int64_t>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int64_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

namespace {

std::vector<std::string> words_of(const std::vector<std::string>& chars) {
  std::vector<std::string> words(1);
  for (const std::string& c : chars) {
    if (c == " ") {
      words.emplace_back();
    } else {
      words.back() += c;
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

}  // namespace

void TranscriptErrors::add(std::string_view hypothesis, std::string_view reference) {
  const std::vector<std::string> h = ctc_characters(hypothesis), r = ctc_characters(reference);
  char_edits += edit_distance(h, r);
  reference_chars += static_cast<int64_t>(r.size());
  const std::vector<std::string> hw = words_of(h), rw = words_of(r);
  word_edits += edit_distance(hw, rw);
  reference_words += static_cast<int64_t>(rw.size());
}

double TranscriptErrors::cer() const {
  return reference_chars > 0 ? static_cast<double>(char_edits) / static_cast<double>(reference_chars) : 0.0;
}

double TranscriptErrors::wer() const {
  return reference_words > 0 ? static_cast<double>(word_edits) / static_cast<double>(reference_words) : 0.0;
}

}  // namespace attune::text
