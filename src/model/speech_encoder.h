// The speech encoder: Whisper's encoder (Radford et al. 2022), written so that Hugging Face Whisper
// checkpoints load unchanged (tensor names as in transformers' WhisperEncoder).
//
//   log-mel [B, n_mels, T]  (audio::LogMelExtractor, 100 frames per second)
//     conv1  Conv1d(n_mels -> d_model, k=3, padding 1) + GELU(erf)
//     conv2  Conv1d(d_model -> d_model, k=3, stride 2, padding 1) + GELU(erf)   -> ceil(T/2) frames, 50 Hz
//     + embed_positions.weight[0 .. T'-1]      (sinusoids, stored as [max_source_positions, d_model])
//     layers.{i}: pre-LayerNorm transformer blocks
//         x += out_proj(attn(self_attn_layer_norm(x)))      q/v/out_proj biased, k_proj without bias
//         x += fc2(act(fc1(final_layer_norm(x))))
//     layer_norm                                              -> [B, T', d_model]
//
// Shapes: B batch, M = num_mel_bins, T mel frames, T' = ceil(T/2) encoder frames, C = d_model,
// H heads, D = C / H.
//
// Differences from transformers, on purpose: inputs shorter than Whisper's 30 s window are encoded
// as they are (no padding to 3000 frames; attention over the real frames only, positions
// 0..T'-1), as whisper.cpp's audio_ctx and Qwen2-Audio do; longer inputs are cut into windows of
// 2 x max_source_positions mel frames (30 s), encoded independently and concatenated, so a
// T-frame input always gives ceil(T/2) frames (text::audio_slot_count relies on that). In a batch,
// `lengths` marks the real frames of each row: the result for a row equals encoding that row
// alone, unpadded.
//
// Thread-safety: forward() does not modify the module; one loaded encoder may serve many threads.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/model_config.h"

namespace attune::audio {
struct LogMel;
}
namespace attune::io {
class SafetensorsCheckpoint;
}

namespace attune::model {

// ---- building blocks (shared with the adapter) -------------------------------------------------

// The activations transformers' ACT2FN names for these configs: "gelu" (erf), "gelu_new",
// "gelu_fast", "gelu_pytorch_tanh" (tanh approximation), "quick_gelu" (x * sigmoid(1.702 x)),
// "relu", "silu"/"swish", "tanh". Throws ConfigError for any other name.
torch::Tensor activation(std::string_view name, const torch::Tensor& x);
// Throws ConfigError "KEY: unknown activation ..." unless activation() knows `name`.
void check_activation(std::string_view name, const std::string& key);

// Whisper's sinusoidal position table [length, channels]: for t < length and i < channels/2,
// table[t, i] = sin(t * exp(-i * log(10000) / (channels/2 - 1))), table[t, channels/2 + i] = cos(same).
// `channels` must be even and >= 4.
torch::Tensor whisper_sinusoids(int64_t length, int64_t channels);

// Additive attention mask [B, 1, 1, T] (0 for real frames, -inf for padding) from frame counts
// [B]; undefined when every row is full (no masking needed).
torch::Tensor padding_mask(const torch::Tensor& lengths, int64_t frames, torch::ScalarType dtype);

// Multi-head self-attention as in WhisperAttention (bias on q/v/out_proj, none on k_proj,
// queries scaled by D^-0.5).
struct SelfAttentionImpl : torch::nn::Module {
  SelfAttentionImpl(int64_t embed_dim, int64_t num_heads, double dropout = 0.0);
  // x [B, T, C]; mask: additive, broadcastable to [B, H, T, T], or undefined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask = {});

  int64_t embed_dim, num_heads, head_dim;
  double dropout;
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
};
TORCH_MODULE(SelfAttention);

// One pre-LayerNorm transformer block of Whisper's encoder (WhisperEncoderLayer).
struct EncoderLayerOptions {
  int64_t embed_dim = 0;
  int64_t num_heads = 0;
  int64_t ffn_dim = 0;
  std::string activation = "gelu";
  double dropout = 0.0;             // after attention and fc2 (training only)
  double attention_dropout = 0.0;   // on the attention weights
  double activation_dropout = 0.0;  // after the activation of fc1
  double layer_norm_eps = 1e-5;     // torch.nn.LayerNorm's default, as Whisper uses
};

struct EncoderLayerImpl : torch::nn::Module {
  explicit EncoderLayerImpl(const EncoderLayerOptions& options);
  // x [B, T, C]; mask as for SelfAttention.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask = {});

