#include "model/encoder_heads.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

#include <cmath>

#include "attune/error.h"
#include "io/safetensors.h"
#include "model/weights.h"

namespace attune::model {

EncoderHeadsImpl::EncoderHeadsImpl(const io::EncoderHeadsConfig& config, const InitOptions& init) : config_(config) {
  if (config.input_size <= 0 || config.hidden_size <= 0 || config.emotions.empty()) {
    throw ConfigError("encoder_heads: input_size and hidden_size must be positive and emotions non-empty");
  }
  const int64_t c = config.input_size;
  auto scaled = [](int64_t in) { return 1.0 / std::sqrt(static_cast<double>(in)); };
  ctc_ = register_module("ctc",
                         Projection(c, 1 + static_cast<int64_t>(config.ctc_alphabet.size()), true, init, scaled(c)));
  pool_ = register_module("pool", Projection(c, 1, true, init, scaled(c)));
  mlp_ = register_module("mlp", torch::nn::ModuleList());
  mlp_->push_back(Projection(2 * c, config.hidden_size, true, init, scaled(2 * c)));
  mlp_->push_back(Projection(config.hidden_size, static_cast<int64_t>(config.emotions.size()) + 1, true, init,
                             scaled(config.hidden_size)));
}

EncoderHeadsOutput EncoderHeadsImpl::forward(const at::Tensor& hidden, const at::Tensor& lengths, bool with_ctc) {
  EncoderHeadsOutput out;
  const at::Tensor h = hidden.to(ctc_->weight.scalar_type());
  const int64_t B = h.size(0), T = h.size(1);
  at::Tensor valid;  // [B, T] 1 for real frames
  if (lengths.defined()) {
    valid = at::arange(T, at::TensorOptions().device(h.device())).unsqueeze(0).lt(lengths.to(h.device()).unsqueeze(1));
  } else {
    valid = at::ones({B, T}, at::TensorOptions().dtype(at::kBool).device(h.device()));
  }
  const at::Tensor scores = pool_->forward(h).squeeze(-1).to(at::kFloat).masked_fill(valid.logical_not(), -INFINITY);
  const at::Tensor weights = at::softmax(scores, -1).to(h.scalar_type()).unsqueeze(-1);
  const at::Tensor attended = (weights * h).sum(1);
  const at::Tensor vf = valid.to(h.scalar_type()).unsqueeze(-1);
  const at::Tensor mean = (h * vf).sum(1) / vf.sum(1).clamp_min(1);
  at::Tensor x = mlp_[0]->as<ProjectionImpl>()->forward(at::cat({attended, mean}, -1));
  x = mlp_[1]->as<ProjectionImpl>()->forward(at::gelu(x)).to(at::kFloat);
  const int64_t e = static_cast<int64_t>(config_.emotions.size());
  out.emotion_logits = x.narrow(-1, 0, e);
  out.intensity = at::sigmoid(x.select(-1, e));
  if (with_ctc) out.ctc_logits = ctc_->forward(h).to(at::kFloat);
  return out;
}

void EncoderHeadsImpl::load(const io::SafetensorsCheckpoint& checkpoint) {
  load_weights(*this, checkpoint, {.prefix = kEncoderHeadsPrefix, .allow_extra = true});
}

std::string ctc_greedy_decode(const at::Tensor& logits, const std::vector<std::string>& alphabet) {
  const at::Tensor best = logits.argmax(-1).to(at::kCPU, at::kLong).contiguous();
  const int64_t* p = best.data_ptr<int64_t>();
  std::string text;
  int64_t previous = 0;
  for (int64_t t = 0; t < best.numel(); ++t) {
    const int64_t k = p[t];
    if (k != 0 && k != previous && k - 1 < static_cast<int64_t>(alphabet.size())) text += alphabet[k - 1];
    previous = k;
  }
  return text;
}

}  // namespace attune::model
