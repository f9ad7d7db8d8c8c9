#include "model/style_head.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

#include "attune/error.h"
#include "io/safetensors.h"
#include "model/torch_error.h"
#include "model/weights.h"

namespace fs = std::filesystem;

namespace attune::model {

StyleHeadImpl::StyleHeadImpl(const io::StyleHeadConfig& config, const InitOptions& init) : config_(config) {
  if (config.input_size <= 0 || config.hidden_size <= 0 || config.num_layers <= 0) {
    throw ConfigError("style_head: input_size, hidden_size and num_layers must be positive (got " +
                      std::to_string(config.input_size) + ", " + std::to_string(config.hidden_size) + ", " +
                      std::to_string(config.num_layers) + ")");
  }
  if (config.emotions.empty()) throw ConfigError("style_head.emotions: expected at least one emotion");
  const int64_t outputs = static_cast<int64_t>(config.emotions.size() + config.style_attributes.size());
  mlp_ = register_module("mlp", torch::nn::ModuleList());
  int64_t in = config.input_size;
  for (int64_t i = 0; i < config.num_layers; ++i) {
    const bool last = i + 1 == config.num_layers;
    const int64_t out = last ? outputs : config.hidden_size;
    // Scaled like a Linear's default (1/sqrt(in)) so the first logits are near uniform.
    mlp_->push_back(Projection(in, out, /*bias=*/true, init, 1.0 / std::sqrt(static_cast<double>(in))));
    in = out;
  }
}

StyleHeadOutput StyleHeadImpl::forward(const at::Tensor& hidden) {
  at::Tensor x = hidden.to(at::kFloat);
  for (size_t i = 0; i < mlp_->size(); ++i) {
    x = mlp_[i]->as<ProjectionImpl>()->forward(x.to(mlp_[i]->as<ProjectionImpl>()->weight.scalar_type()));
    if (i + 1 < mlp_->size()) x = at::gelu(x);
  }
  x = x.to(at::kFloat);
  const int64_t e = static_cast<int64_t>(config_.emotions.size());
  return {x.narrow(-1, 0, e), x.narrow(-1, e, x.size(-1) - e)};
}

std::shared_ptr<StyleHeadImpl> StyleHeadImpl::from_pretrained(const fs::path& dir, const io::StyleHeadConfig& config,
                                                              at::Device device) {
  return with_torch_context("loading the speech-style head", [&]() -> std::shared_ptr<StyleHeadImpl> {
    if (!fs::exists(dir / io::kSafetensorsSingleName) && !fs::exists(dir / io::kSafetensorsIndexName)) {
      return nullptr;
    }
    auto checkpoint = io::SafetensorsCheckpoint::open(dir);
    const char* prefix = nullptr;  // the current name, else the legacy one
    for (const char* p : {kStyleHeadPrefix, kLegacyStyleHeadPrefix}) {
      for (const auto& name : checkpoint.names()) {
        if (!prefix && name.rfind(p, 0) == 0) prefix = p;
      }
    }
    if (!prefix) return nullptr;
    auto head = std::make_shared<StyleHeadImpl>(config, InitOptions{.random = false});
    head->to(device);
    load_weights(*head, checkpoint, {.prefix = prefix, .allow_extra = true});
    return head;
  });
}

}  // namespace attune::model
