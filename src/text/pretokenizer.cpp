#include "text/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "text/unicode.h"

namespace attune::text {

// ---- presets ------------------------------------------------------------------------------------------

namespace {
const std::string kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const std::string kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const std::string kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
}  // namespace

std::string_view preset_name(Preset preset) {
  switch (preset) {
    case Preset::kGpt2:
      return "gpt2";
    case Preset::kQwen2:
      return "qwen2";
    case Preset::kLlama3:
      return "llama3";
  }
  return "?";
}

Preset parse_preset(std::string_view name) {
  if (name == "gpt2" || name == "gpt-2") return Preset::kGpt2;
  if (name == "qwen2" || name == "qwen") return Preset::kQwen2;
  if (name == "llama3" || name == "llama-3") return Preset::kLlama3;
  throw ConfigError("unknown tokenizer preset '" + std::string(name) + "' (expected gpt2, qwen2 or llama3)");
}

const std::string& preset_regex(Preset preset) {
  switch (preset) {
    case Preset::kGpt2:
      return kGpt2Regex;
    case Preset::kQwen2:
      return kQwen2Regex;
    case Preset::kLlama3:
      return kLlama3Regex;
  }
  return kGpt2Regex;
}

const std::vector<std::string>& default_special_tokens() {
  static const std::vector<std::string> tokens = {"<|endoftext|>", "<|im_start|>",  "<|im_end|>", "<|audio_bos|>",
                                                  "<|AUDIO|>",     "<|audio_eos|>", "<think>",    "</think>"};
  return tokens;
}

namespace detail {

using nlohmann::json;

// ---- byte <-> unicode -----------------------------------------------------------------------------------

namespace {
struct ByteMap {
  std::array<char32_t, 256> to_cp{};
  std::array<int16_t, 324> from_cp{};  // code points 0..323 -> byte, -1 when not in the mapping
  std::array<std::string, 256> utf8;   // to_cp as UTF-8
  ByteMap() {
    from_cp.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_cp[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      from_cp[to_cp[b]] = static_cast<int16_t>(b);
      unicode::append_utf8(utf8[b], to_cp[b]);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap map;
  return map;
}
}  // namespace

char32_t byte_to_unicode(uint8_t b) { return byte_map().to_cp[b]; }

std::string bytes_to_token(std::string_view bytes) {
  const auto& map = byte_map();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += map.utf8[b];
  return out;
}

bool token_to_bytes(std::string_view token, std::string& out) {
  const auto& map = byte_map();
  out.clear();
  const auto* p = reinterpret_cast<const unsigned char*>(token.data());
  for (size_t i = 0; i < token.size();) {
    unicode::Utf8Step st = unicode::next_utf8(p + i, token.size() - i);
    if (st.kind != unicode::Utf8Kind::kValid || st.cp >= map.from_cp.size() || map.from_cp[st.cp] < 0) return false;
    out.push_back(static_cast<char>(map.from_cp[st.cp]));
    i += st.length;
  }
  return true;
}

// ---- regex -------------------------------------------------------------------------------------------

std::string adapt_pattern(const std::string& p) {
  // Oniguruma's \s (what the Hugging Face library runs) also matches U+0085; PCRE2's does not.
  std::string out;
  out.reserve(p.size() + 16);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[i + 1];
      if (e == 's') {
        out += in_class ? R"(\s\x{85})" : R"([\s\x{85}])";
      } else if (e == 'S' && !in_class) {
        out += R"([^\s\x{85}])";
      } else {
        out += c;
        out += e;
      }
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // [:alpha:] inside a class
      size_t end = p.find(":]", i + 2);
      if (end != std::string::npos) {
        out.append(p, i, end + 2 - i);
        i = end + 1;
        continue;
      }
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

struct Regex::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Impl() {
    if (code) pcre2_code_free(code);
  }
};

namespace {
// Per-thread match state: match data, and a JIT stack grown on demand.
struct ThreadMatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
  ~ThreadMatchState() {
    if (context) pcre2_match_context_free(context);
    if (stack) pcre2_jit_stack_free(stack);
    pcre2_match_data_free(data);
  }
  void grow_stack() {
    if (stack) throw InputError("the pre-tokenizer regex ran out of its 64 MiB JIT stack on this input");
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
    pcre2_jit_stack_assign(context, nullptr, stack);
  }
};
thread_local ThreadMatchState t_match;

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof buffer);
  return reinterpret_cast<const char*>(buffer);
}
}  // namespace

Regex::Regex(const std::string& hf_pattern, bool literal, const std::string& where)
    : impl_(std::make_unique<Impl>()), pattern_(hf_pattern), literal_(literal) {
  const std::string compiled = literal ? hf_pattern : adapt_pattern(hf_pattern);
  int error = 0;
  PCRE2_SIZE offset = 0;
  uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
  if (literal) {
    options |= PCRE2_LITERAL;
  } else {
    options |= PCRE2_UCP;
  }
  impl_->code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(), options, &error, &offset, nullptr);
  if (!impl_->code) {
    throw InputError(where, "cannot compile the split regex /" + hf_pattern + "/: " + pcre2_message(error) +
                                " (at offset " + std::to_string(offset) + ")");
  }
  uint32_t has_jit = 0;
  pcre2_config(PCRE2_CONFIG_JIT, &has_jit);
  if (has_jit) impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
  if (!literal) {
    if (hf_pattern == kGpt2Regex) builtin_ = Builtin::kGpt2;
    if (hf_pattern == kQwen2Regex) builtin_ = Builtin::kQwen2;
    if (hf_pattern == kLlama3Regex) builtin_ = Builtin::kLlama3;
  }
}

