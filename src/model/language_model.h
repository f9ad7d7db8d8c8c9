// The decoder language model: the Qwen2 family (Qwen2 / Qwen2.5, Qwen3, Llama) in libtorch.
//
// Shapes: B batch, T new tokens, S = cached + T key positions, C hidden_size, H attention heads,
// G = H / KV query heads per key/value head, KV key/value heads, D head_dim, F intermediate_size,
// V vocab_size.
//
//   x = embed_tokens(ids)                                     [B, T, C]
//   per layer:  x = x + o_proj(attn(rope(q_norm?(q_proj(rms(x)))), rope(k_norm?(k_proj(..))), v_proj(..)))
//               x = x + down_proj(silu(gate_proj(rms(x))) * up_proj(rms(x)))
//   logits = lm_head(norm(x))  (lm_head = embed_tokens.weight when tied)    [B, T, V]
//
// RMSNorm: x / sqrt(mean(x^2) + eps) * w, computed in float32. RoPE: Hugging Face's rotate_half
// convention (the two halves of each head are the (real, imaginary) pairs, not interleaved), inverse
// frequencies theta^(-2i/D), with Llama-3 and linear rope_scaling. Attention: causal, scaled by
// D^-0.5, softmax in float32; grouped-query heads share their key/value head without copying it.
//
// Submodules carry the Hugging Face names, so named_parameters() are exactly the checkpoint keys:
//   model.embed_tokens.weight, model.layers.{i}.self_attn.{q,k,v,o}_proj.{weight,bias},
//   model.layers.{i}.self_attn.{q,k}_norm.weight (Qwen3), model.layers.{i}.mlp.{gate,up,down}_proj.weight,
//   model.layers.{i}.{input,post_attention}_layernorm.weight, model.norm.weight, lm_head.weight (not tied).
//
//   auto lm = model::LanguageModel::from_pretrained("Qwen2.5-0.5B", {.dtype = torch::kBFloat16});
//   auto out = lm->forward(ids);                      // ids: int64 [B, T]; out.logits: float32 [B, T, V]
//   auto emb = lm->embed_tokens(ids);                 // splice audio embeddings into emb, then
//   out = lm->forward_embeds(emb, {.output_hidden_states = true});
//   model::KvCache cache = lm->make_cache(1, 512);    // incremental decoding: see kv_cache.h
//
// Weights are immutable during inference and can serve many caches (sessions); forward() on one model
// from several threads at once is allowed when each uses its own cache.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/model_config.h"
#include "io/safetensors.h"
#include "model/generate.h"
#include "model/kv_cache.h"

namespace attune::text {
class Tokenizer;
}

namespace attune::model {

struct Int8Weights;  // model/fused_decode.h

// Throws ConfigError naming the option when the model code cannot run this config as the reference
// does: hidden_act other than silu, sliding-window attention enabled, rope_scaling other than
// "llama3"/"linear".
void check_supported(const io::LanguageModelConfig& config, const std::string& source = "config");

// How a model is built before its weights are loaded.
struct InitOptions {
  // true: transformers' initialisation (normal(0, initializer_range) for projection and embedding
  // weights, zero biases, unit norm weights), drawn from torch's default generator (torch::manual_seed);
  // false: uninitialised memory, for a checkpoint to fill.
  bool random = true;
  at::ScalarType dtype = at::kFloat;  // kFloat or kBFloat16
  at::Device device = at::kCPU;
};

// ---- blocks ---------------------------------------------------------------------------------------

// y = x W^T + b, parameters "weight" [out, in] and "bias" [out] (absent without bias). Like
// torch::nn::Linear, without its initialisation cost on construction.
//
// LoRA (training): enable_lora(r, alpha) adds "lora_A" [r, in] (kaiming-uniform, as peft) and
// "lora_B" [out, r] (zeros), so y = x W^T + b + (alpha / r) * (x A^T) B^T; saving writes the merged
// weight W + (alpha / r) B A under "weight" and no lora_* tensor (collect_weights in weights.h).
class ProjectionImpl : public torch::nn::Module {
 public:
  ProjectionImpl(int64_t in_features, int64_t out_features, bool bias, const InitOptions& init, double stddev);
  at::Tensor forward(const at::Tensor& x);
  void enable_lora(int64_t rank, double alpha);
  bool has_lora() const { return lora_A.defined(); }
  // W + scale * B A (detached); the weight itself without LoRA.
  at::Tensor merged_weight() const;
  at::Tensor weight, bias;
  at::Tensor lora_A, lora_B;
  double lora_scale = 0;
};
TORCH_MODULE(Projection);

// Token embedding table, parameter "weight" [V, C].
class TokenEmbeddingImpl : public torch::nn::Module {
 public:
  TokenEmbeddingImpl(int64_t vocab_size, int64_t dim, const InitOptions& init, double stddev);
  at::Tensor forward(const at::Tensor& ids);  // int64 ids, already range-checked
  at::Tensor weight;
};
TORCH_MODULE(TokenEmbedding);

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, const InitOptions& init = {});
  // Over the last dimension, in float32; returns the input's dtype.
  at::Tensor forward(const at::Tensor& x);
  at::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

