// A small byte-level BPE with attune's special tokens (audio slots, <think>), trained in the test on
// two sentences of an empathetic exchange: enough for chat templates, shards and tiny models.
#pragma once

#include <cstdint>

#include "text/bpe_trainer.h"
#include "text/tokenizer.h"

namespace attune::testing {

inline text::Tokenizer small_tokenizer(int32_t vocab_size = 400, int repetitions = 20) {
  text::BpeTrainerOptions options;
  options.vocab_size = vocab_size;
  text::BpeTrainer trainer(options);
  for (int i = 0; i < repetitions; ++i) {
    trainer.add_text("I failed my exam today and I feel terrible. That sounds really hard; what happened?");
    trainer.add_text("The user sounds sad: low pitch, slow pace. Validate first, then ask about the exam.");
  }
  trainer.train();
  return trainer.tokenizer();
}

}  // namespace attune::testing
