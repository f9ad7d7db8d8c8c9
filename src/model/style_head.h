// The speech-style head (io::StyleHeadConfig, the composite's "style_head.*" tensors): from the language
// model's hidden state where the reply is about to be spoken, the emotion the reply's voice should
// carry and its style attributes, for the talker (src/tts, speech synthesis) to render.
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

struct StyleHeadOutput {
  at::Tensor emotion_logits;  // float32 [N, E]
  at::Tensor attributes;      // float32 [N, A]
};

class StyleHeadImpl : public torch::nn::Module {
 public:
  explicit StyleHeadImpl(const io::StyleHeadConfig& config, const InitOptions& init = {});
  StyleHeadOutput forward(const at::Tensor& hidden);
  const io::StyleHeadConfig& config() const { return config_; }

  // The head stored in a composite directory's weights under "style_head." (or the legacy "talker."), or nullptr when
  // the directory has none. Strict like every loader (missing or mis-shaped tensors name the file).
  static std::shared_ptr<StyleHeadImpl> from_pretrained(const std::filesystem::path& dir,
                                                        const io::StyleHeadConfig& config,
                                                        at::Device device = at::kCPU);

 private:
  io::StyleHeadConfig config_;
  torch::nn::ModuleList mlp_{nullptr};
};
TORCH_MODULE(StyleHead);

inline constexpr const char* kStyleHeadPrefix = "style_head.";
// The prefix before the head was renamed (format_version 1 directories written until v3.1); read, never written.
inline constexpr const char* kLegacyStyleHeadPrefix = "talker.";

}  // namespace attune::model
