// The adapter: speech-encoder frames (50 Hz, d_model) -> language-model input embeddings (50 / stride
// Hz, the LLM's hidden_size). Sizes come from io::AdapterConfig (input_size = encoder d_model,
// output_size = LLM hidden_size, hidden_size, stride, num_layers, activation); two types:
//
//   "conv" (frame-rate reduction by strided convolutions, then transformer layers):
//     subsample.{j}  Conv1d(k_j, stride s_j, padding (k_j-1)/2) + activation, one per prime factor s_j
//                    of `stride` in ascending order (4 = 2 x 2, 6 = 2 x 3; stride 1: one k=1 conv),
//                    k_j = s_j when odd, s_j + 1 when even; input_size -> hidden_size, then
//                    hidden_size -> hidden_size. Each gives ceil(T / s_j) frames.
//     layers.{i}     `num_layers` pre-LayerNorm transformer blocks of width hidden_size, the same
//                    block as the Whisper encoder's (EncoderLayer: self_attn.{q,k,v,out}_proj,
//                    self_attn_layer_norm, fc1, fc2, final_layer_norm); head_dim = gcd(hidden_size,
//                    64) (so heads = hidden_size / head_dim), ffn = 4 x hidden_size.
//     layer_norm     LayerNorm(hidden_size)
//     proj           Linear(hidden_size -> output_size)
//
//   "concat_mlp" (stacking; Ultravox / Qwen2-Audio-style projector, the config's default):
//     stack `stride` consecutive frames (the last group zero-padded) -> [ceil(T/stride), stride x input_size]
//     mlp.{i}        `num_layers` Linear layers (stride x input_size -> hidden_size -> ... -> output_size)
//                    with the activation between them (num_layers 1: one Linear to output_size).
//
// Either way T encoder frames give ceil(T / stride) embeddings (text::audio_slot_count counts them
// the same way). In a batch, `lengths` marks each row's real frames; a row's result equals that row
// adapted alone. Tensor names above are relative to the composite's "adapter." prefix.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

#include "io/model_config.h"

namespace attune::model {

struct AdapterOutput {
  torch::Tensor hidden;   // [B, T', output_size]; rows past a row's length are zero
  torch::Tensor lengths;  // [B] int64: ceil(T_b / stride)
};

class AdapterImpl : public torch::nn::Module {
 public:
  // Validates the config (ConfigError naming `adapter.<key>`) and builds a randomly initialised
  // adapter (normal(0, 0.02) weights, zero biases, unit LayerNorms).
  explicit AdapterImpl(io::AdapterConfig config);

  // x [B, T, input_size]; lengths [B] encoder frames per row (undefined: all T).
  AdapterOutput forward(const torch::Tensor& x, const torch::Tensor& lengths = {});
  // One sequence [T, input_size] -> [ceil(T / stride), output_size].
  torch::Tensor adapt(const torch::Tensor& x);

  int64_t output_frames(int64_t encoder_frames) const { return (encoder_frames + config_.stride - 1) / config_.stride; }
  // The conv type's stages (prime factors of the stride); empty for concat_mlp.
  const std::vector<int64_t>& stage_strides() const { return stage_strides_; }
  int64_t num_heads() const { return num_heads_; }
  const io::AdapterConfig& config() const { return config_; }

  // "conv"
  torch::nn::ModuleList subsample{nullptr};
  torch::nn::ModuleList layers{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};
  torch::nn::Linear proj{nullptr};
  // "concat_mlp"
  torch::nn::ModuleList mlp{nullptr};

 private:
  io::AdapterConfig config_;
  std::vector<int64_t> stage_strides_;
  int64_t num_heads_ = 0;
};
TORCH_MODULE(Adapter);

// Prime factors of `stride` in ascending order ({1} for 1): the conv adapter's stages.
std::vector<int64_t> adapter_stage_strides(int64_t stride);

}  // namespace attune::model