const char* Regex::builtin() const {
  switch (builtin_) {
    case Builtin::kGpt2:
      return "gpt2";
    case Builtin::kQwen2:
      return "qwen2";
    case Builtin::kLlama3:
      return "llama3";
    case Builtin::kNone:
      break;
  }
  return "";
}

Regex::~Regex() = default;

bool Regex::jit() const { return impl_->jit; }

// ---- the hand-written matcher for the three built-in patterns ------------------------------------------
//
// It follows the regex alternatives in order, with the backtracking each one implies, over
// characters classified like PCRE2 with UCP classifies them (\p{L}, \p{N}, \s widened to U+0085);
// bytes of invalid UTF-8 match nothing, as with PCRE2_MATCH_INVALID_UTF.

namespace {

enum CharClass : uint8_t { kInvalid, kLetter, kNumber, kSpace, kOther, kEnd };

struct Char {
  CharClass cls;
  uint8_t length;
  char32_t cp;
};

struct AsciiClasses {
  std::array<CharClass, 128> table{};
  AsciiClasses() {
    for (int c = 0; c < 128; ++c) {
      CharClass k = kOther;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) k = kLetter;
      if (c >= '0' && c <= '9') k = kNumber;
      if ((c >= 0x09 && c <= 0x0D) || c == ' ') k = kSpace;
      table[c] = k;
    }
  }
};
const AsciiClasses kAscii;

inline Char char_at(const unsigned char* p, size_t n, size_t i) {
  if (i >= n) return {kEnd, 0, 0};
  const unsigned char b = p[i];
  if (b < 0x80) return {kAscii.table[b], 1, b};
  const unicode::Utf8Step st = unicode::next_utf8(p + i, n - i);
  if (st.kind != unicode::Utf8Kind::kValid) return {kInvalid, st.length, 0};
  const uint8_t props = unicode::properties(st.cp);
  const CharClass k = (props & unicode::kLetter)   ? kLetter
                      : (props & unicode::kNumber) ? kNumber
                      : (props & unicode::kSpace)  ? kSpace
                                                   : kOther;
  return {k, st.length, st.cp};
}

