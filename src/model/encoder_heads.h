// Direct heads on the speech encoder (io::EncoderHeadsConfig, the composite's "encoder_heads.*"
// tensors), trained by the encoder pre-training stage so the encoder learns to hear words and
// feelings without the language model in the loop (docs/training.md, "Encoder pre-training").
//
//   encoder states h [B, T', C] (real frames per row: lengths)
//     with ctc_encoder, the CTC path reads g [B, T', C] from a speech encoder of its own
//     (ctc_encoder.*, the shared encoder's shape and frames) instead of h
//     ctc_layers.{i}  (config ctc_layers of them) the encoder's pre-LayerNorm transformer block,
//                     C wide, C / 64 heads (1 unless 64 divides C), 4C feed-forward; a fresh block
//                     starts as the identity
//     ctc      Linear(C -> 1 + alphabet)                   per-frame character logits, 0 = blank
//     pool     Linear(C -> 1): attention weights over the real frames
//     prosody functionals x [B, P] -> z = clamp((x - prosody_mean) / prosody_std, -5, 5), NaN -> 0
//     [attention-pooled h ; mean of h ; z] [B, 2C + P] -> mlp.0 (-> hidden) -> GELU -> mlp.1 (-> E + 1)
//     head_logits [B, E], intensity = sigmoid(last output) [B]
//   with prosody_expert_hidden > 0, a classifier over z alone:
//     z -> prosody_expert.0 (-> expert hidden) -> GELU -> prosody_expert.1 (-> E) = prosody_logits
//     emotion_logits = (1 - w) log_softmax(head_logits) + w log_softmax(prosody_logits)
//   else emotion_logits = head_logits. Each classifier is trained on its own loss; the fusion is
//   for reading. The head also hears the words, and leans on them where they read neutral but the
//   voice does not; the prosody expert cannot.
// The prosody functionals (config prosody_features, measured by audio::analyse_prosody) give the
// head the classical evidence from the first step; the learnt states add what they miss.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <filesystem>
#include <memory>

#include "io/model_config.h"
#include "model/language_model.h"
#include "model/speech_encoder.h"

namespace attune::io {
class SafetensorsCheckpoint;
}

namespace attune::model {

struct EncoderHeadsOutput {
  at::Tensor ctc_logits;      // float32 [B, T', 1 + alphabet]; undefined unless asked for
  at::Tensor emotion_logits;  // float32 [B, E]: the heard emotion (fused when there is a prosody expert)
  at::Tensor head_logits;     // float32 [B, E]: the head alone
  at::Tensor prosody_logits;  // float32 [B, E]: the prosody expert alone; undefined without one
  at::Tensor intensity;       // float32 [B], in (0, 1)
  at::Tensor frames;          // int64 [B] real frames per row; set by SpokenLanguageModel::embed_audio
};

class EncoderHeadsImpl : public torch::nn::Module {
 public:
  // `shared`: the shared speech encoder, whose shape and options a config.ctc_encoder takes.
  explicit EncoderHeadsImpl(const io::EncoderHeadsConfig& config, const InitOptions& init = {},
                            const SpeechEncoderImpl* shared = nullptr);
  // hidden [B, T', C]; lengths [B] real frames per row (undefined: all). Padding never reaches the
  // pooled vector, so a row's result equals encoding that row alone.
  // prosody [B, P] raw functionals (NaN allowed), required when the config names prosody features.
  // ctc_hidden [B, T', C]: the ctc_encoder's states of the same audio, required for CTC logits
  // when the heads have a ctc_encoder.
  EncoderHeadsOutput forward(const at::Tensor& hidden, const at::Tensor& lengths = {}, bool with_ctc = false,
                             const at::Tensor& prosody = {}, const at::Tensor& ctc_hidden = {});
  const io::EncoderHeadsConfig& config() const { return config_; }
  // The CTC path alone: states [B, T', C] (the ctc_encoder's when there is one, else the shared
  // ones), lengths [B] (undefined: all) -> logits float32 [B, T', 1 + alphabet].
  at::Tensor transcription_logits(const at::Tensor& states, const at::Tensor& lengths = {});
  // Transcription's own speech encoder, or nullptr when the CTC path reads the shared states.
  SpeechEncoderImpl* ctc_encoder() { return ctc_encoder_ ? ctc_encoder_.get() : nullptr; }

  // The prosody expert alone: raw functionals [B, P] (NaN allowed) -> logits [B, E]. Needs an expert.
  at::Tensor prosody_expert_logits(const at::Tensor& prosody);

  // The config's prosody features picked out of audio::analyse_prosody's values.
  std::vector<float> select_prosody(const std::vector<double>& all_values) const;
  // Sets the standardisation (from training clips); std entries <= 0 become 1.
  void set_prosody_statistics(const std::vector<double>& mean, const std::vector<double>& stddev);

  // Loads "encoder_heads.*" from `checkpoint` (strict: missing or mis-shaped tensors name the file).
  void load(const io::SafetensorsCheckpoint& checkpoint);

 private:
  // (x - mean) / std, NaN -> 0, clamped to +-5: float [rows, P]; InputError on another shape.
  at::Tensor standardised_prosody(const at::Tensor& prosody, int64_t rows) const;
  at::Tensor expert_forward(const at::Tensor& z);

  io::EncoderHeadsConfig config_;
  Projection ctc_{nullptr}, pool_{nullptr};
  torch::nn::ModuleList ctc_layers_{nullptr};  // empty: the projection reads h itself
  SpeechEncoder ctc_encoder_{nullptr};
  at::Tensor prosody_mean_, prosody_std_;  // [P], not trained
  std::vector<size_t> prosody_index_;      // into audio::prosody_feature_names()
  torch::nn::ModuleList mlp_{nullptr};
  torch::nn::ModuleList prosody_expert_{nullptr};  // empty without an expert
};
TORCH_MODULE(EncoderHeads);

inline constexpr const char* kEncoderHeadsPrefix = "encoder_heads.";

// Greedy CTC decoding of one row's logits [T', 1 + alphabet]: the best class per frame, repeats
// merged, blanks dropped, mapped through the alphabet; no space at either end or twice in a row.
std::string ctc_greedy_decode(const at::Tensor& logits, const std::vector<std::string>& alphabet);

}  // namespace attune::model
