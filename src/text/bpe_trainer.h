// Byte-level BPE training: learns merges from text and writes a Hugging Face tokenizer.json that
// Tokenizer::load (and the `tokenizers` library) read back.
//
//   attune::text::BpeTrainerOptions options;
//   options.vocab_size = 8192;                    // 256 bytes + merges + special tokens
//   attune::text::BpeTrainer trainer(options);
//   trainer.add_file("corpus.jsonl");             // or add_text(...)
//   trainer.train();
//   trainer.save("out/tokenizer.json");           // atomically
//
// The vocabulary starts with the 256 bytes in GPT-2's order (ids 0-255 as in GPT-2 and Qwen2),
// then one id per merge, then the special tokens. Words are counted once after pre-tokenisation
// (the preset's regex, NFC for qwen2; special tokens in the text are cut out first); pair counts
// are kept up to date incrementally, so each merge only touches the words that contain its pair.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "text/tokenizer.h"

namespace attune::text {

struct BpeTrainerOptions {
  int32_t vocab_size = 8192;       // total ids: 256 bytes + merges + special tokens
  int64_t min_frequency = 2;       // pairs seen fewer times are never merged
  Preset preset = Preset::kQwen2;  // pre-tokenisation (and NFC for qwen2) of training and use
  std::vector<std::string> special_tokens = default_special_tokens();
  bool progress = false;  // progress bars on stderr (counting, merging)

  // Throws ConfigError naming the option.
  void validate() const;
};

struct BpeTrainingStats {
  int64_t bytes = 0;         // text bytes counted
  int64_t texts = 0;         // add_text calls (documents, lines of JSONL, ...)
  int64_t words = 0;         // pre-tokens
  int64_t unique_words = 0;  // distinct pre-tokens
  int64_t merges = 0;        // merges learned
  double count_seconds = 0, merge_seconds = 0;
};

// Which texts a file holds (used by the trainer and the tokenizer benchmark):
//   *.jsonl / *.json   the string values of the keys in `json_fields`, at any depth; each is one text
//   anything else      the file's text, in blocks of whole lines
//   *.gz               decompressed first (zlib), the name without .gz decides the above
struct TrainingTextOptions {
  std::vector<std::string> json_fields = {"text", "utterance", "content", "response", "response_text", "situation"};
  size_t block_bytes = size_t(1) << 20;
};
// Calls `on_text` for every text of `path`; throws InputError naming the file when it cannot be read
// or a JSON line is malformed.
void for_each_training_text(const std::filesystem::path& path, const std::function<void(std::string_view)>& on_text,
                            const TrainingTextOptions& options = {});

class BpeTrainer {
 public:
  explicit BpeTrainer(BpeTrainerOptions options = {});
  ~BpeTrainer();
  BpeTrainer(const BpeTrainer&) = delete;
  BpeTrainer& operator=(const BpeTrainer&) = delete;

  // Counts the words of a text.
  void add_text(std::string_view text);
  // Counts the words of every text of a file (see for_each_training_text).
  void add_file(const std::filesystem::path& path, const TrainingTextOptions& options = {});
  // Learns merges until the vocabulary is full or no pair occurs min_frequency times.
  void train();

  // The trained tokenizer as tokenizer.json text (call after train()).
  std::string to_json() const;
  // Writes to_json() through a temporary file (creating the directory); never leaves half a file.
  void save(const std::filesystem::path& path) const;
  // The trained tokenizer, ready to use.
  Tokenizer tokenizer() const;

  const BpeTrainingStats& stats() const;
  const BpeTrainerOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace attune::text
