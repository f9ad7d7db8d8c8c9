#include "model/fused_decode.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "attune/error.h"
#include "kernels/decoder_step.h"
#include "model/language_model.h"

namespace attune::model {

namespace {

std::atomic<bool>& enabled_flag() {
  static std::atomic<bool> flag{[] {
    const char* env = std::getenv("ATTUNE_FUSED_DECODE");
    return env == nullptr || std::strcmp(env, "0") != 0;
  }()};
  return flag;
}

bool float_weights(at::ScalarType t) { return t == at::kFloat || t == at::kBFloat16; }

kernels::WeightView view_of(const at::Tensor& t) {
  return {t.scalar_type() == at::kFloat ? kernels::WeightType::kF32 : kernels::WeightType::kBF16, t.size(0), t.size(1),
          t.data_ptr()};
}

// The decoder's weights as kernel views, with float32 copies of the (small) norm weights and biases
// of a bf16 model kept alive in `keep` for the duration of the step.
struct Views {
  kernels::DecoderWeights w;
  std::vector<at::Tensor> keep;

  const float* f32(const at::Tensor& t) {
    if (!t.defined() || t.numel() == 0) return nullptr;
    at::Tensor f = t.to(at::kFloat).contiguous();
    keep.push_back(f);
    return f.data_ptr<float>();
  }
};

bool has_lora_or_strided(const DecoderLayerImpl& layer) {
  for (const Projection* p :
       {&layer.self_attn->q_proj, &layer.self_attn->k_proj, &layer.self_attn->v_proj, &layer.self_attn->o_proj,
        &layer.mlp->gate_proj, &layer.mlp->up_proj, &layer.mlp->down_proj}) {
    if ((*p)->has_lora() || ((*p)->weight.numel() > 0 && !(*p)->weight.is_contiguous())) return true;
  }
  return false;
}

Views make_views(LanguageModelImpl& lm) {
  const io::LanguageModelConfig& c = lm.config();
  const Int8Weights* q8 = lm.int8_weights().get();
  Views v;
  kernels::DecoderWeights& w = v.w;
  w.hidden = c.hidden_size;
  w.heads = c.num_attention_heads;
  w.kv_heads = c.num_key_value_heads;
  w.head_dim = c.head_dim;
  w.intermediate = c.intermediate_size;
  w.vocab = c.vocab_size;
  w.eps = static_cast<float>(c.rms_norm_eps);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    auto& layer = *lm.model->layers->ptr<DecoderLayerImpl>(i);
    auto& attn = *layer.self_attn;
    auto& mlp = *layer.mlp;
    kernels::LayerWeights lw;
    if (q8) {
      const Int8Weights::Layer& ql = q8->layers[static_cast<size_t>(i)];
      lw.q = ql.q.view(), lw.k = ql.k.view(), lw.v = ql.v.view(), lw.o = ql.o.view();
      lw.gate = ql.gate.view(), lw.up = ql.up.view(), lw.down = ql.down.view();
    } else {
      lw.q = view_of(attn.q_proj->weight), lw.k = view_of(attn.k_proj->weight), lw.v = view_of(attn.v_proj->weight);
      lw.o = view_of(attn.o_proj->weight);
      lw.gate = view_of(mlp.gate_proj->weight), lw.up = view_of(mlp.up_proj->weight);
      lw.down = view_of(mlp.down_proj->weight);
    }
    lw.q_bias = v.f32(attn.q_proj->bias), lw.k_bias = v.f32(attn.k_proj->bias), lw.v_bias = v.f32(attn.v_proj->bias);
    lw.o_bias = v.f32(attn.o_proj->bias);
    lw.gate_bias = v.f32(mlp.gate_proj->bias), lw.up_bias = v.f32(mlp.up_proj->bias);
    lw.down_bias = v.f32(mlp.down_proj->bias);
    lw.input_norm = v.f32(layer.input_layernorm->weight);
    lw.post_attention_norm = v.f32(layer.post_attention_layernorm->weight);
    if (attn.q_norm) lw.q_norm = v.f32(attn.q_norm->weight);
    if (attn.k_norm) lw.k_norm = v.f32(attn.k_norm->weight);
    w.layers.push_back(lw);
  }
  w.final_norm = v.f32(lm.model->norm->weight);
  if (q8) {
    w.lm_head = q8->lm_head.rows > 0 ? q8->lm_head.view() : q8->embedding.view();
  } else {
    w.lm_head = view_of(lm.output_weight());
  }
  w.inv_freq = v.f32(lm.inverse_frequencies());
  return v;
}

}  // namespace