// End of the run of characters of class `cls` starting at i.
inline size_t run_end(const unsigned char* p, size_t n, size_t i, CharClass cls) {
  while (i < n) {
    if (p[i] < 0x80) {
      if (kAscii.table[p[i]] != cls) break;
      ++i;
      continue;
    }
    const Char c = char_at(p, n, i);
    if (c.cls != cls) break;
    i += c.length;
  }
  return i;
}

inline bool is_letter_ci(const unsigned char* p, size_t n, size_t& i, char lower, bool caseless) {
  if (i >= n) return false;
  if (p[i] == static_cast<unsigned char>(lower) || (caseless && p[i] == static_cast<unsigned char>(lower - 32))) {
    ++i;
    return true;
  }
  // U+017F LATIN SMALL LETTER LONG S case-folds to 's'.
  if (caseless && lower == 's' && i + 1 < n && p[i] == 0xC5 && p[i + 1] == 0xBF) {
    i += 2;
    return true;
  }
  return false;
}

// 's|'t|'re|'ve|'m|'ll|'d after the apostrophe at i - 1; returns the end or 0.
size_t contraction(const unsigned char* p, size_t n, size_t i, bool caseless) {
  for (char c : {'s', 't', 'm', 'd'}) {
    size_t j = i;
    if (is_letter_ci(p, n, j, c, caseless)) return j;
  }
  for (const char* pair : {"re", "ve", "ll"}) {
    size_t j = i;
    if (is_letter_ci(p, n, j, pair[0], caseless) && is_letter_ci(p, n, j, pair[1], caseless)) return j;
  }
  return 0;
}

// \s+(?!\S)|\s+ at i (a space): the run, less its last character when a non-space follows and the
// run has more than one character.
size_t spaces(const unsigned char* p, size_t n, size_t i) {
  size_t k = i, last = i;
  while (k < n) {
    const Char c = char_at(p, n, k);
    if (c.cls != kSpace) break;
    last = k;
    k += c.length;
  }
  const CharClass after = char_at(p, n, k).cls;
  if (after == kEnd || after == kInvalid) return k;
  return last > i ? last : k;
}

// The end of the match starting at i, or 0 when none starts there.
size_t match_builtin(Regex::Builtin kind, const unsigned char* p, size_t n, size_t i) {
  const Char c0 = char_at(p, n, i);
  if (c0.cls == kInvalid) return 0;
  const bool gpt2 = kind == Regex::Builtin::kGpt2;
  if (c0.cp == '\'') {
    if (size_t e = contraction(p, n, i + 1, !gpt2)) return e;
  }
  if (gpt2) {
    //  ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+
    if (c0.cp == ' ') {
      const Char c1 = char_at(p, n, i + 1);
      if (c1.cls == kLetter || c1.cls == kNumber || c1.cls == kOther) return run_end(p, n, i + 1, c1.cls);
    }
    if (c0.cls != kSpace) return run_end(p, n, i, c0.cls);
    return spaces(p, n, i);
  }
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (c0.cls == kLetter) return run_end(p, n, i, kLetter);
  if (c0.cls != kNumber && c0.cp != '\r' && c0.cp != '\n') {
    if (char_at(p, n, i + c0.length).cls == kLetter) return run_end(p, n, i + c0.length, kLetter);
  }
  // \p{N} (Qwen2) or \p{N}{1,3} (Llama-3)
  if (c0.cls == kNumber) {
    size_t e = i + c0.length;
    if (kind == Regex::Builtin::kLlama3) {
      for (int k = 1; k < 3; ++k) {
        const Char c = char_at(p, n, e);
        if (c.cls != kNumber) break;
        e += c.length;
      }
    }
    return e;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  size_t start = std::string_view::npos;
  if (c0.cls == kOther) {
    start = i;
  } else if (c0.cp == ' ' && char_at(p, n, i + 1).cls == kOther) {
    start = i + 1;
  }
  if (start != std::string_view::npos) {
    size_t e = run_end(p, n, start, kOther);
    while (e < n && (p[e] == '\r' || p[e] == '\n')) ++e;
    return e;
  }
  // \s*[\r\n]+ : up to and including the last \r or \n of the run of spaces.
  size_t k = i, newline_end = 0;
  while (k < n) {
    const Char c = char_at(p, n, k);
    if (c.cls != kSpace) break;
    k += c.length;
    if (c.cp == '\r' || c.cp == '\n') newline_end = k;
  }
  if (newline_end) return newline_end;
  return spaces(p, n, i);
}

}  // namespace

