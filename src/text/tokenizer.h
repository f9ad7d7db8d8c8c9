// Byte-level BPE tokenizer (GPT-2 / Qwen2 / Qwen2.5 / Qwen3 / Llama-3 style), loaded from a Hugging
// Face tokenizer.json or from a vocab.json + merges.txt pair. Torch-free.
//
//   auto tok = attune::text::Tokenizer::load("models/qwen2");   // a file or a directory
//   std::vector<int32_t> ids = tok.encode("<|im_start|>user\nHello!<|im_end|>");
//   std::string text = tok.decode(ids);                          // == the input, byte for byte
//
//   attune::text::StreamDecoder stream(tok);                      // for generation
//   for (int32_t id : generated) std::fputs(stream.push(id).c_str(), stdout);
//   std::fputs(stream.finish().c_str(), stdout);
//
// encode() works like Hugging Face's `encode(text, add_special_tokens=False)`: added/special tokens
// written in the text are matched first (e.g. "<|im_end|>" becomes one id), the rest is normalised
// (NFC when the file says so), pre-tokenised by the split regex and byte-level BPE-encoded. No BOS/EOS
// is ever added (the chat template writes those). Any byte string can be encoded; invalid UTF-8
// is encoded byte for byte, so decode(encode(x)) == x for every x.
//
// Thread safety: a Tokenizer is immutable after loading (its word cache is internally
// synchronised); share one across threads. Copies are cheap (they share the loaded data).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace attune::text {

// Built-in pre-tokenisation schemes: the split regex (and, for Qwen2, the NFC normaliser).
enum class Preset {
  kGpt2,    // 's|'t|... | ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ ; no normaliser
  kQwen2,   // Llama-3-like regex with single digits, NFC (Qwen2, Qwen2.5, Qwen3)
  kLlama3,  // Llama-3 regex (digits in groups of up to 3); no normaliser
};
// "gpt2", "qwen2", "llama3".
std::string_view preset_name(Preset preset);
// Accepts the names above; throws ConfigError naming the value otherwise.
Preset parse_preset(std::string_view name);
// The split regex (Oniguruma/PCRE syntax, as written in tokenizer.json).
const std::string& preset_regex(Preset preset);

// A token matched in the raw text before BPE (Hugging Face's AddedToken).
struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = true;       // skipped by decode() with skip_special
  bool single_word = false;  // only matches when not inside a word
  bool lstrip = false;       // swallows white space on its left
  bool rstrip = false;       // swallows white space on its right
  bool normalized = false;   // matched in the normalised text instead of the raw text
};

// The special tokens attune's chat format needs (ChatML, audio slots, thinking), in the order the
// trainer assigns them ids.
const std::vector<std::string>& default_special_tokens();

struct DecodeOptions {
  bool skip_special = false;     // leave out tokens marked special (e.g. <|im_end|>)
  bool replace_invalid = false;  // turn invalid UTF-8 into U+FFFD instead of returning raw bytes
};

struct VocabMergesOptions {
  // The pre-tokenisation of a vocab.json + merges.txt pair. nullopt: read tokenizer_config.json
  // beside vocab.json when present ("tokenizer_class": "Qwen2Tokenizer" -> kQwen2, and its
  // "added_tokens_decoder" become the added tokens), else kGpt2.
  std::optional<Preset> preset;
};

class StreamDecoder;

class Tokenizer {
 public:
  // `path`: a tokenizer.json, a directory holding tokenizer.json or vocab.json + merges.txt, or a
  // vocab.json with merges.txt beside it. Throws InputError naming the file and the problem.
  static Tokenizer load(const std::filesystem::path& path);
  static Tokenizer from_tokenizer_json(const std::filesystem::path& file);
  // The contents of a tokenizer.json; `source` names it in error messages.
  static Tokenizer from_json_text(std::string_view json, const std::string& source = "<tokenizer.json>");
  static Tokenizer from_vocab_merges(const std::filesystem::path& vocab_json, const std::filesystem::path& merges_txt,
                                     const VocabMergesOptions& options = {});

  Tokenizer(const Tokenizer&) = default;
  Tokenizer& operator=(const Tokenizer&) = default;
  Tokenizer(Tokenizer&&) noexcept = default;
  Tokenizer& operator=(Tokenizer&&) noexcept = default;
  ~Tokenizer();

  // Text -> ids; added/special tokens written in the text become their ids.
  std::vector<int32_t> encode(std::string_view text) const;
  // Text -> ids treating added/special tokens as plain text (for untrusted user content).
  std::vector<int32_t> encode_ordinary(std::string_view text) const;
  // Appends to `ids` (no allocation when it has room).
  void encode_into(std::string_view text, std::vector<int32_t>& ids, bool match_added_tokens = true) const;

  // Ids -> text. Throws InputError for an id outside [0, vocab_size()) or with no token.
  std::string decode(std::span<const int32_t> ids, const DecodeOptions& options = {}) const;

  // One past the largest id (the size an embedding table needs).
  int32_t vocab_size() const;
  // The id of a token written as in tokenizer.json ("<|im_start|>", "Ġhello"); throws InputError
  // when there is none.
  int32_t token_to_id(std::string_view token) const;
  std::optional<int32_t> find_token(std::string_view token) const;
  // The token as written in tokenizer.json; throws InputError for an unknown id.
  std::string id_to_token(int32_t id) const;
  // The bytes the token stands for (what decode() emits for it).
  std::string_view token_bytes(int32_t id) const;
  bool is_special(int32_t id) const;
  const std::vector<AddedToken>& added_tokens() const;
  size_t merge_count() const;
  // Where it was loaded from.
  const std::string& source() const;
  // One line: "byte-level BPE, 151665 ids (151643 + 22 added), 151387 merges, NFC, split: ...".
  std::string describe() const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
  friend class StreamDecoder;
};

// A hex digest of what the tokenizer maps (every token's bytes in id order, the added tokens and
// the merge count), so data rendered with one tokenizer is recognised when another is used.
std::string fingerprint(const Tokenizer& tokenizer);

// Decodes ids one at a time for streaming output. A character whose UTF-8 bytes are spread over
// several tokens is held back until complete, so every returned piece is whole characters; the
// concatenation of all pieces equals decode(all ids). With replace_invalid, bytes that can never
// become valid UTF-8 come out as U+FFFD (one per maximal ill-formed subpart) as soon as known.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, DecodeOptions options = {});
  // The text completed by this token (often empty while a multi-byte character is in flight).
  std::string push(int32_t id);
  std::string push(std::span<const int32_t> ids);
  // Whatever is still held back (an incomplete sequence at the very end), then reset().
  std::string finish();
  void reset() { pending_.clear(); }
  size_t pending_bytes() const { return pending_.size(); }

 private:
  std::string drain(bool final);
  std::shared_ptr<const Tokenizer::Impl> impl_;
  DecodeOptions options_;
  std::string pending_;
};

}  // namespace attune::text
