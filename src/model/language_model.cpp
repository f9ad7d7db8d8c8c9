// The Qwen2-family decoder (see language_model.h for the shapes and the formulas).
#include "model/language_model.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <spdlog/spdlog.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/utils.h>

#include <cmath>
#include <limits>
#include <numbers>

#include "attune/error.h"
#include "io/safetensors.h"
#include "kernels/matvec.h"
#include "model/fused_decode.h"
#include "model/fused_ops.h"
#include "model/torch_error.h"
#include "model/weights.h"

namespace fs = std::filesystem;

namespace attune::model {

namespace {

std::string shape_string(at::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

at::TensorOptions tensor_options(const InitOptions& init) {
  return at::TensorOptions().dtype(init.dtype).device(init.device);
}

// A parameter of `shape` filled as transformers initialises it: normal(0, stddev), or `fill` when
// stddev is 0. Drawn in float32 on the CPU, one chunk at a time, so that a bf16 model never holds a
// float32 copy of a whole tensor (freed temporaries would stay in the process's RSS).
at::Tensor init_tensor(at::IntArrayRef shape, const InitOptions& init, double stddev, double fill) {
  at::Tensor t = at::empty(shape, tensor_options(init));
  if (!init.random) return t;
  if (stddev <= 0) return t.fill_(fill);
  if (init.dtype == at::kFloat && init.device.is_cpu()) return t.normal_(0.0, stddev);
  // One fixed-size float32 buffer per thread, reused for every tensor: per-tensor temporaries of
  // varying sizes fragmented glibc's heap (+200 MiB RSS on a bf16 Qwen2-0.5B).
  constexpr int64_t kChunk = int64_t(1) << 20;
  thread_local at::Tensor chunk = at::empty({kChunk}, at::kFloat);
  at::Tensor flat = t.view({-1});
  for (int64_t start = 0; start < flat.numel(); start += kChunk) {
    const int64_t n = std::min(kChunk, flat.numel() - start);
    at::Tensor part = chunk.narrow(0, 0, n).normal_(0.0, stddev);
    flat.narrow(0, start, n).copy_(part);
  }
  return t;
}

}  // namespace

void check_supported(const io::LanguageModelConfig& config, const std::string& source) {
  config.validate(source);
  if (config.hidden_act != "silu" && config.hidden_act != "swish") {
    throw ConfigError(source + ": key `hidden_act`: \"" + config.hidden_act +
                      "\" is not supported by the language model (expected \"silu\")");
  }
  if (config.use_sliding_window) {
    throw ConfigError(source +
                      ": key `use_sliding_window`: sliding-window attention is not supported (set it to false; "
                      "Qwen2 checkpoints ship with it off)");
  }
  if (config.rope_scaling) {
    const auto& type = config.rope_scaling->rope_type;
    if (type != "llama3" && type != "linear") {
      throw ConfigError(source + ": key `rope_scaling.rope_type`: \"" + type +
                        "\" is not supported (supported: \"default\", \"linear\", \"llama3\")");
    }
  }
}

// ---- blocks ---------------------------------------------------------------------------------------

ProjectionImpl::ProjectionImpl(int64_t in_features, int64_t out_features, bool with_bias, const InitOptions& init,
                               double stddev) {
  weight = register_parameter("weight", init_tensor({out_features, in_features}, init, stddev, 0.0));
  if (with_bias) bias = register_parameter("bias", init_tensor({out_features}, init, 0.0, 0.0));
}

void ProjectionImpl::enable_lora(int64_t rank, double alpha) {
  if (rank <= 0) throw ConfigError("lora rank " + std::to_string(rank) + ": expected a positive integer");
  if (has_lora()) return;
  const int64_t in = weight.size(1), out = weight.size(0);
  auto opts = weight.options().dtype(at::kFloat);
  // peft's default: A ~ kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)); B = 0, so training
  // starts exactly at the base model.
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  lora_A = register_parameter("lora_A", at::empty({rank, in}, opts).uniform_(-bound, bound).to(weight.dtype()));
  lora_B = register_parameter("lora_B", at::zeros({out, rank}, opts).to(weight.dtype()));
  lora_scale = alpha / static_cast<double>(rank);
}

at::Tensor ProjectionImpl::merged_weight() const {
  at::NoGradGuard no_grad;
  if (!has_lora()) return weight.detach();
  return (weight.to(at::kFloat) + lora_scale * at::matmul(lora_B.to(at::kFloat), lora_A.to(at::kFloat)))
      .to(weight.dtype());
}

at::Tensor ProjectionImpl::forward(const at::Tensor& x) {
  if (has_lora()) {
    return at::linear(x, weight, bias) + at::linear(at::linear(x, lora_A), lora_B) * lora_scale;
  }
  // One row (a decode step): matrix-vector on the CPU, which this libtorch runs 1.3-2x faster than
  // linear's addmm with m = 1 (Qwen2-0.5B decode: 1.5x; see docs/model.md).
  if (x.is_cpu() && x.numel() == weight.size(1)) {
    at::Tensor xv = x.reshape({-1});
    at::Tensor y = bias.defined() ? at::addmv(bias, weight, xv) : at::mv(weight, xv);
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
    shape.back() = weight.size(0);
    return y.view(shape);
  }
  return at::linear(x, weight, bias);
}

TokenEmbeddingImpl::TokenEmbeddingImpl(int64_t vocab_size, int64_t dim, const InitOptions& init, double stddev) {
  weight = register_parameter("weight", init_tensor({vocab_size, dim}, init, stddev, 0.0));
}

at::Tensor TokenEmbeddingImpl::forward(const at::Tensor& ids) { return at::embedding(weight, ids); }

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_, const InitOptions& init) : eps(eps_) {
  weight = register_parameter("weight", init_tensor({dim}, init, 0.0, 1.0));
}

at::Tensor RMSNormImpl::forward(const at::Tensor& x) {
  if (at::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad())) {
    return fused_rms_norm(x, weight, eps);
  }
  at::Tensor h = x.to(at::kFloat);
  at::Tensor variance = h.pow(2).mean(-1, /*keepdim=*/true);
  h = h * at::rsqrt(variance + eps);
  return weight * h.to(x.scalar_type());
}