void Regex::for_each_match(std::string_view text, FunctionRef<void(size_t, size_t)> on_match) const {
  if (builtin_ == Builtin::kNone) {
    for_each_match_pcre2(text, on_match);
    return;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const size_t e = match_builtin(builtin_, p, n, i);
    if (e > i) {
      on_match(i, e);
      i = e;
    } else {
      i += std::max<size_t>(1, char_at(p, n, i).length);  // invalid bytes: no match starts here
    }
  }
}

void Regex::for_each_match_pcre2(std::string_view text, FunctionRef<void(size_t, size_t)> on_match) const {
  auto& state = t_match;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const size_t n = text.size();
  size_t pos = 0;
  while (pos < n) {
    int rc = impl_->jit ? pcre2_jit_match(impl_->code, subject, n, pos, 0, state.data, state.context)
                        : pcre2_match(impl_->code, subject, n, pos, 0, state.data, state.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      state.grow_stack();
      continue;
    }
    if (rc < 0) {
      throw InputError("pre-tokenizer regex failed at byte " + std::to_string(pos) + ": " + pcre2_message(rc));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(state.data);
    const size_t b = ov[0], e = ov[1];
    if (e <= b) {  // an empty match splits nothing; look again one character further
      const auto st = unicode::next_utf8(reinterpret_cast<const unsigned char*>(text.data()) + b, n - b);
      pos = b + std::max<size_t>(1, st.length);
      continue;
    }
    on_match(b, e);
    pos = e;
  }
}

// ---- pre-tokenizer -------------------------------------------------------------------------------------

namespace {

std::shared_ptr<const Regex> shared_regex(const std::string& pattern, bool literal, const std::string& where) {
  return std::make_shared<const Regex>(pattern, literal, where);
}

const std::shared_ptr<const Regex>& gpt2_regex() {
  static const auto regex = shared_regex(kGpt2Regex, false, "GPT-2 pattern");
  return regex;
}

std::string get_string(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) throw InputError(where, std::string("expected a string \"") + key + "\"");
  return it->get<std::string>();
}

bool get_bool(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return it->is_boolean() ? it->get<bool>() : fallback;
}

SplitBehavior parse_behavior(const std::string& s, const std::string& where) {
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  throw InputError(where, "unknown Split behavior \"" + s +
                              "\" (expected Isolated, Removed, MergedWithPrevious, MergedWithNext or Contiguous)");
}

const char* behavior_name(SplitBehavior b) {
  switch (b) {
    case SplitBehavior::kIsolated:
      return "Isolated";
    case SplitBehavior::kRemoved:
      return "Removed";
    case SplitBehavior::kMergedWithPrevious:
      return "MergedWithPrevious";
    case SplitBehavior::kMergedWithNext:
      return "MergedWithNext";
    case SplitBehavior::kContiguous:
      return "Contiguous";
  }
  return "Isolated";
}

// Hugging Face files nest a Sequence or two; the cap keeps a crafted file from recursing the stack away.
constexpr int kMaxSequenceDepth = 16;

void parse_step(const json& j, const std::string& where, std::vector<PreTokenizerStep>& steps, int depth = 0) {
  if (!j.is_object()) throw InputError(where, "expected a pre_tokenizer object");
  if (depth > kMaxSequenceDepth) {
    throw InputError(where,
                     "Sequence pre_tokenizers nested deeper than " + std::to_string(kMaxSequenceDepth) + " levels");
  }
  const std::string type = get_string(j, "type", where);
  PreTokenizerStep step;
  if (type == "Sequence") {
    auto it = j.find("pretokenizers");
    if (it == j.end() || !it->is_array()) throw InputError(where, "Sequence pre_tokenizer without \"pretokenizers\"");
    for (size_t i = 0; i < it->size(); ++i) parse_step((*it)[i], where, steps, depth + 1);
    return;
  }
  if (type == "ByteLevel") {
    step.kind = PreTokenizerStep::Kind::kByteLevel;
    step.add_prefix_space = get_bool(j, "add_prefix_space", false);
    step.trim_offsets = get_bool(j, "trim_offsets", true);
    if (get_bool(j, "use_regex", true)) step.regex = gpt2_regex();
  } else if (type == "Split") {
    step.kind = PreTokenizerStep::Kind::kSplit;
    auto pat = j.find("pattern");
    if (pat == j.end() || !pat->is_object())
      throw InputError(where, "Split pre_tokenizer without a \"pattern\" object");
    if (pat->contains("Regex") && (*pat)["Regex"].is_string()) {
      step.regex = shared_regex((*pat)["Regex"].get<std::string>(), false, where);
    } else if (pat->contains("String") && (*pat)["String"].is_string()) {
      step.regex = shared_regex((*pat)["String"].get<std::string>(), true, where);
    } else {
      throw InputError(where, "Split pattern must be {\"Regex\": ...} or {\"String\": ...}");
    }
    step.behavior = parse_behavior(j.contains("behavior") ? get_string(j, "behavior", where) : "Isolated", where);
    step.invert = get_bool(j, "invert", false);
  } else if (type == "Digits") {
    step.kind = PreTokenizerStep::Kind::kDigits;
    step.individual_digits = get_bool(j, "individual_digits", false);
  } else {
    throw InputError(where, "pre_tokenizer type \"" + type +
                                "\" is not supported (byte-level BPE supports Sequence, Split, ByteLevel, Digits)");
  }
  steps.push_back(std::move(step));
}

// Applies a split behaviour to matches that cover the piece: (begin, end, is_match) in order.
struct Span {
  size_t begin, end;
  bool match;
};

void apply_behavior(std::vector<Span>& spans, SplitBehavior behavior) {
  std::vector<Span> out;
  out.reserve(spans.size());
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      return;
    case SplitBehavior::kRemoved:
      std::erase_if(spans, [](const Span& s) { return s.match; });
      return;
    case SplitBehavior::kMergedWithPrevious:
      for (const Span& s : spans) {
        if (s.match && !previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back({s.begin, s.end, false});
        }
        previous_match = s.match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->match && !previous_match && !out.empty()) {
          out.back().begin = it->begin;
        } else {
          out.push_back({it->begin, it->end, false});
        }
        previous_match = it->match;
      }
      std::reverse(out.begin(), out.end());
      break;
    case SplitBehavior::kContiguous:
      for (const Span& s : spans) {
        if (s.match == previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back({s.begin, s.end, false});
        }
        previous_match = s.match;
      }
      break;
  }
  spans.swap(out);
}

}  // namespace

