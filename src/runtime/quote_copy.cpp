#include "runtime/quote_copy.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <unordered_map>

#include "text/tokenizer.h"

namespace attune::runtime {

namespace {

// The ASCII letter in the other case (other characters as they are): a quote may start a sentence
// with a word the user wrote in lower case, or the reverse.
char other_case(char c) {
  const auto u = static_cast<unsigned char>(c);
  return static_cast<char>(std::islower(u) ? std::toupper(u) : std::tolower(u));
}
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '\'' || (c & 0x80); }

// Where the quote open at the end of `thinking` starts (npos when none is open).
size_t open_quote(std::string_view thinking) {
  const size_t quotes = static_cast<size_t>(std::count(thinking.begin(), thinking.end(), '"'));
  return quotes % 2 == 1 ? thinking.rfind('"') + 1 : std::string_view::npos;
}

// White space runs as one space: the form the sources are kept in.
void append_normalised(std::string& out, std::string_view bytes) {
  for (char c : bytes) {
    if (is_space(c)) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
}

// A quote's text as matched: each white space character one space, so that a second space (which no
// source has) ends the span instead of idling in place; leading space dropped.
std::string quoted_text(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    if (out.empty() && is_space(c)) continue;
    out += is_space(c) ? ' ' : c;
  }
  return out;
}

// `text` with its first non-space character in the other case.
std::string first_letter_swapped(std::string_view text) {
  std::string out(text);
  const size_t at = out.find_first_not_of(' ');
  if (at != std::string::npos) out[at] = other_case(out[at]);
  return out;
}

}  // namespace

QuoteCopy::QuoteCopy(const text::Tokenizer& tokenizer) {
  auto pieces = std::make_shared<Pieces>();
  const int32_t n = tokenizer.vocab_size();
  pieces->bytes.resize(static_cast<size_t>(n));
  for (int32_t id = 0; id < n; ++id) {
    if (tokenizer.is_special(id)) continue;  // never part of a quote: left empty, and banned inside one
    std::string& piece = pieces->bytes[static_cast<size_t>(id)];
    try {
      piece = std::string(tokenizer.token_bytes(id));
    } catch (const std::exception&) {  // an id without a token (padded vocabulary)
    }
    if (piece.empty()) continue;
    if (piece.find('"') != std::string::npos) {
      pieces->quote_ids.push_back(id);
    } else {
      std::string key;
      for (char c : piece) key += is_space(c) ? ' ' : c;
      pieces->longest = std::max(pieces->longest, key.size());
      pieces->by_text[std::move(key)].push_back(id);
    }
  }
  pieces_ = std::move(pieces);
}

void QuoteCopy::add_source(std::string_view words) {
  std::string normalised;
  for (size_t i = 0; i < words.size(); ++i) {
    if (words.compare(i, 3, "\xE2\x80\x99") == 0) {  // a typographic apostrophe: the model writes '
      normalised += '\'';
      i += 2;
    } else {
      normalised += words[i];
    }
  }
  std::string spaced;
  append_normalised(spaced, normalised);
  while (!spaced.empty() && spaced.back() == ' ') spaced.pop_back();
  if (spaced.empty()) return;
  sources_ += spaced;
  sources_ += '\n';
}

std::vector<size_t> QuoteCopy::occurrences(std::string_view content) const {
  std::vector<size_t> at;
  const std::string swapped = first_letter_swapped(content);
  for (const std::string_view form : {content, std::string_view(swapped)}) {
    for (size_t i = sources_.find(form); i != std::string::npos; i = sources_.find(form, i + 1)) at.push_back(i);
    if (swapped == content) break;
  }
  return at;
}

bool QuoteCopy::is_span(std::string_view content) const { return !occurrences(content).empty(); }

bool QuoteCopy::ends_a_word(std::string_view content) const {
  if (content.empty()) return false;
  if (!is_word_char(content.back())) return is_span(content);
  for (size_t at : occurrences(content)) {
    if (!is_word_char(sources_[at + content.size()])) return true;  // sources_ ends with '\n'
  }
  return false;
}

bool QuoteCopy::allows(std::string_view thinking, std::string_view piece) const {
  const size_t start = open_quote(thinking);
  bool open = start != std::string_view::npos;
  std::string raw(open ? thinking.substr(start) : std::string_view());
  for (char c : piece) {
    if (c != '"') {
      if (open && is_space(c) && c != ' ') return false;  // a quote stays on one line: its spaces are ' '
      if (open) raw += c;
      continue;
    }
    if (open) {
      std::string content = quoted_text(raw);
      while (!content.empty() && content.back() == ' ') content.pop_back();
      // A quote names a phrase: two words at least, ending where a word of the source ends.
      if (content.find(' ') == std::string::npos || !ends_a_word(content)) return false;
    }
    open = !open;
    raw.clear();
  }
  const std::string content = quoted_text(raw);
  return !open || content.empty() || is_span(content);
}

void QuoteCopy::constrain(std::span<float> row, std::string_view thinking) const {
  if (sources_.empty()) return;
  constexpr float kBanned = -std::numeric_limits<float>::infinity();
  const Pieces& pieces = *pieces_;
  const size_t n = std::min(row.size(), pieces.bytes.size());
  auto allowed_id = [&](int32_t id) {
    return static_cast<size_t>(id) < n && allows(thinking, pieces.bytes[static_cast<size_t>(id)]);
  };
  const size_t start = open_quote(thinking);
  if (start == std::string_view::npos) {
    // Outside a quote only the tokens that open one (with words after the '"') are checked.
    for (int32_t id : pieces.quote_ids) {
      if (static_cast<size_t>(id) < n && !allowed_id(id)) row[id] = kBanned;
    }
    return;
  }
  // Inside one: the candidates are the tokens that spell the source text right after an occurrence
  // of the quote so far (at a word start when it is empty), and those holding a '"'.
  const std::string content = quoted_text(thinking.substr(start));
  std::vector<int32_t> allowed;
  auto add_spelling = [&](const std::string& text) {
    const auto it = pieces.by_text.find(text);
    if (it == pieces.by_text.end()) return;
    for (int32_t id : it->second) {
      if (allowed_id(id)) allowed.push_back(id);
    }
  };
  // The first piece of a quote may also swap its first letter's case.
  auto spelled_from = [&](size_t from, bool first) {
    for (size_t len = 1; len <= pieces.longest && from + len <= sources_.size(); ++len) {
      add_spelling(sources_.substr(from, len));
      if (first) add_spelling(first_letter_swapped(sources_.substr(from, len)));
    }
  };
  if (content.empty()) {
    for (size_t at = 0; at < sources_.size(); ++at) {
      if (at > 0 && sources_[at - 1] != ' ' && sources_[at - 1] != '\n') continue;
      spelled_from(at, true);
      if (at > 0 && sources_[at - 1] == ' ') spelled_from(at - 1, true);  // the piece brings the space
    }
  } else {
    for (size_t at : occurrences(content)) spelled_from(at + content.size(), false);
  }
  for (int32_t id : pieces.quote_ids) {
    if (allowed_id(id)) allowed.push_back(id);
  }
  if (allowed.empty()) return;  // the quote went astray before (e.g. opened by a forced token): leave it be
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  std::vector<float> kept(allowed.size());
  for (size_t i = 0; i < allowed.size(); ++i) kept[i] = row[allowed[i]];
  std::fill(row.begin(), row.end(), kBanned);
  for (size_t i = 0; i < allowed.size(); ++i) row[allowed[i]] = kept[i];
}

}  // namespace attune::runtime