at::Tensor rope_inverse_frequencies(const io::LanguageModelConfig& config) {
  const int64_t dim = config.head_dim;
  // HF: 1 / base ** (arange(0, dim, 2).float() / dim), in float32.
  at::Tensor exponent = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<float>(dim);
  at::Tensor inv_freq = 1.0 / at::pow(static_cast<float>(config.rope_theta), exponent);
  if (!config.rope_scaling) return inv_freq;
  const io::RopeScaling& rs = *config.rope_scaling;
  if (rs.rope_type == "linear") return inv_freq / rs.factor;
  if (rs.rope_type == "llama3") {
    // Llama 3.1: long wavelengths divided by `factor`, short ones kept, a smooth blend in between.
    const double old_len = static_cast<double>(rs.original_max_position_embeddings);
    const double low_freq_wavelen = old_len / rs.low_freq_factor;
    const double high_freq_wavelen = old_len / rs.high_freq_factor;
    at::Tensor wavelen = 2 * std::numbers::pi / inv_freq;
    at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv_freq / rs.factor, inv_freq);
    at::Tensor smooth = (old_len / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
    at::Tensor smoothed = (1 - smooth) * scaled / rs.factor + smooth * scaled;
    at::Tensor is_medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
    return at::where(is_medium, smoothed, scaled);
  }
  throw ConfigError("rope_scaling: unsupported rope_type \"" + rs.rope_type + "\"");
}

std::pair<at::Tensor, at::Tensor> rope_cos_sin(const at::Tensor& inv_freq, const at::Tensor& positions) {
  at::Tensor freqs = positions.to(at::kFloat).unsqueeze(-1) * inv_freq.to(positions.device());  // [..., T, D/2]
  at::Tensor emb = at::cat({freqs, freqs}, -1);
  return {emb.cos(), emb.sin()};
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  at::Tensor x1 = x.narrow(-1, 0, half);
  at::Tensor x2 = x.narrow(-1, half, half);
  at::Tensor rotated = at::cat({x2.neg(), x1}, -1);
  return x * cos + rotated * sin;
}

