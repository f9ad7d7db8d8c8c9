// Internal pieces of the byte-level BPE pipeline shared by the tokenizer and the trainer:
// the GPT-2 byte <-> unicode mapping, the Unicode regex (PCRE2, hidden behind a pimpl), the
// pre-tokenizer (a sequence of Split / ByteLevel / Digits steps as in tokenizer.json), the
// normaliser, and the added-token matcher. Not part of the public API (see tokenizer.h).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "text/tokenizer.h"

namespace attune::text::detail {

// ---- a callable reference without std::function's allocation -------------------------------------

template <class Sig>
class FunctionRef;
template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f) noexcept  // NOLINT(google-explicit-constructor)
      : obj_(const_cast<void*>(static_cast<const void*>(&f))), call_([](void* o, Args... a) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(a)...);
        }) {}
  R operator()(Args... a) const { return call_(obj_, std::forward<Args>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, Args...);
};

// ---- GPT-2's byte <-> unicode mapping ------------------------------------------------------------

// The code point GPT-2's bytes_to_unicode() gives byte `b` (printable Latin-1 bytes map to
// themselves, the other 68 to U+0100..U+0143).
char32_t byte_to_unicode(uint8_t b);
// Raw bytes -> the token spelling used in vocab.json / tokenizer.json ("Ġhello").
std::string bytes_to_token(std::string_view bytes);
// Token spelling -> raw bytes; false when some character is outside the mapping (then `out` is
// left unspecified).
bool token_to_bytes(std::string_view token, std::string& out);

// ---- regex ------------------------------------------------------------------------------------------

// A compiled Unicode regex (PCRE2, UTF + UCP, JIT when available). Matching never fails on invalid
// UTF-8: bytes of invalid sequences simply never match (PCRE2_MATCH_INVALID_UTF).
class Regex {
 public:
  // `hf_pattern` is written for Oniguruma, as in tokenizer.json; \s is widened to match U+0085 as
  // Oniguruma's does. `literal`: the pattern is a plain string (Split's {"String": ...}).
  Regex(const std::string& hf_pattern, bool literal, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls `on_match(begin, end)` for every non-overlapping, non-empty match, left to right. The
  // GPT-2, Qwen2 and Llama-3 patterns run on a hand-written matcher with the same results
  // (checked against PCRE2 by the tests), several times faster than the JIT.
  void for_each_match(std::string_view text, FunctionRef<void(size_t, size_t)> on_match) const;
  // Always PCRE2 (for tests and benchmarks of the hand-written matcher).
  void for_each_match_pcre2(std::string_view text, FunctionRef<void(size_t, size_t)> on_match) const;
  const std::string& pattern() const { return pattern_; }
  bool literal() const { return literal_; }
  bool jit() const;
  // "gpt2", "qwen2" or "llama3" when a hand-written matcher runs this pattern, else "".
  const char* builtin() const;

  enum class Builtin : uint8_t { kNone, kGpt2, kQwen2, kLlama3 };

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string pattern_;
  bool literal_;
  Builtin builtin_ = Builtin::kNone;
};

// Oniguruma -> PCRE2 pattern adjustments (exposed for tests).
std::string adapt_pattern(const std::string& hf_pattern);

// ---- pre-tokenizer ------------------------------------------------------------------------------

enum class SplitBehavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct PreTokenizerStep {
  enum class Kind { kSplit, kByteLevel, kDigits } kind = Kind::kSplit;
  std::shared_ptr<const Regex> regex;  // kSplit; kByteLevel with use_regex (the GPT-2 pattern)
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  bool add_prefix_space = false;   // kByteLevel
  bool trim_offsets = true;        // kByteLevel (kept for writing back; offsets are not computed)
  bool individual_digits = false;  // kDigits
};

class PreTokenizer {
 public:
  PreTokenizer() = default;
  static PreTokenizer from_preset(Preset preset);
  // `where` names the file for error messages.
  static PreTokenizer from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;

  // Splits `text` into the pieces BPE runs on (never empty ones).
  void split(std::string_view text, FunctionRef<void(std::string_view)> emit) const;
  std::string describe() const;

 private:
  void apply(size_t step, std::string_view piece, FunctionRef<void(std::string_view)> emit) const;
  std::vector<PreTokenizerStep> steps_;
};

// ---- normaliser -----------------------------------------------------------------------------------

enum class Normalizer { kNone, kNfc };
Normalizer normalizer_from_json(const nlohmann::json& j, const std::string& where);
Normalizer preset_normalizer(Preset preset);
nlohmann::json normalizer_to_json(Normalizer n);

// ---- added tokens -----------------------------------------------------------------------------------

// Finds added tokens in text the way Hugging Face's AddedVocabulary does: leftmost-longest
// matches, then single_word / lstrip / rstrip applied to each.
class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  // `contents[i]` is what to look for (the token's content, normalised when token.normalized).
  AddedTokenMatcher(std::vector<const AddedToken*> tokens, std::vector<std::string> contents);
  bool empty() const { return tokens_.empty(); }

  // Splits `text`: on_text(piece) for the text between matches (possibly empty pieces are
  // skipped), on_token(token) for each match.
  void split(std::string_view text, FunctionRef<void(std::string_view)> on_text,
             FunctionRef<void(const AddedToken&)> on_token) const;

 private:
  std::vector<const AddedToken*> tokens_;
  std::vector<std::string> contents_;
  std::array<std::vector<uint32_t>, 256> by_first_byte_;  // indices, longest first
  int single_first_byte_ = -1;                            // >= 0 when all start with one byte
};

}  // namespace attune::text::detail
