// The speech-style head (io::TalkerConfig, the composite's "talker.*" tensors): from the language
// model's hidden state where the reply is about to be spoken, the emotion the reply's voice should
// carry and its style attributes, for the talker (src/tts) to render.
//
//   h [N, C] -> mlp.0 (C -> hidden) -> GELU -> ... -> mlp.{num_layers-1} (-> E + A)
//   emotion_logits [N, E] (E = config.emotions), attributes [N, A] (A = config.style_attributes)
//
// Attributes are in normalised units (style_targets in src/train says which): intensity in [0, 1],
// pitch = semitones / 12, pace = ln(rate), energy = dB / 12.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <filesystem>
#include <memory>

#include "io/model_config.h"
#include "model/language_model.h"

namespace attune::model {

struct TalkerOutput {
  at::Tensor emotion_logits;  // float32 [N, E]
  at::Tensor attributes;      // float32 [N, A]
};

class TalkerHeadImpl : public torch::nn::Module {
 public:
  explicit TalkerHeadImpl(const io::TalkerConfig& config, const InitOptions& init = {});
  TalkerOutput forward(const at::Tensor& hidden);
  const io::TalkerConfig& config() const { return config_; }

  // The head stored in a composite directory's weights under "talker.", or nullptr when the
  // directory has none. Strict like every loader (missing or mis-shaped tensors name the file).
  static std::shared_ptr<TalkerHeadImpl> from_pretrained(const std::filesystem::path& dir,
                                                         const io::TalkerConfig& config, at::Device device = at::kCPU);

 private:
  io::TalkerConfig config_;
  torch::nn::ModuleList mlp_{nullptr};
};
TORCH_MODULE(TalkerHead);

inline constexpr const char* kTalkerPrefix = "talker.";

}  // namespace attune::model
