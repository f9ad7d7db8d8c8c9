// Perplexity of the corpus replies under a model's language model, in the text view (transcript and
// voice description in, the corpus thinking given): how well the model has learnt to answer.
// Reported per token and per whitespace word; only the per-word figure compares models whose
// tokenizers differ.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace attune::eval {

struct ReplyPerplexityOptions {
  std::filesystem::path dialogues;             // dialogues.jsonl of `attune data build` (text or voiced)
  std::string corpus = "empatheticdialogues";  // meta.corpus to keep ("" = all)
  int64_t limit = 0;                           // dialogues at most (0: all)
  int64_t max_tokens = 2048;                   // per window; longer dialogues are split, as in training
  bool int8 = false;  // the language model's weights quantised to int8 (docs/decode.md), else float32
};

struct ReplyPerplexity {
  int64_t dialogues = 0, windows = 0, replies = 0, tokens = 0, words = 0;
  double nll = 0;  // summed over the reply tokens, nats

  double per_token() const;  // exp(nll / tokens)
  double per_word() const;   // exp(nll / words)
  nlohmann::json summary() const;
};

// `model_dir`: an attune_slm directory (its language model is scored) or a decoder LM directory;
// either holds the tokenizer.json the text is rendered with.
ReplyPerplexity evaluate_reply_perplexity(const std::filesystem::path& model_dir,
                                          const ReplyPerplexityOptions& options);

}  // namespace attune::eval
