// The unified spoken language model (docs/design.md): speech encoder -> adapter -> decoder LLM.
//
//   user audio -> log-mel [M, T] -> SpeechEncoder [ceil(T/2), d_model] -> Adapter [N, C]
//   ChatTemplate::render -> ids [L] with runs of <|AUDIO|> (audio_slots: first, count)
//   inputs_embeds [1, L, C] = embed_tokens(ids), with the adapter's N rows placed exactly at each
//                             slot run (count must equal N) -> LanguageModel
//
// Shapes: B batch, L prompt tokens, M mel bins, T mel frames, N audio embeddings of one turn, C the
// LLM's hidden_size, V vocab_size.
//
// Submodules are registered so that named_parameters() are exactly the composite checkpoint's keys
// (docs/model-files.md): "encoder.model.encoder.<Whisper name>", "adapter.<adapter name>",
// "language_model.<HF decoder name>".
//
//   auto slm = model::SpokenLanguageModel::from_pretrained("models/attune-base");
//   text::RenderedChat chat = tmpl.render(messages, {.add_generation_prompt = true});
//   model::SlmExample ex = model::make_example(chat, {mel_of_turn_1});     // one log-mel per slot
//   auto out = slm->forward({ex});                        // training: logits, hidden states
//   auto result = slm->generate(ex, options, &tokenizer);  // inference: prefill + KV-cache decode
//   // or step by step: cache = slm->make_cache(512); logits = slm->prefill(ex, cache);
//   //                  logits = slm->decode_step(next_id, cache); ...
//
// Weights are immutable during inference and may serve several sessions, each with its own cache.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "audio/log_mel.h"
#include "io/model_config.h"
#include "io/safetensors.h"
#include "model/adapter.h"
#include "model/encoder_heads.h"
#include "model/language_model.h"
#include "model/speech_encoder.h"
#include "model/style_head.h"
#include "text/chat_template.h"

namespace attune::model {

// One prompt (or training sequence): rendered ids, where the audio goes, and the audio itself.
struct SlmExample {
  std::vector<int32_t> ids;
  std::vector<text::AudioSlot> audio_slots;  // ascending, non-overlapping runs inside ids
  std::vector<torch::Tensor> mels;           // one log-mel [num_mel_bins, frames] per slot, in slot order
};

// From ChatTemplate::render's result and one log-mel per audio slot.
SlmExample make_example(const text::RenderedChat& chat, std::vector<torch::Tensor> mels);

// A batch ready for the language model (right-padded).
struct SlmInputs {
  torch::Tensor inputs_embeds;   // [B, L_max, C], padding rows zero
  torch::Tensor attention_mask;  // [B, L_max] int64, 1 = real token; undefined when no row is padded
  std::vector<int64_t> lengths;  // L of each row
};

struct SlmLoadOptions {
  at::ScalarType dtype = at::kFloat;  // kFloat or kBFloat16: every component's weights and compute
  at::Device device = at::kCPU;
  SpeechEncoderOptions encoder;
  // A composite whose weights have no adapter.* tensors: keep the adapter's random initialisation
  // (the start of stage 1) instead of failing.
  bool allow_untrained_adapter = false;
  // The language model's weights in int8 (LanguageModelImpl::quantize_int8) after a float32 load.
  bool int8_language_model = false;
  // Overrides config.json's encoder_heads.words_in_prompt (a training stage that teaches the language
  // model to read the CTC words beside the audio, or stops it; recipe key model.words_in_prompt).
  std::optional<bool> words_in_prompt;
};

struct SlmSaveOptions {
  io::Dtype dtype = io::Dtype::kF32;
  // Also write the tensors of components given by `path` (e.g. after fine-tuning the encoder);
  // off: they stay in their own directories and the new config points there.
  bool include_path_components = false;
  // The speech-style head to store under "style_head." (none: the composite has no style-head tensors).
  const StyleHeadImpl* style_head = nullptr;
};

class SpokenLanguageModelImpl : public torch::nn::Module {
 public:
  // Validates the config (ConfigError naming the key; adapter/style-head sizes left at 0 are filled from
  // the components first) and builds every component in options.dtype on options.device, with
  // random weights (each component's own initialisation; seed with torch::manual_seed).
  // random_init false leaves the language model's memory uninitialised, for a checkpoint to fill.
  explicit SpokenLanguageModelImpl(io::SlmConfig config, const SlmLoadOptions& options = {}, bool random_init = true);

