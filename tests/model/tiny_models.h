// Sizes of the tiny spoken language model the model tests build (fast on a CPU, every part present).
#pragma once

#include "io/model_config.h"
#include "text/tokenizer.h"

namespace attune::model {

// Whisper-style encoder (d_model 32, 2 layers), conv adapter (stride 4), Qwen2 LM (hidden 48,
// 2 layers, GQA 4/2) whose vocabulary is the tokenizer's and whose end of turn is <|im_end|>.
inline io::SlmConfig tiny_slm_config(const text::Tokenizer& tokenizer) {
  io::SlmConfig c;
  auto& e = c.encoder.config;
  e.d_model = 32;
  e.encoder_layers = 2;
  e.encoder_attention_heads = 4;
  e.encoder_ffn_dim = 64;
  e.num_mel_bins = 80;
  e.max_source_positions = 64;
  e.decoder_layers = 0;
  c.adapter.type = "conv";
  c.adapter.stride = 4;
  c.adapter.num_layers = 1;
  c.adapter.hidden_size = 32;
  auto& lm = c.language_model.config;
  lm = io::language_model_defaults(io::ModelFamily::kQwen2);
  lm.vocab_size = tokenizer.vocab_size();
  lm.hidden_size = 48;
  lm.intermediate_size = 96;
  lm.num_hidden_layers = 2;
  lm.num_attention_heads = 4;
  lm.num_key_value_heads = 2;
  lm.head_dim = 12;
  lm.max_position_embeddings = 512;
  lm.tie_word_embeddings = false;
  lm.eos_token_ids = {tokenizer.token_to_id("<|im_end|>")};
  return c;
}

}  // namespace attune::model