PreTokenizer PreTokenizer::from_preset(Preset preset) {
  PreTokenizer p;
  if (preset == Preset::kGpt2) {
    PreTokenizerStep step;
    step.kind = PreTokenizerStep::Kind::kByteLevel;
    step.regex = gpt2_regex();
    p.steps_.push_back(step);
    return p;
  }
  static const auto qwen2 = shared_regex(kQwen2Regex, false, "Qwen2 pattern");
  static const auto llama3 = shared_regex(kLlama3Regex, false, "Llama-3 pattern");
  PreTokenizerStep split;
  split.kind = PreTokenizerStep::Kind::kSplit;
  split.regex = preset == Preset::kQwen2 ? qwen2 : llama3;
  PreTokenizerStep byte_level;
  byte_level.kind = PreTokenizerStep::Kind::kByteLevel;
  byte_level.trim_offsets = false;
  p.steps_ = {split, byte_level};
  return p;
}

PreTokenizer PreTokenizer::from_json(const json& j, const std::string& where) {
  PreTokenizer p;
  if (j.is_null()) throw InputError(where, "pre_tokenizer is null: byte-level BPE needs a ByteLevel pre-tokenizer");
  parse_step(j, where, p.steps_);
  const bool has_byte_level = std::any_of(p.steps_.begin(), p.steps_.end(), [](const PreTokenizerStep& s) {
    return s.kind == PreTokenizerStep::Kind::kByteLevel;
  });
  if (!has_byte_level) {
    throw InputError(where, "pre_tokenizer has no ByteLevel step: only byte-level BPE tokenizers are supported");
  }
  return p;
}