int64_t Int8Weights::bytes() const {
  int64_t n = embedding.view().bytes() + lm_head.view().bytes();
  for (const Layer& l : layers) {
    for (const kernels::Q8Matrix* m : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) n += m->view().bytes();
  }
  return n;
}

int64_t Int8Weights::values() const {
  int64_t n = embedding.rows * embedding.cols + lm_head.rows * lm_head.cols;
  for (const Layer& l : layers) {
    for (const kernels::Q8Matrix* m : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) n += m->rows * m->cols;
  }
  return n;
}

bool fused_decode_enabled() { return enabled_flag().load(std::memory_order_relaxed); }
void set_fused_decode(bool enabled) { enabled_flag().store(enabled); }

bool fused_step_applies(const LanguageModelImpl& lm, const at::Tensor& x, const ForwardOptions& options) {
  if (!fused_decode_enabled() || options.cache == nullptr || at::GradMode::is_enabled()) return false;
  if (x.size(0) != 1 || x.size(1) != 1 || !x.is_cpu() || !float_weights(lm.dtype())) return false;
  if (options.output_hidden_states || options.attention_mask.defined() || options.position_ids.defined()) return false;
  if (lm.config().head_dim % 2 != 0) return false;
  const KvCache& cache = *options.cache;
  if (cache.batch() != 1 || cache.dtype() != lm.dtype() || !cache.keys(0).is_contiguous()) return false;
  if (!lm.output_weight().is_contiguous()) return false;
  for (int64_t i = 0; i < lm.config().num_hidden_layers; ++i) {
    if (has_lora_or_strided(*lm.model->layers->ptr<DecoderLayerImpl>(i))) return false;
  }
  return true;
}

ForwardOutput fused_forward(LanguageModelImpl& lm, const at::Tensor& x, KvCache& cache, const ForwardOptions& options) {
  const io::LanguageModelConfig& c = lm.config();
  const int64_t T = x.size(1), C = c.hidden_size, V = c.vocab_size;
  Views views = make_views(lm);
  kernels::KvView kv;
  kv.type = cache.dtype() == at::kBFloat16 ? kernels::KvType::kBF16 : kernels::KvType::kF32;
  kv.capacity = cache.capacity();
  for (int64_t l = 0; l < cache.num_layers(); ++l) {
    kv.keys.push_back(cache.keys(l).data_ptr());
    kv.values.push_back(cache.values(l).data_ptr());
  }
  const int64_t keep = options.skip_logits ? 0 : options.logits_to_keep > 0 ? std::min(options.logits_to_keep, T) : T;
  at::Tensor inputs = x.reshape({T, C}).to(at::kFloat).contiguous();
  // Prompts go through in chunks: each weight block is read once per chunk (kernels::decode_tokens).
  constexpr int64_t kChunk = 64;
  at::Tensor residual = at::empty({std::min(T, kChunk), C}, at::kFloat);
  at::Tensor hidden = at::empty({1, T, C}, at::kFloat);
  at::Tensor logits = keep > 0 ? at::empty({1, keep, V}, at::kFloat) : at::Tensor();
  std::shared_ptr<kernels::ThreadPool> pool = kernels::decode_pool();
  for (int64_t t0 = 0; t0 < T; t0 += kChunk) {
    const int64_t n = std::min(kChunk, T - t0);
    std::memcpy(residual.data_ptr<float>(), inputs.data_ptr<float>() + t0 * C,
                static_cast<size_t>(n * C) * sizeof(float));
    // Logits of the chunk's last tokens that fall in the last `keep` positions.
    const int64_t keep_here = std::clamp<int64_t>(t0 + n - (T - keep), 0, n);
    float* chunk_logits = keep_here > 0 ? logits.data_ptr<float>() + (t0 + n - keep_here - (T - keep)) * V : nullptr;
    kernels::decode_tokens(views.w, kv, cache.length(), n, residual.data_ptr<float>(),
                           hidden.data_ptr<float>() + t0 * C, chunk_logits, keep_here, *pool);
    cache.advance(n);
  }
  ForwardOutput out;
  out.last_hidden_state = hidden.to(lm.dtype());
  if (keep > 0) out.logits = logits;
  return out;
}

}  // namespace attune::model