// Inverse frequencies [D/2] (float32) for the config: theta^(-2i/D), adjusted by rope_scaling.
at::Tensor rope_inverse_frequencies(const io::LanguageModelConfig& config);
// cos and sin [..., T, D] for integer positions [..., T] (HF: cat(freqs, freqs)), float32.
std::pair<at::Tensor, at::Tensor> rope_cos_sin(const at::Tensor& inv_freq, const at::Tensor& positions);
// x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x[..., D/2:], x[..., :D/2]).
// x: [B, heads, T, D]; cos/sin broadcastable ([B, 1, T, D]); computed in x's dtype.
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const io::LanguageModelConfig& config, const InitOptions& init);
  // x [B, T, C]; cos/sin [B, 1, T, D]; mask: additive float mask broadcastable to [B, 1, 1, T, S], or
  // undefined (no masking: T == 1 or full attention). With a cache, k/v are appended at `layer`.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& mask,
                     KvCache* cache, int64_t layer);
  Projection q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};  // Qwen3 only
  int64_t num_heads, num_kv_heads, head_dim;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(const io::LanguageModelConfig& config, const InitOptions& init);
  at::Tensor forward(const at::Tensor& x);  // down(silu(gate(x)) * up(x))
  Projection gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const io::LanguageModelConfig& config, const InitOptions& init);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& mask,
                     KvCache* cache, int64_t layer);
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(DecoderLayer);

// HF's Qwen2Model / LlamaModel: embeddings, layers, final norm (registered as "model").
class DecoderImpl : public torch::nn::Module {
 public:
  DecoderImpl(const io::LanguageModelConfig& config, const InitOptions& init);
  TokenEmbedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(Decoder);

// ---- the model ------------------------------------------------------------------------------------

struct ForwardOptions {
  KvCache* cache = nullptr;  // incremental decoding: attend to the cached positions, append the new ones
  // Optional int64 [B, T]; default: cache length + arange(T).
  at::Tensor position_ids;
  // Optional padding mask [B, S] (1/true = attend, 0 = padding) over cached + new positions.
  at::Tensor attention_mask;
  // Keep HF's hidden_states tuple: the embeddings and every layer's output (the last one after the
  // final norm), num_hidden_layers + 1 tensors [B, T, C].
  bool output_hidden_states = false;
  // Compute logits only for the last `logits_to_keep` positions (0: all; generation uses 1).
  int64_t logits_to_keep = 0;
  // Skip the output head entirely (logits undefined), e.g. for hidden states only.
  bool skip_logits = false;
};

struct ForwardOutput {
  at::Tensor logits;                      // float32 [B, T', V], T' = T or logits_to_keep
  at::Tensor last_hidden_state;           // after the final norm, model dtype [B, T, C]
  std::vector<at::Tensor> hidden_states;  // when output_hidden_states
};

struct PretrainedOptions {
  at::ScalarType dtype = at::kFloat;  // kFloat or kBFloat16 (weights and compute)
  at::Device device = at::kCPU;
};

class LanguageModelImpl : public torch::nn::Module {
 public:
  // Builds the modules for `config` (validated and checked by check_supported; ConfigError otherwise).
  explicit LanguageModelImpl(io::LanguageModelConfig config, const InitOptions& init = {});