AttentionImpl::AttentionImpl(const io::LanguageModelConfig& c, const InitOptions& init)
    : num_heads(c.num_attention_heads), num_kv_heads(c.num_key_value_heads), head_dim(c.head_dim) {
  const double std = c.initializer_range;
  q_proj = register_module("q_proj", Projection(c.hidden_size, num_heads * head_dim, c.qkv_bias, init, std));
  k_proj = register_module("k_proj", Projection(c.hidden_size, num_kv_heads * head_dim, c.qkv_bias, init, std));
  v_proj = register_module("v_proj", Projection(c.hidden_size, num_kv_heads * head_dim, c.qkv_bias, init, std));
  o_proj = register_module("o_proj", Projection(num_heads * head_dim, c.hidden_size, c.o_bias, init, std));
  if (c.qk_norm) {
    q_norm = register_module("q_norm", RMSNorm(head_dim, c.rms_norm_eps, init));
    k_norm = register_module("k_norm", RMSNorm(head_dim, c.rms_norm_eps, init));
  }
}

at::Tensor AttentionImpl::forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                  const at::Tensor& mask, KvCache* cache, int64_t layer) {
  const int64_t B = x.size(0), T = x.size(1);
  const int64_t H = num_heads, KV = num_kv_heads, D = head_dim, G = H / KV;
  at::Tensor q = q_proj->forward(x).view({B, T, H, D});
  at::Tensor k = k_proj->forward(x).view({B, T, KV, D});
  at::Tensor v = v_proj->forward(x).view({B, T, KV, D});
  if (q_norm) {  // Qwen3: per-head RMSNorm before the rotation
    q = q_norm->forward(q);
    k = k_norm->forward(k);
  }
  at::Tensor c = cos.to(x.scalar_type()), s = sin.to(x.scalar_type());
  q = apply_rope(q.transpose(1, 2), c, s);  // [B, H, T, D]
  k = apply_rope(k.transpose(1, 2), c, s);  // [B, KV, T, D]
  v = v.transpose(1, 2);
  if (cache) std::tie(k, v) = cache->append(layer, k, v);  // [B, KV, S, D]
  const int64_t S = k.size(2);

  // Grouped-query attention without repeating k/v: the G query heads of one key/value head (heads
  // h = kv * G + g, as HF's repeat_kv lays them out) become G * T query rows of that head.
  at::Tensor qg = q.reshape({B, KV, G * T, D});
  at::Tensor scores = at::matmul(qg, k.transpose(-1, -2)).mul_(1.0 / std::sqrt(static_cast<double>(D)));
  if (mask.defined()) {
    scores = (scores.view({B, KV, G, T, S}).to(at::kFloat) + mask).view({B, KV, G * T, S});
  }
  at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  at::Tensor out = at::matmul(probs, v);  // [B, KV, G * T, D]
  out = out.view({B, H, T, D}).transpose(1, 2).reshape({B, T, H * D});
  return o_proj->forward(out);
}

MlpImpl::MlpImpl(const io::LanguageModelConfig& c, const InitOptions& init) {
  const double std = c.initializer_range;
  gate_proj = register_module("gate_proj", Projection(c.hidden_size, c.intermediate_size, c.mlp_bias, init, std));
  up_proj = register_module("up_proj", Projection(c.hidden_size, c.intermediate_size, c.mlp_bias, init, std));
  down_proj = register_module("down_proj", Projection(c.intermediate_size, c.hidden_size, c.mlp_bias, init, std));
}

at::Tensor MlpImpl::forward(const at::Tensor& x) {
  if (at::GradMode::is_enabled()) {
    at::Tensor gate = gate_proj->forward(x), up = up_proj->forward(x);
    if (gate.requires_grad() || up.requires_grad()) return down_proj->forward(fused_swiglu(gate, up));
    return down_proj->forward(at::silu(gate) * up);
  }
  return down_proj->forward(at::silu(gate_proj->forward(x)) * up_proj->forward(x));
}

