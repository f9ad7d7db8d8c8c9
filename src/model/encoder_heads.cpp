#include "model/encoder_heads.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

#include <algorithm>
#include <cmath>

#include "attune/error.h"
#include "audio/prosody.h"
#include "io/safetensors.h"
#include "model/speech_encoder.h"
#include "model/weights.h"

namespace attune::model {

EncoderHeadsImpl::EncoderHeadsImpl(const io::EncoderHeadsConfig& config, const InitOptions& init,
                                   const SpeechEncoderImpl* shared)
    : config_(config) {
  if (config.input_size <= 0 || config.hidden_size <= 0 || config.emotions.empty()) {
    throw ConfigError("encoder_heads: input_size and hidden_size must be positive and emotions non-empty");
  }
  if (config.ctc_encoder) {
    if (shared == nullptr || shared->config().d_model != config.input_size) {
      throw ConfigError("encoder_heads.ctc_encoder: needs the shared speech encoder's shape (d_model = input_size)");
    }
    ctc_encoder_ = register_module("ctc_encoder", SpeechEncoder(shared->config(), shared->options()));
    ctc_encoder_->to(init.device, init.dtype);
  }
  const int64_t c = config.input_size;
  auto scaled = [](int64_t in) { return 1.0 / std::sqrt(static_cast<double>(in)); };
  ctc_ = register_module("ctc",
                         Projection(c, 1 + static_cast<int64_t>(config.ctc_alphabet.size()), true, init, scaled(c)));
  pool_ = register_module("pool", Projection(c, 1, true, init, scaled(c)));
  ctc_layers_ = register_module("ctc_layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.ctc_layers; ++i) {
    EncoderLayer layer(EncoderLayerOptions{.embed_dim = c, .num_heads = c % 64 == 0 ? c / 64 : 1, .ffn_dim = 4 * c});
    // Both residual branches start at zero, so a block added to trained heads changes nothing until
    // it has learnt something.
    at::NoGradGuard no_grad;
    for (auto* linear : {layer->self_attn->out_proj.get(), layer->fc2.get()}) {
      linear->weight.zero_();
      linear->bias.zero_();
    }
    layer->to(init.device, init.dtype);
    ctc_layers_->push_back(layer);
  }
  const int64_t p = static_cast<int64_t>(config.prosody_features.size());
  const auto& names = audio::prosody_feature_names();
  for (const std::string& f : config.prosody_features) {
    const auto it = std::find(names.begin(), names.end(), f);
    if (it == names.end()) throw ConfigError("encoder_heads.prosody_features: unknown prosody feature \"" + f + "\"");
    prosody_index_.push_back(static_cast<size_t>(it - names.begin()));
  }
  const auto options = at::TensorOptions().dtype(init.dtype).device(init.device);
  prosody_mean_ = register_parameter("prosody_mean", at::zeros({p}, options), /*requires_grad=*/false);
  prosody_std_ = register_parameter("prosody_std", at::ones({p}, options), /*requires_grad=*/false);
  mlp_ = register_module("mlp", torch::nn::ModuleList());
  mlp_->push_back(Projection(2 * c + p, config.hidden_size, true, init, scaled(2 * c + p)));
  mlp_->push_back(Projection(config.hidden_size, static_cast<int64_t>(config.emotions.size()) + 1, true, init,
                             scaled(config.hidden_size)));
  prosody_expert_ = register_module("prosody_expert", torch::nn::ModuleList());
  if (config.prosody_expert_hidden > 0) {
    if (p == 0) throw ConfigError("encoder_heads.prosody_expert_hidden: the expert needs prosody_features");
    const int64_t h = config.prosody_expert_hidden;
    prosody_expert_->push_back(Projection(p, h, true, init, scaled(p)));
    prosody_expert_->push_back(Projection(h, static_cast<int64_t>(config.emotions.size()), true, init, scaled(h)));
  }
}

std::vector<float> EncoderHeadsImpl::select_prosody(const std::vector<double>& all_values) const {
  std::vector<float> out;
  for (size_t i : prosody_index_) out.push_back(i < all_values.size() ? static_cast<float>(all_values[i]) : NAN);
  return out;
}

void EncoderHeadsImpl::set_prosody_statistics(const std::vector<double>& mean, const std::vector<double>& stddev) {
  const size_t p = prosody_index_.size();
  if (mean.size() != p || stddev.size() != p) throw InputError("encoder heads: prosody statistics of the wrong size");
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < p; ++i) {
    prosody_mean_[static_cast<int64_t>(i)] = std::isfinite(mean[i]) ? mean[i] : 0.0;
    prosody_std_[static_cast<int64_t>(i)] = std::isfinite(stddev[i]) && stddev[i] > 0 ? stddev[i] : 1.0;
  }
}

