#include "tts/sentences.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

namespace attune::tts {
namespace {

constexpr char32_t kInvalid = 0xFFFFFFFF;

struct CodePoint {
  char32_t cp = 0;    // kInvalid for a byte that starts no valid UTF-8 sequence
  size_t offset = 0;  // byte offset in the text
  size_t length = 0;  // bytes
};

// Decodes one UTF-8 sequence at `i`; an invalid byte comes back as a one-byte kInvalid.
CodePoint decode_at(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b = byte(i);
  if (b < 0x80) return {b, i, 1};
  size_t len = 0;
  char32_t cp = 0, min = 0;
  if ((b & 0xE0) == 0xC0) {
    len = 2, cp = b & 0x1F, min = 0x80;
  } else if ((b & 0xF0) == 0xE0) {
    len = 3, cp = b & 0x0F, min = 0x800;
  } else if ((b & 0xF8) == 0xF0) {
    len = 4, cp = b & 0x07, min = 0x10000;
  } else {
    return {kInvalid, i, 1};
  }
  if (i + len > s.size()) return {kInvalid, i, 1};
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return {kInvalid, i, 1};
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {kInvalid, i, 1};
  return {cp, i, len};
}

std::vector<CodePoint> decode(std::string_view s) {
  std::vector<CodePoint> cps;
  cps.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    cps.push_back(decode_at(s, i));
    i += cps.back().length;
  }
  return cps;
}

// White space, and control characters (which say nothing either).
bool is_space(char32_t c) {
  return c <= ' ' || c == 0x7F || c == 0xA0 || c == 0x3000 || (c >= 0x2000 && c <= 0x200B) || c == 0x202F ||
         c == 0x205F || c == 0xFEFF;
}

// Marks that end a sentence wherever they stand (full-width forms and the ellipsis).
bool is_cjk_terminal(char32_t c) {
  return c == 0x3002 /* 。 */ || c == 0xFF01 /* ！ */ || c == 0xFF1F /* ？ */ || c == 0xFF1B /* ； */ ||
         c == 0x2026 /* … */ || c == 0xFF0E /* ． */ || c == 0xFF61 /* ｡ */;
}

bool is_ascii_terminal(char32_t c) { return c == '.' || c == '!' || c == '?'; }

// Closing quotes and brackets that belong to the sentence they follow.
bool is_closer(char32_t c) {
  switch (c) {
    case '"':
    case '\'':
    case ')':
    case ']':
    case '}':
    case 0x2019:  // ’
    case 0x201D:  // ”
    case 0x300D:  // 」
    case 0x300F:  // 』
    case 0xFF09:  // ）
    case 0x300B:  // 》
    case 0x3009:  // 〉
    case 0x3011:  // 】
    case 0x00BB:  // »
      return true;
    default:
      return false;
  }
}

bool is_clause_mark(char32_t c) {
  return c == ',' || c == ';' || c == ':' || c == 0xFF0C /* ， */ || c == 0xFF1B /* ； */ || c == 0xFF1A /* ： */ ||
         c == 0x3001 /* 、 */ || c == 0x2014 /* — */;
}

// Letters and digits of any script, approximately: ASCII alphanumerics, and every non-ASCII code
// point outside the punctuation, symbol, space and emoji blocks.
bool is_speakable(char32_t c) {
  if (c == kInvalid) return false;
  if (c < 0x80) return std::isalnum(static_cast<int>(c)) != 0;
  if (c < 0xC0) return c == 0xAA || c == 0xB5 || c == 0xBA;           // Latin-1 punctuation and symbols
  if (c == 0xD7 || c == 0xF7) return false;                           // × ÷
  if (c >= 0x2000 && c <= 0x2BFF) return false;                       // punctuation, symbols, arrows, math, shapes
  if (c >= 0x3000 && c <= 0x303F) return c == 0x3005 || c == 0x3007;  // CJK punctuation (々 and 〇 are words)
  if (c >= 0xFE00 && c <= 0xFE0F) return false;                       // variation selectors
  if (c >= 0xFE30 && c <= 0xFE6F) return false;                       // CJK compatibility and small forms
  if (c == 0xFEFF) return false;
  if (c >= 0xFF00 && c <= 0xFF0F) return false;  // full-width punctuation
  if (c >= 0xFF1A && c <= 0xFF20) return false;
  if (c >= 0xFF3B && c <= 0xFF40) return false;
  if (c >= 0xFF5B && c <= 0xFF65) return false;
  if (c >= 0x1F000 && c <= 0x1FAFF) return false;  // emoji and pictographs
  return true;
}

bool is_lower_ascii(char32_t c) { return c >= 'a' && c <= 'z'; }

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

// The word that ends just before byte `end` (letters and inner dots), lower-cased.
std::string word_before(std::string_view text, size_t end) {
  size_t start = end;
  while (start > 0) {
    unsigned char ch = static_cast<unsigned char>(text[start - 1]);
    if (std::isalpha(ch) || ch == '.') {
      --start;
    } else {
      break;
    }
  }
  return lower_ascii(text.substr(start, end - start));
}

bool is_abbreviation(const std::string& word) {
  static const std::array<std::string_view, 24> kAbbreviations = {
      "mr", "mrs", "ms",     "dr",   "prof", "sr",  "jr",  "st", "vs", "etc", "e.g", "i.e",
      "no", "fig", "approx", "dept", "est",  "inc", "ltd", "co", "mt", "jan", "feb", "aug"};
  if (word.size() == 1) return true;                     // an initial: "J. Smith"
  if (word.find('.') != std::string::npos) return true;  // "U.S", "e.g", "a.m"
  return std::find(kAbbreviations.begin(), kAbbreviations.end(), word) != kAbbreviations.end();
}

std::string_view trim(std::string_view s) {
  std::vector<CodePoint> cps = decode(s);
  size_t first = 0, last = cps.size();
  while (first < last && is_space(cps[first].cp)) ++first;
  while (last > first && is_space(cps[last - 1].cp)) --last;
  if (first == last) return {};
  return s.substr(cps[first].offset, cps[last - 1].offset + cps[last - 1].length - cps[first].offset);
}

// Cuts one over-long sentence into pieces of at most max_bytes (at clause marks, spaces, or any
// character boundary, in that order of preference).
void cut_long(std::string_view s, size_t max_bytes, std::vector<std::string>& out) {
  while (s.size() > max_bytes) {
    std::vector<CodePoint> cps = decode(s);
    size_t clause_cut = 0, space_cut = 0, char_cut = 0;  // byte offsets just after the cut point
    for (const CodePoint& c : cps) {
      size_t end = c.offset + c.length;
      if (end > max_bytes) break;
      char_cut = end;
      if (is_clause_mark(c.cp)) clause_cut = end;
      if (is_space(c.cp)) space_cut = c.offset;
    }
    size_t cut = clause_cut > max_bytes / 4 ? clause_cut : space_cut > max_bytes / 4 ? space_cut : char_cut;
    if (cut == 0) cut = cps.front().length;  // max_bytes smaller than one character
    std::string_view piece = trim(s.substr(0, cut));
    if (!piece.empty()) out.emplace_back(piece);
    s = trim(s.substr(cut));
  }
  if (!s.empty()) out.emplace_back(s);
}

}  // namespace