  EncoderLayerOptions options;
  SelfAttention self_attn{nullptr};
  torch::nn::LayerNorm self_attn_layer_norm{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::nn::LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(EncoderLayer);

// ---- the encoder -------------------------------------------------------------------------------

struct SpeechEncoderOptions {
  // Inputs longer than one window (2 x max_source_positions mel frames: 30 s for Whisper) are
  // encoded window by window and concatenated. false: such an input is an error.
  bool allow_long_input = true;
  // The longest input accepted, in seconds of audio (100 mel frames per second); 0: no limit.
  double max_audio_seconds = 600.0;
};

struct EncoderOutput {
  torch::Tensor hidden;   // [B, T', C]; rows past a row's length are zero
  torch::Tensor lengths;  // [B] int64: ceil(T_b / 2) encoder frames per row
};

class SpeechEncoderImpl : public torch::nn::Module {
 public:
  // Validates the config (ConfigError naming the key) and builds a randomly initialised encoder
  // (normal(0, 0.02) weights, zero biases, unit LayerNorms; embed_positions = the sinusoids,
  // frozen as in Whisper). Load weights with load_weights().
  explicit SpeechEncoderImpl(io::WhisperConfig config, SpeechEncoderOptions options = {});

  // mel [B, M, T] (or [M, T], treated as B = 1); lengths [B] mel frames per row (undefined: all
  // T). Inputs are moved to the encoder's device and dtype. Throws InputError when M differs from
  // num_mel_bins, a length is outside [1, T], or the input is longer than the options allow.
  EncoderOutput forward(const torch::Tensor& mel, const torch::Tensor& lengths = {});
  // One input [M, T] -> [ceil(T/2), C].
  torch::Tensor encode(const torch::Tensor& mel);
  // A LogMelExtractor result -> [ceil(frames/2), C].
  torch::Tensor encode(const audio::LogMel& mel);
  // Several inputs of any lengths, batched (with windows) -> one [ceil(T_i/2), C] per input.
  std::vector<torch::Tensor> encode(const std::vector<torch::Tensor>& mels);

  // Mel frames per window (2 x max_source_positions) and encoder frames for T mel frames.
  int64_t window_frames() const { return 2 * config_.max_source_positions; }
  static int64_t output_frames(int64_t mel_frames) { return (mel_frames + 1) / 2; }

  const io::WhisperConfig& config() const { return config_; }
  const SpeechEncoderOptions& options() const { return options_; }

  torch::nn::Conv1d conv1{nullptr}, conv2{nullptr};
  torch::nn::Embedding embed_positions{nullptr};
  torch::nn::ModuleList layers{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};

 private:
  // One batch of inputs that each fit a window: x [N, M, W], lengths [N] (<= W).
  torch::Tensor encode_windows(const torch::Tensor& x, const torch::Tensor& lengths);
  void check_input(int64_t mel_bins, int64_t frames) const;

  io::WhisperConfig config_;
  SpeechEncoderOptions options_;
};
TORCH_MODULE(SpeechEncoder);

// The prefix under which an encoder's tensors sit in `checkpoint`, tried in this order:
// `outer` + "model.encoder." (WhisperForConditionalGeneration, WhisperModel saved as a whole),
// `outer` + "encoder." , `outer` (a bare encoder). Throws InputError naming the checkpoint and the
// names tried when none has conv1.weight.
std::string find_encoder_prefix(const io::SafetensorsCheckpoint& checkpoint, const std::string& outer = "");

// Loads HF Whisper encoder weights into `encoder`: every parameter must be present under the prefix
// found by find_encoder_prefix with the parameter's shape; a tensor under that prefix that the
// encoder does not have is an error (a full Whisper checkpoint's decoder, outside the prefix, is
// ignored). Any float dtype is converted to the encoder's. Throws InputError naming the tensor.
void load_weights(SpeechEncoderImpl& encoder, const io::SafetensorsCheckpoint& checkpoint,
                  const std::string& outer = "");

}  // namespace attune::model