json PreTokenizer::to_json() const {
  json list = json::array();
  for (const auto& s : steps_) {
    json j = json::object();
    switch (s.kind) {
      case PreTokenizerStep::Kind::kSplit:
        j["type"] = "Split";
        j["pattern"] = s.regex->literal() ? json{{"String", s.regex->pattern()}} : json{{"Regex", s.regex->pattern()}};
        j["behavior"] = behavior_name(s.behavior);
        j["invert"] = s.invert;
        break;
      case PreTokenizerStep::Kind::kByteLevel:
        j["type"] = "ByteLevel";
        j["add_prefix_space"] = s.add_prefix_space;
        j["trim_offsets"] = s.trim_offsets;
        j["use_regex"] = s.regex != nullptr;
        break;
      case PreTokenizerStep::Kind::kDigits:
        j["type"] = "Digits";
        j["individual_digits"] = s.individual_digits;
        break;
    }
    list.push_back(std::move(j));
  }
  if (list.size() == 1) return list[0];
  return json{{"type", "Sequence"}, {"pretokenizers", std::move(list)}};
}

std::string PreTokenizer::describe() const {
  std::string out;
  for (const auto& s : steps_) {
    if (!out.empty()) out += " + ";
    switch (s.kind) {
      case PreTokenizerStep::Kind::kSplit:
        out += std::string("Split(") + behavior_name(s.behavior) + (s.invert ? ", inverted" : "") + ")";
        if (*s.regex->builtin()) out += std::string("[") + s.regex->builtin() + " regex]";
        break;
      case PreTokenizerStep::Kind::kByteLevel:
        out += "ByteLevel";
        if (s.regex) out += "[gpt2 regex]";
        if (s.add_prefix_space) out += "[prefix space]";
        break;
      case PreTokenizerStep::Kind::kDigits:
        out += s.individual_digits ? "Digits(individual)" : "Digits";
        break;
    }
  }
  const bool builtin =
      std::all_of(steps_.begin(), steps_.end(), [](const auto& s) { return !s.regex || *s.regex->builtin(); });
  const bool jit = std::all_of(steps_.begin(), steps_.end(), [](const auto& s) { return !s.regex || s.regex->jit(); });
  out += builtin ? " (built-in matcher)" : jit ? " (PCRE2 JIT)" : " (PCRE2 interpreter)";
  return out;
}

void PreTokenizer::split(std::string_view text, FunctionRef<void(std::string_view)> emit) const {
  if (text.empty()) return;
  apply(0, text, emit);
}