bool has_speakable_text(std::string_view text) {
  for (const CodePoint& c : decode(text)) {
    if (is_speakable(c.cp)) return true;
  }
  return false;
}

std::string clean_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const CodePoint& c : decode(text)) {
    bool control = c.cp < 0x20 ? (c.cp != '\t' && c.cp != '\n') : (c.cp == 0x7F || (c.cp >= 0x80 && c.cp < 0xA0));
    if (c.cp == kInvalid || control) {
      out += ' ';
    } else {
      out.append(text.substr(c.offset, c.length));
    }
  }
  return out;
}

std::vector<std::string> split_sentences(std::string_view text, size_t max_bytes) {
  if (max_bytes == 0) max_bytes = 1;
  std::vector<CodePoint> cps = decode(text);
  std::vector<std::string_view> raw;
  size_t start = 0;  // byte offset where the current sentence starts
  auto end_at = [&](size_t byte_end) {
    raw.push_back(text.substr(start, byte_end - start));
    start = byte_end;
  };
  for (size_t i = 0; i < cps.size(); ++i) {
    char32_t c = cps[i].cp;
    if (c == '\n') {
      // A blank line (newline, optional spaces, newline) ends the paragraph.
      size_t j = i + 1;
      while (j < cps.size() && is_space(cps[j].cp) && cps[j].cp != '\n') ++j;
      if (j < cps.size() && cps[j].cp == '\n') {
        end_at(cps[i].offset);
        i = j;
      }
      continue;
    }
    bool cjk = is_cjk_terminal(c);
    if (!cjk && !is_ascii_terminal(c)) continue;
    // Take the whole run of terminal marks and the closers after them.
    size_t j = i + 1;
    while (j < cps.size() && (is_cjk_terminal(cps[j].cp) || is_ascii_terminal(cps[j].cp))) {
      cjk = cjk || is_cjk_terminal(cps[j].cp);
      ++j;
    }
    while (j < cps.size() && is_closer(cps[j].cp)) ++j;
    size_t byte_end = j < cps.size() ? cps[j].offset : text.size();
    bool boundary = cjk;
    if (!boundary) {
      boundary = j == cps.size() || is_space(cps[j].cp);
      bool only_dots = true;
      for (size_t k = i; k < j; ++k) only_dots = only_dots && cps[k].cp == '.';
      if (boundary && only_dots && j < cps.size()) {
        // "." or "..." before more text: no end before a lower-case word ("e.g. this", "wait... what"),
        // nor after an abbreviation or an initial ("Dr. Smith", "J. Smith").
        size_t k = j;
        while (k < cps.size() && is_space(cps[k].cp)) ++k;
        if (k < cps.size() && is_lower_ascii(cps[k].cp)) boundary = false;
        if (boundary && j == i + 1 && is_abbreviation(word_before(text, cps[i].offset))) boundary = false;
      }
    }
    if (boundary) end_at(byte_end);
    i = j - 1;
  }
  if (start < text.size()) raw.push_back(text.substr(start));

  std::vector<std::string> sentences;
  for (std::string_view piece : raw) {
    piece = trim(piece);
    if (piece.empty()) continue;
    if (!has_speakable_text(piece)) {
      // Punctuation only: keep it with the sentence before when it fits, else drop it (nothing to say).
      if (!sentences.empty() && sentences.back().size() + 1 + piece.size() <= max_bytes) {
        sentences.back() += " " + std::string(piece);
      }
      continue;
    }
    sentences.emplace_back(piece);
  }
  std::vector<std::string> out;
  for (const std::string& s : sentences) cut_long(s, max_bytes, out);
  // A cut can leave a piece without words (a run of punctuation): same rule as above.
  std::vector<std::string> result;
  for (std::string& s : out) {
    if (has_speakable_text(s)) {
      result.push_back(std::move(s));
    } else if (!result.empty() && result.back().size() + 1 + s.size() <= max_bytes) {
      result.back() += " " + s;
    }
  }
  return result;
}

}  // namespace attune::tts