  // Loads config.json + weights (model.safetensors or an index) from an HF directory, strictly (see
  // weights.h). `lm_head.weight` in a tied checkpoint is ignored as transformers does.
  static std::shared_ptr<LanguageModelImpl> from_pretrained(const std::filesystem::path& dir,
                                                            const PretrainedOptions& options = {});
  // Loads weights into this model from a checkpoint (file, index or directory).
  void load_checkpoint(const std::filesystem::path& path);
  // Writes config.json and model.safetensors (in `dtype`) into `dir`.
  void save_pretrained(const std::filesystem::path& dir, io::Dtype dtype = io::Dtype::kF32) const;

  // Token ids int64 (or int32) [B, T] -> [B, T, C]. InputError for an id outside [0, V).
  at::Tensor embed_tokens(const at::Tensor& ids);
  ForwardOutput forward(const at::Tensor& ids, const ForwardOptions& options = {});
  ForwardOutput forward_embeds(const at::Tensor& inputs_embeds, const ForwardOptions& options = {});
  // Final hidden states [..., C] -> float32 logits [..., V].
  at::Tensor logits_from_hidden(const at::Tensor& hidden);

  // A cache for this model's layers and heads, in its dtype and on its device; max_capacity 0:
  // max_position_embeddings.
  KvCache make_cache(int64_t batch, int64_t capacity, int64_t max_capacity = 0) const;

  const io::LanguageModelConfig& config() const { return config_; }
  // RoPE inverse frequencies, float32 [head_dim / 2].
  const at::Tensor& inverse_frequencies() const { return inv_freq_; }

  // Inference with int8 weights (CPU, from float32 weights): quantises every projection and the
  // embedding table to blocks of 32 with an fp16 scale (model/fused_decode.h) and frees the float
  // copies. Afterwards forward() runs on the fused decode path only (batch 1, no padding mask, no
  // per-layer hidden states) and the model cannot be trained or saved. Throws ConfigError when the
  // model is not float32 on the CPU or a row length is not a multiple of 32.
  void quantize_int8();
  const std::shared_ptr<const Int8Weights>& int8_weights() const { return int8_; }

  // The output projection weight [V, C] (the embedding table itself when tied).
  at::Tensor output_weight() const;
  at::ScalarType dtype() const;
  at::Device device() const;
  int64_t parameter_count() const;
  int64_t parameter_bytes() const;
  // The checkpoint keys this config must have, in HF order (the weight-name table).
  static std::vector<std::string> expected_parameter_names(const io::LanguageModelConfig& config);

  Decoder model{nullptr};
  Projection lm_head{nullptr};  // nullptr when tied

 private:
  ForwardOutput run(at::Tensor x, const ForwardOptions& options);
  io::LanguageModelConfig config_;
  at::Tensor inv_freq_;  // float32 [D/2], not a parameter (HF: non-persistent buffer)
  std::shared_ptr<const Int8Weights> int8_;
};
TORCH_MODULE(LanguageModel);

// ---- generation -----------------------------------------------------------------------------------

// Prompt processing, then step-wise decoding with a KV cache (sized prompt + max_new_tokens, capped at
// max_position_embeddings). `prompt_embeds` [1, T, C] is the prompt as embeddings (e.g.
// embed_tokens(ids) with audio frames spliced in) and `prompt_ids` its T ids (used for the
// repetition penalty and reported back; audio slots keep their placeholder ids). Without a
// tokenizer, stop strings are ignored and `text` stays empty. Throws InputError when the prompt is
// empty or longer than the context.
GenerateResult generate(LanguageModelImpl& lm, const at::Tensor& prompt_embeds, std::span<const int32_t> prompt_ids,
                        const GenerateOptions& options, const text::Tokenizer* tokenizer = nullptr);
// Same from ids alone.
GenerateResult generate(LanguageModelImpl& lm, std::span<const int32_t> prompt_ids, const GenerateOptions& options,
                        const text::Tokenizer* tokenizer = nullptr);

}  // namespace attune::model