void PreTokenizer::apply(size_t index, std::string_view piece, FunctionRef<void(std::string_view)> emit) const {
  if (piece.empty()) return;
  if (index == steps_.size()) {
    emit(piece);
    return;
  }
  const PreTokenizerStep& step = steps_[index];
  const size_t next = index + 1;

  if (step.kind == PreTokenizerStep::Kind::kByteLevel) {
    if (step.add_prefix_space && piece[0] != ' ') {
      // Recurse on an owned copy (the views handed on point into it while it lives).
      std::string with_space = " ";
      with_space.append(piece);
      if (!step.regex) {
        apply(next, with_space, emit);
        return;
      }
      size_t prev = 0;
      step.regex->for_each_match(with_space, [&](size_t b, size_t e) {
        if (b > prev) apply(next, std::string_view(with_space).substr(prev, b - prev), emit);
        apply(next, std::string_view(with_space).substr(b, e - b), emit);
        prev = e;
      });
      if (prev < with_space.size()) apply(next, std::string_view(with_space).substr(prev), emit);
      return;
    }
    if (!step.regex) {
      apply(next, piece, emit);
      return;
    }
  }

  if (step.kind == PreTokenizerStep::Kind::kDigits) {
    std::vector<Span> spans;
    size_t i = 0;
    while (i < piece.size()) {
      const bool digit = piece[i] >= '0' && piece[i] <= '9';
      size_t j = i + 1;
      if (!digit) {
        while (j < piece.size() && !(piece[j] >= '0' && piece[j] <= '9')) ++j;
      }
      spans.push_back({i, j, digit});
      i = j;
    }
    apply_behavior(spans, step.individual_digits ? SplitBehavior::kIsolated : SplitBehavior::kContiguous);
    for (const Span& s : spans) apply(next, piece.substr(s.begin, s.end - s.begin), emit);
    return;
  }

  // A regex split (Split, or ByteLevel with use_regex). The common case streams the pieces.
  if (step.behavior == SplitBehavior::kIsolated && !step.invert) {
    size_t prev = 0;
    step.regex->for_each_match(piece, [&](size_t b, size_t e) {
      if (b > prev) apply(next, piece.substr(prev, b - prev), emit);
      apply(next, piece.substr(b, e - b), emit);
      prev = e;
    });
    if (prev < piece.size()) apply(next, piece.substr(prev), emit);
    return;
  }
  std::vector<Span> spans;
  size_t prev = 0;
  step.regex->for_each_match(piece, [&](size_t b, size_t e) {
    if (b > prev) spans.push_back({prev, b, step.invert});
    spans.push_back({b, e, !step.invert});
    prev = e;
  });
  if (prev < piece.size()) spans.push_back({prev, piece.size(), step.invert});
  apply_behavior(spans, step.behavior);
  for (const Span& s : spans) apply(next, piece.substr(s.begin, s.end - s.begin), emit);
}

// ---- normaliser ------------------------------------------------------------------------------------------

namespace {
Normalizer normalizer_from_json(const json& j, const std::string& where, int depth) {
  if (j.is_null()) return Normalizer::kNone;
  if (!j.is_object()) throw InputError(where, "normalizer must be an object or null");
  if (depth > kMaxSequenceDepth) {
    throw InputError(where, "Sequence normalizers nested deeper than " + std::to_string(kMaxSequenceDepth) + " levels");
  }
  const std::string type = get_string(j, "type", where);
  if (type == "NFC") return Normalizer::kNfc;
  if (type == "Sequence") {
    Normalizer result = Normalizer::kNone;
    auto it = j.find("normalizers");
    if (it == j.end() || !it->is_array()) throw InputError(where, "Sequence normalizer without \"normalizers\"");
    for (const auto& n : *it) {
      if (normalizer_from_json(n, where, depth + 1) == Normalizer::kNfc) result = Normalizer::kNfc;
    }
    return result;
  }
  throw InputError(where, "normalizer type \"" + type + "\" is not supported (supported: NFC, or none)");
}
}  // namespace

Normalizer normalizer_from_json(const json& j, const std::string& where) { return normalizer_from_json(j, where, 0); }

Normalizer preset_normalizer(Preset preset) { return preset == Preset::kQwen2 ? Normalizer::kNfc : Normalizer::kNone; }

json normalizer_to_json(Normalizer n) { return n == Normalizer::kNfc ? json{{"type", "NFC"}} : json(nullptr); }

// ---- added tokens ------------------------------------------------------------------------------------------