  // Loads a composite directory: config.json ("model_type": "attune_slm") and its weights
  // (model.safetensors or a sharded index; may be absent when every tensor lives elsewhere).
  // Per component: tensors under its prefix in the composite's weights win; otherwise a component
  // given by `path` loads from that HF directory; otherwise InputError (the adapter: unless
  // allow_untrained_adapter). Loading is strict (missing, unexpected, mis-shaped tensors name the
  // tensor and file); composite tensors outside encoder./adapter./language_model./style_head. are errors
  // (style_head.*, or the legacy talker.*, belongs to the speech-style head and is left to it).
  static std::shared_ptr<SpokenLanguageModelImpl> from_pretrained(const std::filesystem::path& dir,
                                                                  const SlmLoadOptions& options = {});
  // Writes config.json (component paths rewritten relative to `dir`) and model.safetensors.
  void save_pretrained(const std::filesystem::path& dir, const SlmSaveOptions& options = {}) const;

  // ---- pieces ----
  // Log-mels [M, T_i] -> adapter embeddings [N_i, C] (LLM dtype), batched through encoder and adapter.
  // With `heard` and encoder heads: also the heads' emotion and intensity per input, and with
  // `with_ctc` their CTC logits; `prosody` [B, P]: each input's prosody functionals, when the heads
  // read them.
  std::vector<torch::Tensor> embed_audio(const std::vector<torch::Tensor>& mels, EncoderHeadsOutput* heard = nullptr,
                                         const torch::Tensor& prosody = {}, bool with_ctc = false);
  // embed_tokens(ids) with audio_embeds[i] placed at audio_slots[i] -> [1, L, C]. InputError when
  // the numbers of slots and embeddings differ, a slot lies outside ids, or a slot's count differs
  // from its embeddings' length (both numbers in the message).
  torch::Tensor splice(std::span<const int32_t> ids, std::span<const text::AudioSlot> audio_slots,
                       const std::vector<torch::Tensor>& audio_embeds);
  // Every example's embeddings (all audio of the batch encoded together), right-padded.
  SlmInputs prepare(const std::vector<SlmExample>& examples);

  // ---- training ----
  // Logits (float32 [B, L_max, V]) and, with options.output_hidden_states, the LLM's hidden states.
  // options.attention_mask/position_ids are set from the batch; options.cache must be null.
  ForwardOutput forward(const std::vector<SlmExample>& examples, ForwardOptions options = {});

  // ---- inference ----
  // A KV cache for one sequence (capacity grows up to max_position_embeddings).
  KvCache make_cache(int64_t capacity) const;
  // Appends the example's embeddings to the cache (a first prompt, or the next turn of a session)
  // and returns the float32 logits [V] that follow its last position.
  torch::Tensor prefill(const SlmExample& example, KvCache& cache);
  // Feeds one generated token; returns the float32 logits [V] of the next position.
  torch::Tensor decode_step(int32_t token, KvCache& cache);
  // Prompt processing with the spliced embeddings, then token-by-token decoding with the LLM's KV
  // cache (model::generate); stop tokens, sampling and callbacks as in GenerateOptions.
  GenerateResult generate(const SlmExample& prompt, const GenerateOptions& options,
                          const text::Tokenizer* tokenizer = nullptr);

  const io::SlmConfig& config() const { return config_; }
  SpeechEncoderImpl& encoder() { return *encoder_; }
  AdapterImpl& adapter() { return *adapter_; }
  LanguageModelImpl& language_model() { return *language_model_; }
  // The encoder's direct heads (config "encoder_heads"), or nullptr when the model has none.
  EncoderHeadsImpl* encoder_heads() { return encoder_heads_ ? encoder_heads_.get() : nullptr; }
  // Adds fresh heads (the encoder pre-training stage); replaces any the model had.
  void attach_encoder_heads(io::EncoderHeadsConfig heads);
  // Audio embeddings (<|AUDIO|> slots) that `mel_frames` log-mel frames give.
  int64_t audio_embeddings_for(int64_t mel_frames) const;

 private:
  io::SlmConfig config_;
  SpeechEncoder encoder_{nullptr};
  Adapter adapter_{nullptr};
  LanguageModel language_model_{nullptr};
  EncoderHeads encoder_heads_{nullptr};
  std::filesystem::path source_dir_;  // from_pretrained's directory: files the config names are copied from it
};
TORCH_MODULE(SpokenLanguageModel);

// The device and dtype ModelLoadOptions' strings resolve to ("auto": CUDA when available; bf16 on
// CUDA and on CPUs with native bf16). ConfigError for an unknown or unavailable device.
SlmLoadOptions resolve_slm_load_options(const ModelLoadOptions& options);
// The log-mel settings the composite's encoder expects (its mel bins, real frames only, no 30 s pad).
audio::LogMelOptions slm_log_mel_options(const io::SlmConfig& config);
// ConfigError when `dir`'s config.json is not an attune_slm composite (naming its model_type).
void require_spoken_model(const std::filesystem::path& dir);
// A composite directory's tokenizer, checked against the model: InputError naming the file when it is
// missing, has more ids than `vocab_size`, or lacks the audio tokens.
text::Tokenizer load_slm_tokenizer(const std::filesystem::path& dir, int64_t vocab_size);

}  // namespace attune::model
