#include "data/detokenize.h"

#include <array>
#include <cctype>
#include <vector>

namespace attune::data {
namespace {

bool is_lower(char c) { return std::islower(static_cast<unsigned char>(c)) != 0; }
bool is_upper(char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; }
bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Typographic quotes, apostrophes and the ellipsis character as ASCII.
std::string ascii_punctuation(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kMap{{
      {"\xE2\x80\x99", "'"},   // ’
      {"\xE2\x80\x98", "'"},   // ‘
      {"\xE2\x80\x9C", "\""},  // “
      {"\xE2\x80\x9D", "\""},  // ”
      {"\xE2\x80\xA6", "..."}  // …
  }};
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    bool replaced = false;
    for (const auto& [from, to] : kMap) {
      if (text.substr(i, from.size()) == from) {
        out += to;
        i += from.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) out += text[i++];
  }
  return out;
}

// "Good.Let's" -> "Good. Let's": sentence punctuation between a lower-case word of two letters or
// more and a capitalised word (so "e.g." and "U.S." stay).
std::string unglue_sentences(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size(); ++i) {
    out += s[i];
    const char c = s[i];
    if ((c == '.' || c == '?' || c == '!') && i >= 2 && i + 2 < s.size() && is_lower(s[i - 1]) && is_lower(s[i - 2]) &&
        is_upper(s[i + 1]) && is_lower(s[i + 2])) {
      out += ' ';
    }
  }
  return out;
}

std::vector<std::string> split_whitespace(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    const size_t start = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

bool attaches_left(const std::string& tok) {
  if (tok == "%" || tok == ")" || tok == "]" || tok == "}") return true;
  for (char c : tok) {
    if (c != ',' && c != '.' && c != '?' && c != '!' && c != ';' && c != ':') return false;
  }
  return true;
}

bool attaches_right(const std::string& tok) {
  return tok == "(" || tok == "[" || tok == "{" || tok == "$" || tok == "#" || tok == "\xC2\xA3";  // £
}

bool is_contraction_suffix(std::string_view tok) {
  const std::string t = lower(tok);
  return t == "n't" || t == "'s" || t == "'re" || t == "'ve" || t == "'ll" || t == "'d" || t == "'m" || t == "'t";
}

// What follows a lone apostrophe in "Don ' t" / "It ' s".
bool is_split_suffix(std::string_view tok) {
  const std::string t = lower(tok);
  return t == "s" || t == "t" || t == "re" || t == "ve" || t == "ll" || t == "d" || t == "m";
}

}  // namespace

std::string detokenize_english(std::string_view text) {
  const std::vector<std::string> toks = split_whitespace(unglue_sentences(ascii_punctuation(text)));
  std::string out;
  bool glue_next = false, quote_open = false;
  for (size_t i = 0; i < toks.size(); ++i) {
    std::string tok = toks[i];
    if (tok == "\\") continue;  // DailyDialog's stray escape: "I \\ ' ll"
    const bool after_letter = !out.empty() && is_alpha(out.back());
    bool glue = glue_next;
    glue_next = false;
    if (attaches_left(tok)) {
      glue = true;
    } else if (after_letter && is_contraction_suffix(tok)) {
      glue = true;
    } else if (tok == "'" && after_letter && i + 1 < toks.size() && is_split_suffix(toks[i + 1])) {
      tok += toks[++i];
      glue = true;
    } else if (tok == "\"") {
      if (quote_open) {
        glue = true;
      } else {
        glue_next = true;
      }
      quote_open = !quote_open;
    } else if (tok == "-" && !out.empty() && is_digit(out.back()) && i + 1 < toks.size() && is_alnum(toks[i + 1][0])) {
      glue = true;
      glue_next = true;
    } else if (attaches_right(tok)) {
      glue_next = true;
    }
    if (!out.empty() && !glue) out += ' ';
    out += tok;
  }
  return out;
}

}  // namespace attune::data