DecoderLayerImpl::DecoderLayerImpl(const io::LanguageModelConfig& c, const InitOptions& init) {
  self_attn = register_module("self_attn", Attention(c, init));
  mlp = register_module("mlp", Mlp(c, init));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, init));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, init));
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                     const at::Tensor& mask, KvCache* cache, int64_t layer) {
  at::Tensor h = x + self_attn->forward(input_layernorm->forward(x), cos, sin, mask, cache, layer);
  return h + mlp->forward(post_attention_layernorm->forward(h));
}

DecoderImpl::DecoderImpl(const io::LanguageModelConfig& c, const InitOptions& init) {
  embed_tokens =
      register_module("embed_tokens", TokenEmbedding(c.vocab_size, c.hidden_size, init, c.initializer_range));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(DecoderLayer(c, init));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps, init));
}

// ---- the model ------------------------------------------------------------------------------------

LanguageModelImpl::LanguageModelImpl(io::LanguageModelConfig config, const InitOptions& init)
    : config_(std::move(config)) {
  check_supported(config_, "language model config");
  if (init.dtype != at::kFloat && init.dtype != at::kBFloat16 && init.dtype != at::kHalf) {
    throw ConfigError("language model: dtype must be float32, bfloat16 or float16");
  }
  with_torch_context("building the language model", [&] {
    at::NoGradGuard no_grad;
    model = register_module("model", Decoder(config_, init));
    if (!config_.tie_word_embeddings) {
      lm_head = register_module(
          "lm_head", Projection(config_.hidden_size, config_.vocab_size, false, init, config_.initializer_range));
    }
    inv_freq_ = rope_inverse_frequencies(config_).to(init.device);
  });
}

std::vector<std::string> LanguageModelImpl::expected_parameter_names(const io::LanguageModelConfig& c) {
  std::vector<std::string> names = {"model.embed_tokens.weight"};
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
      names.push_back(p + "self_attn." + proj + ".weight");
      const bool bias = std::string(proj) == "o_proj" ? c.o_bias : c.qkv_bias;
      if (bias) names.push_back(p + "self_attn." + proj + ".bias");
    }
    if (c.qk_norm) {
      names.push_back(p + "self_attn.q_norm.weight");
      names.push_back(p + "self_attn.k_norm.weight");
    }
    for (const char* proj : {"gate_proj", "up_proj", "down_proj"}) {
      names.push_back(p + "mlp." + proj + ".weight");
      if (c.mlp_bias) names.push_back(p + "mlp." + proj + ".bias");
    }
    names.push_back(p + "input_layernorm.weight");
    names.push_back(p + "post_attention_layernorm.weight");
  }
  names.push_back("model.norm.weight");
  if (!c.tie_word_embeddings) names.push_back("lm_head.weight");
  return names;
}

at::Tensor LanguageModelImpl::output_weight() const { return lm_head ? lm_head->weight : model->embed_tokens->weight; }

at::ScalarType LanguageModelImpl::dtype() const { return model->embed_tokens->weight.scalar_type(); }
at::Device LanguageModelImpl::device() const { return model->embed_tokens->weight.device(); }

