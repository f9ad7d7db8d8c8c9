#include "text/unicode.h"

#include <algorithm>
#include <vector>

namespace attune::text::unicode {

// ---- UTF-8 -------------------------------------------------------------------------------------

Utf8Step next_utf8(const unsigned char* s, size_t n) {
  const unsigned char b0 = s[0];
  if (b0 < 0x80) return {Utf8Kind::kValid, 1, b0};
  // Table 3-7 of the Unicode standard: the allowed range of the second byte depends on the first.
  int need;
  unsigned char lo = 0x80, hi = 0xBF;
  char32_t cp;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {Utf8Kind::kInvalid, 1, 0};
  }
  for (int i = 1; i <= need; ++i) {
    if (static_cast<size_t>(i) >= n) return {Utf8Kind::kTruncated, static_cast<uint8_t>(n), 0};
    const unsigned char b = s[i];
    if (b < lo || b > hi) return {Utf8Kind::kInvalid, static_cast<uint8_t>(i), 0};
    lo = 0x80;
    hi = 0xBF;
    cp = (cp << 6) | (b & 0x3F);
  }
  return {Utf8Kind::kValid, static_cast<uint8_t>(need + 1), cp};
}

std::string to_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0, n = s.size(); i < n;) {
    const Utf8Step st = p[i] < 0x80 ? Utf8Step{Utf8Kind::kValid, 1, p[i]} : next_utf8(p + i, n - i);
    if (st.kind == Utf8Kind::kValid) {
      out.append(s.substr(i, st.length));
    } else {
      append_utf8(out, 0xFFFD);
    }
    i += st.kind == Utf8Kind::kTruncated ? n - i : st.length;
  }
  return out;
}

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0, n = s.size();
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    Utf8Step st = next_utf8(p + i, n - i);
    if (st.kind != Utf8Kind::kValid) return false;
    i += st.length;
  }
  return true;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// ---- properties ----------------------------------------------------------------------------------

int combining_class(char32_t cp) {
  if (cp < 0x300 || cp >= 0x110000) return 0;
  const auto* begin = detail::kCccRanges;
  const auto* end = detail::kCccRanges + detail::kCccRangeCount;
  const auto* it = std::upper_bound(begin, end, cp, [](char32_t c, const detail::CccRange& r) { return c < r.first; });
  if (it == begin) return 0;
  --it;
  return cp <= it->last ? it->ccc : 0;
}

const char* unicode_version() { return detail::kUnicodeVersion; }

// ---- NFC -----------------------------------------------------------------------------------------

namespace {

constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr int kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;
// Bytes of invalid sequences travel through the algorithm as these markers (never real code points).
constexpr char32_t kRawByte = 0x80000000u;

int ccc_of(char32_t c) { return (c & kRawByte) ? 0 : combining_class(c); }

void decompose_into(char32_t c, std::vector<char32_t>& out) {
  if (c >= kSBase && c < kSBase + kSCount) {
    const int s = static_cast<int>(c - kSBase);
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (c >= 0xC0 && !(c & kRawByte)) {
    const auto* begin = detail::kDecompEntries;
    const auto* end = detail::kDecompEntries + detail::kDecompEntryCount;
    const auto* it = std::lower_bound(begin, end, c, [](const detail::DecompEntry& e, char32_t v) { return e.cp < v; });
    if (it != end && it->cp == c) {
      out.insert(out.end(), detail::kDecompData + it->offset, detail::kDecompData + it->offset + it->length);
      return;
    }
  }
  out.push_back(c);
}

char32_t compose_pair(char32_t a, char32_t b) {
  if ((a | b) & kRawByte) return 0;
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  const uint64_t key = (static_cast<uint64_t>(a) << 21) | b;
  const auto* begin = detail::kCompose;
  const auto* end = detail::kCompose + detail::kComposeCount;
  const auto* it =
      std::lower_bound(begin, end, key, [](const detail::ComposeEntry& e, uint64_t k) { return e.key < k; });
  return (it != end && it->key == key) ? it->composite : 0;
}

}  // namespace

bool is_nfc_quick(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0, n = s.size();
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    Utf8Step st = next_utf8(p + i, n - i);
    if (st.kind != Utf8Kind::kValid) {
      i += st.length;  // raw bytes are left alone; they cannot change
      continue;
    }
    if (properties(st.cp) & kNfcCheck) return false;
    i += st.length;
  }
  return true;
}

std::string nfc(std::string_view s) {
  if (is_nfc_quick(s)) return std::string(s);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();

  // 1. Canonical decomposition.
  std::vector<char32_t> d;
  d.reserve(n + 8);
  for (size_t i = 0; i < n;) {
    Utf8Step st = next_utf8(p + i, n - i);
    if (st.kind == Utf8Kind::kValid) {
      decompose_into(st.cp, d);
    } else {
      for (int k = 0; k < st.length; ++k) d.push_back(kRawByte | p[i + k]);
    }
    i += st.length;
  }

  // 2. Canonical ordering: stable sort of every run of non-starters by combining class.
  for (size_t i = 0; i < d.size();) {
    if (ccc_of(d[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < d.size() && ccc_of(d[j]) != 0) ++j;
    if (j - i > 1) {
      std::stable_sort(d.begin() + static_cast<std::ptrdiff_t>(i), d.begin() + static_cast<std::ptrdiff_t>(j),
                       [](char32_t a, char32_t b) { return ccc_of(a) < ccc_of(b); });
    }
    i = j;
  }

  // 3. Canonical composition: a character joins the last starter unless something between them
  //    blocks it (a starter, or a mark of the same or a higher class).
  std::vector<char32_t> out;
  out.reserve(d.size());
  std::ptrdiff_t starter = -1;
  for (char32_t c : d) {
    const int cc = ccc_of(c);
    if (starter >= 0) {
      const bool adjacent = static_cast<std::ptrdiff_t>(out.size()) - 1 == starter;
      const int last = adjacent ? 0 : ccc_of(out.back());
      if (adjacent || (last != 0 && last < cc)) {
        if (char32_t composite = compose_pair(out[static_cast<size_t>(starter)], c)) {
          out[static_cast<size_t>(starter)] = composite;
          continue;
        }
      }
    }
    if (cc == 0) starter = static_cast<std::ptrdiff_t>(out.size());
    out.push_back(c);
  }

  std::string result;
  result.reserve(n + 4);
  for (char32_t c : out) {
    if (c & kRawByte) {
      result.push_back(static_cast<char>(c & 0xFF));
    } else {
      append_utf8(result, c);
    }
  }
  return result;
}

}  // namespace attune::text::unicode
