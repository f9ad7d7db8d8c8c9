#include "model/adapter.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/conv.h>

#include <numeric>
#include <sstream>

#include "attune/error.h"
#include "model/speech_encoder.h"

namespace attune::model {
namespace {

void init_weights(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.named_parameters(/*recurse=*/false)) {
    if (p.key() == "weight") torch::nn::init::normal_(p.value(), 0.0, 0.02);
    if (p.key() == "bias") torch::nn::init::zeros_(p.value());
  }
}

void require_positive(const char* key, int64_t value) {
  if (value <= 0) {
    throw ConfigError(std::string("adapter config: key `adapter.") + key + "`: expected a positive integer, got " +
                      std::to_string(value));
  }
}

// Zeroes frames t >= lengths[b] of x [B, T, C] (no-op when every row is full).
torch::Tensor zero_padding(const torch::Tensor& x, const torch::Tensor& lengths) {
  const int64_t T = x.size(1);
  if (lengths.min().item<int64_t>() >= T) return x;
  auto keep = torch::arange(T, lengths.options()).unsqueeze(0) < lengths.unsqueeze(1);
  return x * keep.unsqueeze(2).to(x.scalar_type());
}

}  // namespace

std::vector<int64_t> adapter_stage_strides(int64_t stride) {
  if (stride < 1) throw ConfigError("adapter config: key `adapter.stride`: expected a positive integer");
  if (stride == 1) return {1};
  std::vector<int64_t> factors;
  for (int64_t f = 2; f * f <= stride; ++f) {
    while (stride % f == 0) {
      factors.push_back(f);
      stride /= f;
    }
  }
  if (stride > 1) factors.push_back(stride);
  return factors;
}

AdapterImpl::AdapterImpl(io::AdapterConfig config) : config_(std::move(config)) {
  if (config_.type != "conv" && config_.type != "concat_mlp") {
    throw ConfigError("adapter config: key `adapter.type`: expected \"concat_mlp\" or \"conv\", got \"" + config_.type +
                      "\"");
  }
  if (config_.hidden_size == 0) config_.hidden_size = config_.output_size;
  require_positive("stride", config_.stride);
  require_positive("num_layers", config_.num_layers);
  require_positive("input_size", config_.input_size);
  require_positive("hidden_size", config_.hidden_size);
  require_positive("output_size", config_.output_size);
  check_activation(config_.activation, "adapter config: key `adapter.activation`");
  const int64_t H = config_.hidden_size;

  if (config_.type == "conv") {
    stage_strides_ = adapter_stage_strides(config_.stride);
    subsample = register_module("subsample", torch::nn::ModuleList());
    int64_t in = config_.input_size;
    for (int64_t s : stage_strides_) {
      const int64_t k = (s % 2 == 1) ? s : s + 1;
      torch::nn::Conv1d conv(torch::nn::Conv1dOptions(in, H, k).stride(s).padding((k - 1) / 2));
      init_weights(*conv);
      subsample->push_back(conv);
      in = H;
    }
    const int64_t head_dim = std::gcd(H, int64_t{64});
    num_heads_ = H / head_dim;
    layers = register_module("layers", torch::nn::ModuleList());
    EncoderLayerOptions lo;
    lo.embed_dim = H;
    lo.num_heads = num_heads_;
    lo.ffn_dim = 4 * H;
    lo.activation = config_.activation;
    for (int64_t i = 0; i < config_.num_layers; ++i) layers->push_back(EncoderLayer(lo));
    layer_norm = register_module("layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({H}).eps(1e-5)));
    proj = register_module("proj", torch::nn::Linear(H, config_.output_size));
    init_weights(*proj);
  } else {
    mlp = register_module("mlp", torch::nn::ModuleList());
    int64_t in = config_.stride * config_.input_size;
    for (int64_t i = 0; i < config_.num_layers; ++i) {
      const int64_t out = (i + 1 == config_.num_layers) ? config_.output_size : H;
      torch::nn::Linear linear(in, out);
      init_weights(*linear);
      mlp->push_back(linear);
      in = out;
    }
  }
}

AdapterOutput AdapterImpl::forward(const torch::Tensor& x_in, const torch::Tensor& lengths_in) {
  try {
    if (!x_in.defined() || x_in.dim() != 3 || x_in.size(2) != config_.input_size) {
      std::ostringstream got;
      if (x_in.defined()) got << x_in.sizes();
      throw InputError("adapter: expected encoder frames [batch, frames, " + std::to_string(config_.input_size) +
                       "] (adapter.input_size), got " + (x_in.defined() ? got.str() : "an undefined tensor"));
    }
    const auto& ref = (config_.type == "conv") ? proj->weight : mlp[0]->as<torch::nn::Linear>()->weight;
    auto x = x_in.to(ref.device(), ref.scalar_type());
    const int64_t B = x.size(0), T = x.size(1);
    if (T < 1) throw InputError("adapter: the input has no frames");
    torch::Tensor lengths;
    if (lengths_in.defined()) {
      lengths = lengths_in.to(torch::kInt64).to(ref.device());
      if (lengths.dim() != 1 || lengths.size(0) != B) throw InputError("adapter: lengths must have one entry per row");
      const int64_t lo = lengths.min().item<int64_t>(), hi = lengths.max().item<int64_t>();
      if (lo < 1 || hi > T) {
        throw InputError("adapter: lengths must be in [1, " + std::to_string(T) + "] frames, got " +
                         std::to_string(lo < 1 ? lo : hi));
      }
    } else {
      lengths = torch::full({B}, T, torch::TensorOptions().dtype(torch::kInt64).device(ref.device()));
    }

    torch::Tensor h;
    if (config_.type == "conv") {
      h = x;
      for (size_t j = 0; j < stage_strides_.size(); ++j) {
        const int64_t s = stage_strides_[j];
        h = zero_padding(h, lengths);  // what the row would see alone: zeros past its end
        h = activation(config_.activation, subsample[j]->as<torch::nn::Conv1d>()->forward(h.transpose(1, 2)))
                .transpose(1, 2);
        lengths = (lengths + (s - 1)).div(s, "floor");
      }
      auto mask = padding_mask(lengths, h.size(1), h.scalar_type());
      for (const auto& layer : *layers) h = layer->as<EncoderLayer>()->forward(h, mask);
      h = proj(layer_norm(h));
    } else {
      const int64_t s = config_.stride, Tp = (T + s - 1) / s;
      h = zero_padding(x, lengths);
      if (Tp * s != T) h = torch::cat({h, torch::zeros({B, Tp * s - T, h.size(2)}, h.options())}, 1);
      h = h.reshape({B, Tp, s * config_.input_size});
      lengths = (lengths + (s - 1)).div(s, "floor");
      const int64_t n = static_cast<int64_t>(mlp->size());
      for (int64_t i = 0; i < n; ++i) {
        h = mlp[i]->as<torch::nn::Linear>()->forward(h);
        if (i + 1 < n) h = activation(config_.activation, h);
      }
    }
    return {zero_padding(h, lengths), lengths};
  } catch (const c10::Error& e) {
    throw Error(std::string("adapter: ") + e.what_without_backtrace());
  }
}

torch::Tensor AdapterImpl::adapt(const torch::Tensor& x) {
  if (!x.defined() || x.dim() != 2) {
    throw InputError("adapter: adapt() expects one sequence [frames, " + std::to_string(config_.input_size) + "]");
  }
  return forward(x.unsqueeze(0)).hidden[0];
}

}  // namespace attune::model