int64_t LanguageModelImpl::parameter_count() const {
  int64_t n = int8_ ? int8_->values() : 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

int64_t LanguageModelImpl::parameter_bytes() const {
  int64_t n = int8_ ? int8_->bytes() : 0;
  for (const auto& p : parameters()) n += p.numel() * static_cast<int64_t>(p.element_size());
  return n;
}

KvCache LanguageModelImpl::make_cache(int64_t batch, int64_t capacity, int64_t max_capacity) const {
  if (max_capacity <= 0) max_capacity = config_.max_position_embeddings;
  capacity = std::min(capacity, max_capacity);
  return with_torch_context("allocating the KV cache", [&] {
    return KvCache(config_.num_hidden_layers, batch, config_.num_key_value_heads, config_.head_dim, capacity,
                   at::TensorOptions().dtype(dtype()).device(device()), max_capacity);
  });
}

at::Tensor LanguageModelImpl::embed_tokens(const at::Tensor& ids) {
  if (!ids.defined() || ids.dim() != 2) {
    throw InputError("language model: token ids must be a 2-D tensor [batch, tokens], got " +
                     (ids.defined() ? shape_string(ids.sizes()) : std::string("nothing")));
  }
  if (at::isFloatingType(ids.scalar_type()) || ids.scalar_type() == at::kBool) {
    throw InputError("language model: token ids must be integers, got " +
                     std::string(c10::toString(ids.scalar_type())));
  }
  at::Tensor idx = ids.to(device(), at::kLong);
  if (idx.numel() > 0) {
    const int64_t lo = idx.min().item<int64_t>(), hi = idx.max().item<int64_t>();
    if (lo < 0 || hi >= config_.vocab_size) {
      throw InputError("language model: token id " + std::to_string(lo < 0 ? lo : hi) +
                       " is outside the vocabulary [0, " + std::to_string(config_.vocab_size) + ")");
    }
  }
  if (int8_) {  // rows of the int8 table, dequantised
    idx = idx.contiguous();
    at::Tensor out = at::empty({idx.size(0), idx.size(1), config_.hidden_size}, at::kFloat);
    const int64_t* id = idx.data_ptr<int64_t>();
    for (int64_t i = 0; i < idx.numel(); ++i) {
      kernels::dequantize_row(int8_->embedding.view(), id[i], out.data_ptr<float>() + i * config_.hidden_size);
    }
    return out;
  }
  return with_torch_context("language model: embedding tokens", [&] { return model->embed_tokens->forward(idx); });
}

at::Tensor LanguageModelImpl::logits_from_hidden(const at::Tensor& hidden) {
  const at::Tensor w = output_weight();
  if (hidden.is_cpu() && hidden.numel() == w.size(1)) {  // one row: matrix-vector (see ProjectionImpl)
    std::vector<int64_t> shape(hidden.sizes().begin(), hidden.sizes().end());
    shape.back() = w.size(0);
    return at::mv(w, hidden.reshape({-1})).view(shape).to(at::kFloat);
  }
  return at::linear(hidden, w).to(at::kFloat);
}

ForwardOutput LanguageModelImpl::forward(const at::Tensor& ids, const ForwardOptions& options) {
  return run(embed_tokens(ids), options);
}

ForwardOutput LanguageModelImpl::forward_embeds(const at::Tensor& inputs_embeds, const ForwardOptions& options) {
  if (!inputs_embeds.defined() || inputs_embeds.dim() != 3 || inputs_embeds.size(2) != config_.hidden_size) {
    throw InputError("language model: input embeddings must be [batch, tokens, " + std::to_string(config_.hidden_size) +
                     "], got " +
                     (inputs_embeds.defined() ? shape_string(inputs_embeds.sizes()) : std::string("nothing")));
  }
  if (!at::isFloatingType(inputs_embeds.scalar_type())) {
    throw InputError("language model: input embeddings must be floating point");
  }
  return run(inputs_embeds.to(device(), dtype()), options);
}

ForwardOutput LanguageModelImpl::run(at::Tensor x, const ForwardOptions& options) {
  const int64_t B = x.size(0), T = x.size(1);
  KvCache* cache = options.cache;
  const int64_t past = cache ? cache->length() : 0;
  const int64_t S = past + T;
  if (T == 0) throw InputError("language model: no input tokens");
  if (S > config_.max_position_embeddings) {
    throw InputError("language model: " + std::to_string(T) + " tokens" +
                     (past ? " after " + std::to_string(past) + " cached ones" : std::string()) + " need " +
                     std::to_string(S) + " positions, more than the context length (max_position_embeddings = " +
                     std::to_string(config_.max_position_embeddings) + ")");
  }
  if (cache) {
    if (cache->empty() || cache->num_layers() != config_.num_hidden_layers || cache->batch() != B ||
        cache->kv_heads() != config_.num_key_value_heads || cache->head_dim() != config_.head_dim) {
      throw InputError("language model: the KV cache does not fit this model and batch (make it with make_cache)");
    }
    if (!cache->ensure_room(T)) {
      throw InputError("language model: " + std::to_string(T) + " tokens after " + std::to_string(past) +
                       " cached ones do not fit the KV cache (capacity " + std::to_string(cache->max_capacity()) +
                       " positions)");
    }
  }
  at::Tensor positions = options.position_ids;
  if (positions.defined()) {
    if (positions.dim() != 2 || positions.size(1) != T || (positions.size(0) != B && positions.size(0) != 1)) {
      throw InputError("language model: position_ids must be [batch, " + std::to_string(T) + "], got " +
                       shape_string(positions.sizes()));
    }
    positions = positions.to(device(), at::kLong);
  } else {
    positions = at::arange(past, S, at::TensorOptions().dtype(at::kLong).device(device())).unsqueeze(0);
  }
  if (options.attention_mask.defined()) {
    const auto& m = options.attention_mask;
    if (m.dim() != 2 || m.size(0) != B || m.size(1) != S) {
      throw InputError("language model: attention_mask must be [" + std::to_string(B) + ", " + std::to_string(S) +
                       "] (cached + new positions), got " + shape_string(m.sizes()));
    }
  }

  if (int8_) {
    if (B != 1 || options.attention_mask.defined() || options.position_ids.defined() || options.output_hidden_states) {
      throw ConfigError(
          "language model: int8 weights run one sequence (batch 1) without padding masks, position ids or "
          "per-layer hidden states; load the model in fp32 or bf16 for that");
    }
    if (cache) return fused_forward(*this, x, *cache, options);
    KvCache scratch = make_cache(1, T);
    return fused_forward(*this, x, scratch, options);
  }
  if (fused_step_applies(*this, x, options)) {
    return with_torch_context("language model decode step", [&] { return fused_forward(*this, x, *cache, options); });
  }

  return with_torch_context("language model forward", [&] {
    // Additive mask [B or 1, 1, 1, T, S] in float32: query i (absolute position past + i) sees keys <= it.
    at::Tensor mask;
    const float lowest = std::numeric_limits<float>::lowest();
    if (T > 1 || options.attention_mask.defined()) {
      auto opts = at::TensorOptions().dtype(at::kFloat).device(device());
      at::Tensor qpos = at::arange(past, S, opts.dtype(at::kLong)).unsqueeze(1);
      at::Tensor kpos = at::arange(0, S, opts.dtype(at::kLong)).unsqueeze(0);
      at::Tensor allowed = kpos <= qpos;  // [T, S]
      if (options.attention_mask.defined()) {
        at::Tensor keep = options.attention_mask.to(device()).ne(0);    // [B, S]
        allowed = allowed.unsqueeze(0).logical_and(keep.unsqueeze(1));  // [B, T, S]
      } else {
        allowed = allowed.unsqueeze(0);
      }
      mask = at::zeros(allowed.sizes(), opts).masked_fill_(allowed.logical_not(), lowest).unsqueeze(1).unsqueeze(1);
    }
    auto [cos, sin] = rope_cos_sin(inv_freq_, positions);  // [B or 1, T, D]
    cos = cos.unsqueeze(1);
    sin = sin.unsqueeze(1);

    ForwardOutput out;
    if (options.output_hidden_states) out.hidden_states.push_back(x);
    const int64_t L = config_.num_hidden_layers;
    for (int64_t i = 0; i < L; ++i) {
      x = model->layers->ptr<DecoderLayerImpl>(i)->forward(x, cos, sin, mask, cache, i);
      if (options.output_hidden_states && i + 1 < L) out.hidden_states.push_back(x);
    }
    if (cache) cache->advance(T);
    x = model->norm->forward(x);
    if (options.output_hidden_states) out.hidden_states.push_back(x);
    out.last_hidden_state = x;
    if (!options.skip_logits) {
      at::Tensor h = x;
      if (options.logits_to_keep > 0 && options.logits_to_keep < T) {
        h = x.narrow(1, T - options.logits_to_keep, options.logits_to_keep);
      }
      out.logits = logits_from_hidden(h);
    }
    return out;
  });
}

// ---- loading and saving ---------------------------------------------------------------------------

std::shared_ptr<LanguageModelImpl> LanguageModelImpl::from_pretrained(const fs::path& dir,
                                                                      const PretrainedOptions& options) {
  io::HfConfig hf = io::load_hf_config(dir);
  const io::LanguageModelConfig* config = hf.language_model();
  const std::string config_path = (fs::is_directory(dir) ? dir / "config.json" : dir).string();
  if (!config) {
    throw ConfigError(config_path + ": key `model_type`: \"" + std::string(io::family_name(hf.family())) +
                      "\" is not a decoder language model (expected qwen2, qwen3 or llama)");
  }
  check_supported(*config, config_path);
  InitOptions init{.random = false, .dtype = options.dtype, .device = options.device};
  auto lm = std::make_shared<LanguageModelImpl>(*config, init);
  lm->load_checkpoint(fs::is_directory(dir) ? dir : dir.parent_path());
  lm->eval();
  return lm;
}

void LanguageModelImpl::load_checkpoint(const fs::path& path) {
  io::SafetensorsCheckpoint ckpt = io::SafetensorsCheckpoint::open(path);
  WeightLoadOptions opts;
  // transformers ignores a stored lm_head.weight when the embeddings are tied.
  if (config_.tie_word_embeddings) opts.ignore_prefixes.push_back("lm_head.weight");
  WeightLoadReport report = load_weights(*this, ckpt, opts);
  for (const auto& name : report.skipped) spdlog::debug("language model: ignored checkpoint tensor {}", name);
}

void LanguageModelImpl::quantize_int8() {
  if (int8_) return;
  if (dtype() != at::kFloat || !device().is_cpu()) {
    throw ConfigError("language model: int8 weights are made from float32 weights on the CPU (load with dtype fp32)");
  }
  at::NoGradGuard no_grad;
  auto q = std::make_shared<Int8Weights>();
  auto quantize_and_free = [](at::Tensor& weight) {
    at::Tensor w = weight.contiguous();
    kernels::Q8Matrix m = kernels::quantize_q8(w.data_ptr<float>(), w.size(0), w.size(1));
    weight.set_data(at::empty({0}, weight.options()));
    return m;
  };
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    auto& layer = *model->layers->ptr<DecoderLayerImpl>(i);
    auto& a = *layer.self_attn;
    auto& m = *layer.mlp;
    for (const Projection* p : {&a.q_proj, &a.k_proj, &a.v_proj, &a.o_proj, &m.gate_proj, &m.up_proj, &m.down_proj}) {
      if ((*p)->has_lora()) throw ConfigError("language model: int8 weights cannot carry LoRA adapters");
    }
    q->layers.push_back({quantize_and_free(a.q_proj->weight), quantize_and_free(a.k_proj->weight),
                         quantize_and_free(a.v_proj->weight), quantize_and_free(a.o_proj->weight),
                         quantize_and_free(m.gate_proj->weight), quantize_and_free(m.up_proj->weight),
                         quantize_and_free(m.down_proj->weight)});
  }
  q->embedding = quantize_and_free(model->embed_tokens->weight);
  if (lm_head) q->lm_head = quantize_and_free(lm_head->weight);
  int8_ = std::move(q);
}

void LanguageModelImpl::save_pretrained(const fs::path& dir, io::Dtype dtype) const {
  if (int8_) throw ConfigError("language model: a model with int8 weights cannot be saved (save the float one)");
  fs::create_directories(dir);
  io::LanguageModelConfig c = config_;
  c.torch_dtype = dtype == io::Dtype::kBF16 ? "bfloat16" : dtype == io::Dtype::kF16 ? "float16" : "float32";
  io::write_hf_config(dir / "config.json", io::HfConfig{c});
  save_weights(*this, dir / io::kSafetensorsSingleName, dtype);
}

}  // namespace attune::model