namespace {

bool is_word_char(char32_t cp) {
  return cp == '_' || (unicode::properties(cp) & (unicode::kLetter | unicode::kNumber)) != 0 ||
         (cp >= 0x80 && unicode::combining_class(cp) != 0);
}

// The character that ends at `pos` (pos > 0); invalid bytes count as one non-word character.
char32_t char_before(std::string_view text, size_t pos, size_t& length) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = pos - 1;
  while (i > 0 && pos - i < 4 && (p[i] & 0xC0) == 0x80) --i;
  auto st = unicode::next_utf8(p + i, text.size() - i);
  if (st.kind == unicode::Utf8Kind::kValid && i + st.length == pos) {
    length = st.length;
    return st.cp;
  }
  length = 1;
  return 0xFFFD;
}

char32_t char_at(std::string_view text, size_t pos, size_t& length) {
  auto st = unicode::next_utf8(reinterpret_cast<const unsigned char*>(text.data()) + pos, text.size() - pos);
  length = std::max<size_t>(1, st.length);
  return st.kind == unicode::Utf8Kind::kValid ? st.cp : 0xFFFD;
}

bool is_space(char32_t cp) { return (unicode::properties(cp) & unicode::kSpace) != 0; }

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<const AddedToken*> tokens, std::vector<std::string> contents)
    : tokens_(std::move(tokens)), contents_(std::move(contents)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (contents_[i].empty()) continue;
    by_first_byte_[static_cast<unsigned char>(contents_[i][0])].push_back(static_cast<uint32_t>(i));
  }
  int distinct = 0;
  for (int b = 0; b < 256; ++b) {
    auto& list = by_first_byte_[b];
    if (list.empty()) continue;
    ++distinct;
    single_first_byte_ = b;
    std::stable_sort(list.begin(), list.end(),
                     [&](uint32_t x, uint32_t y) { return contents_[x].size() > contents_[y].size(); });
  }
  if (distinct != 1) single_first_byte_ = -1;
}

void AddedTokenMatcher::split(std::string_view text, FunctionRef<void(std::string_view)> on_text,
                              FunctionRef<void(const AddedToken&)> on_token) const {
  const size_t n = text.size();
  size_t start_offset = 0;  // end of the last accepted match
  size_t search = 0;
  while (search < n) {
    size_t p;
    if (single_first_byte_ >= 0) {
      const void* hit = std::memchr(text.data() + search, single_first_byte_, n - search);
      if (!hit) break;
      p = static_cast<size_t>(static_cast<const char*>(hit) - text.data());
    } else {
      p = search;
      while (p < n && by_first_byte_[static_cast<unsigned char>(text[p])].empty()) ++p;
      if (p == n) break;
    }
    int found = -1;
    for (uint32_t idx : by_first_byte_[static_cast<unsigned char>(text[p])]) {
      const std::string& c = contents_[idx];
      if (c.size() <= n - p && std::memcmp(text.data() + p, c.data(), c.size()) == 0) {
        found = static_cast<int>(idx);
        break;
      }
    }
    if (found < 0) {
      search = p + 1;
      continue;
    }
    size_t start = p, stop = p + contents_[found].size();
    search = stop;
    const AddedToken& token = *tokens_[found];
    if (start < start_offset) continue;  // inside white space an rstrip token already took
    if (token.single_word) {
      size_t len;
      const bool start_ok = start == 0 || !is_word_char(char_before(text, start, len));
      const bool stop_ok = stop == n || !is_word_char(char_at(text, stop, len));
      if (!start_ok || !stop_ok) continue;
    }
    if (token.lstrip) {
      size_t s = start, len;
      while (s > start_offset && is_space(char_before(text, s, len))) s -= len;
      start = s;
    }
    if (token.rstrip) {
      size_t len;
      while (stop < n && is_space(char_at(text, stop, len))) stop += len;
      search = stop;
    }
    if (start > start_offset) on_text(text.substr(start_offset, start - start_offset));
    on_token(token);
    start_offset = stop;
  }
  if (start_offset < n) on_text(text.substr(start_offset));
}

}  // namespace detail
}  // namespace attune::text
