#include "runtime/quote_copy.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <unordered_set>

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
  source_ends_.push_back(sources_.size());
  sources_ += '\n';
}

void QuoteCopy::set_source_prior(std::vector<float> log_prior, float weight) {
  for (float& p : log_prior) p *= weight;
  prior_ = weight > 0 ? std::move(log_prior) : std::vector<float>();
}

void QuoteCopy::set_length_hazard(std::vector<float> hazard, float weight) {
  length_bonus_.clear();
  if (weight <= 0) return;
  for (float h : hazard) {
    h = std::clamp(h, 0.01f, 0.99f);
    length_bonus_.emplace_back(weight * std::log(h), weight * std::log(1 - h));
  }
}

float QuoteCopy::source_bonus(size_t at) const {
  if (prior_.empty()) return 0;
  const auto source = std::lower_bound(source_ends_.begin(), source_ends_.end(), at) - source_ends_.begin();
  const size_t age = source_ends_.size() - 1 - static_cast<size_t>(source);
  return prior_[std::min(age, prior_.size() - 1)];
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
  // of the quote so far (at a word start when it is empty), and those holding a '"'. Each keeps the
  // best source bonus among the occurrences it continues; a closing token, that of the quote so far.
  const std::string content = quoted_text(thinking.substr(start));
  std::unordered_map<int32_t, float> allowed;  // id -> source bonus
  auto allow = [&](int32_t id, float bonus) {
    const auto [it, fresh] = allowed.try_emplace(id, bonus);
    if (!fresh) it->second = std::max(it->second, bonus);
  };
  auto add_spelling = [&](const std::string& text, float bonus) {
    const auto it = pieces.by_text.find(text);
    if (it == pieces.by_text.end()) return;
    for (int32_t id : it->second) {
      if (allowed_id(id)) allow(id, bonus);
    }
  };
  // The first piece of a quote may also swap its first letter's case.
  auto spelled_from = [&](size_t from, bool first, float bonus) {
    for (size_t len = 1; len <= pieces.longest && from + len <= sources_.size(); ++len) {
      add_spelling(sources_.substr(from, len), bonus);
      if (first) add_spelling(first_letter_swapped(sources_.substr(from, len)), bonus);
    }
  };
  float close_bonus = -std::numeric_limits<float>::infinity();
  if (content.empty()) {
    for (size_t at = 0; at < sources_.size(); ++at) {
      if (at > 0 && sources_[at - 1] != ' ' && sources_[at - 1] != '\n') continue;
      const float bonus = source_bonus(at);
      spelled_from(at, true, bonus);
      if (at > 0 && sources_[at - 1] == ' ') spelled_from(at - 1, true, bonus);  // the piece brings the space
    }
  } else {
    for (size_t at : occurrences(content)) {
      const float bonus = source_bonus(at);
      close_bonus = std::max(close_bonus, bonus);
      spelled_from(at + content.size(), false, bonus);
    }
  }
  if (!std::isfinite(close_bonus)) close_bonus = 0;
  // Where the quote may close (two whole words or more), the length hazard weighs closing against going on.
  float go_on = 0;
  std::string_view trimmed = content;
  while (!trimmed.empty() && trimmed.back() == ' ') trimmed.remove_suffix(1);
  const size_t words = static_cast<size_t>(std::count(trimmed.begin(), trimmed.end(), ' ')) + 1;
  if (!length_bonus_.empty() && words >= 2 && ends_a_word(trimmed)) {
    const auto& [close, more] = length_bonus_[std::min(words - 2, length_bonus_.size() - 1)];
    close_bonus += close;
    go_on = more;
  }
  std::unordered_set<int32_t> closing;
  for (int32_t id : pieces.quote_ids) {
    if (allowed_id(id)) {
      allow(id, close_bonus);
      closing.insert(id);
    }
  }
  if (allowed.empty()) return;  // the quote went astray before (e.g. opened by a forced token): leave it be
  std::vector<std::pair<int32_t, float>> kept;
  kept.reserve(allowed.size());
  for (const auto& [id, bonus] : allowed) kept.emplace_back(id, row[id] + bonus + (closing.count(id) ? 0 : go_on));
  std::fill(row.begin(), row.end(), kBanned);
  for (const auto& [id, logit] : kept) row[id] = logit;
}

}  // namespace attune::runtime