at::Tensor EncoderHeadsImpl::standardised_prosody(const at::Tensor& prosody, int64_t rows) const {
  const int64_t p = static_cast<int64_t>(prosody_index_.size());
  if (!prosody.defined() || prosody.dim() != 2 || prosody.size(0) != rows || prosody.size(1) != p) {
    throw InputError("encoder heads: expected prosody functionals [" + std::to_string(rows) + ", " + std::to_string(p) +
                     "]");
  }
  const at::Tensor x = prosody.to(prosody_mean_.device(), at::kFloat);
  const at::Tensor z = (x - prosody_mean_.to(at::kFloat)) / prosody_std_.to(at::kFloat);
  return at::nan_to_num(z, 0.0, 0.0, 0.0).clamp(-5, 5);
}

at::Tensor EncoderHeadsImpl::expert_forward(const at::Tensor& z) {
  const at::Tensor y = prosody_expert_[0]->as<ProjectionImpl>()->forward(z);
  return prosody_expert_[1]->as<ProjectionImpl>()->forward(at::gelu(y)).to(at::kFloat);
}

at::Tensor EncoderHeadsImpl::prosody_expert_logits(const at::Tensor& prosody) {
  if (prosody_expert_->is_empty()) throw InputError("encoder heads: no prosody expert");
  const at::Tensor z = standardised_prosody(prosody, prosody.dim() == 2 ? prosody.size(0) : -1);
  return expert_forward(z.to(ctc_->weight.scalar_type()));
}

EncoderHeadsOutput EncoderHeadsImpl::forward(const at::Tensor& hidden, const at::Tensor& lengths, bool with_ctc,
                                             const at::Tensor& prosody, const at::Tensor& ctc_hidden) {
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
  std::vector<at::Tensor> parts = {attended, mean};
  at::Tensor z;
  if (!prosody_index_.empty()) {
    z = standardised_prosody(prosody, B).to(h.scalar_type());
    parts.push_back(z);
  }
  at::Tensor x = mlp_[0]->as<ProjectionImpl>()->forward(at::cat(parts, -1));
  x = mlp_[1]->as<ProjectionImpl>()->forward(at::gelu(x)).to(at::kFloat);
  const int64_t e = static_cast<int64_t>(config_.emotions.size());
  out.head_logits = x.narrow(-1, 0, e);
  out.emotion_logits = out.head_logits;
  out.intensity = at::sigmoid(x.select(-1, e));
  if (!prosody_expert_->is_empty()) {
    out.prosody_logits = expert_forward(z);
    const double w = config_.prosody_expert_weight;
    out.emotion_logits = (1 - w) * at::log_softmax(out.head_logits, -1) + w * at::log_softmax(out.prosody_logits, -1);
  }
  if (with_ctc) {
    if (ctc_encoder_ && (!ctc_hidden.defined() || ctc_hidden.sizes() != hidden.sizes())) {
      throw InputError("encoder heads: the CTC path needs its own encoder's states, shaped like the shared ones");
    }
    out.ctc_logits = transcription_logits(ctc_encoder_ ? ctc_hidden : h, lengths);
  }
  return out;
}

at::Tensor EncoderHeadsImpl::transcription_logits(const at::Tensor& states, const at::Tensor& lengths) {
  at::Tensor x = states.to(ctc_->weight.scalar_type());
  if (!ctc_layers_->is_empty()) {
    const at::Tensor mask =
        lengths.defined() ? padding_mask(lengths.to(x.device()), x.size(1), x.scalar_type()) : at::Tensor();
    for (const auto& layer : *ctc_layers_) x = layer->as<EncoderLayer>()->forward(x, mask);
  }
  return ctc_->forward(x).to(at::kFloat);
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
    if (k != 0 && k != previous && k - 1 < static_cast<int64_t>(alphabet.size())) {
      const std::string& symbol = alphabet[static_cast<size_t>(k - 1)];
      // Words are separated by one space: a space that opens the text or follows one says nothing.
      if (symbol != " " || (!text.empty() && text.back() != ' ')) text += symbol;
    }
    previous = k;
  }
  if (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

}  // namespace attune::model
