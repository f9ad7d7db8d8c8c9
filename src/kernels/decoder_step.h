// One decoding step of a Qwen2 / Qwen3 / Llama decoder, a whole layer per pool run instead of one
// torch op at a time: the new token's embedding in, the final hidden state and the logits out, its
// keys and values written into the caller's KV cache. Torch-free: the weights and the cache are
// read in place through raw views (model/fused_decode.cpp makes them from the libtorch model).
//
// Per layer, five parallel regions: q/k/v rows, attention heads, o rows, gate/up rows (SwiGLU applied
// to each thread's rows), down rows. Norms, RoPE and the residual stream are float32 whatever the
// weight format; bf16 caches are read and written in bf16.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/matvec.h"
#include "kernels/thread_pool.h"

namespace attune::kernels {

struct LayerWeights {
  WeightView q, k, v, o, gate, up, down;
  const float *q_bias = nullptr, *k_bias = nullptr, *v_bias = nullptr, *o_bias = nullptr;
  const float *gate_bias = nullptr, *up_bias = nullptr, *down_bias = nullptr;
  const float* input_norm = nullptr;
  const float* post_attention_norm = nullptr;
  const float *q_norm = nullptr, *k_norm = nullptr;  // Qwen3: RMSNorm over each head
};

struct DecoderWeights {
  int64_t hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, intermediate = 0, vocab = 0;
  float eps = 1e-6f;
  std::vector<LayerWeights> layers;
  const float* final_norm = nullptr;
  WeightView lm_head;               // [vocab, hidden]
  const float* inv_freq = nullptr;  // RoPE inverse frequencies [head_dim / 2]
};

enum class KvType : uint8_t { kF32, kBF16 };

// Per layer, keys and values [kv_heads, capacity, head_dim] (one sequence).
struct KvView {
  KvType type = KvType::kF32;
  int64_t capacity = 0;
  std::vector<void*> keys, values;
};

// Runs layer after layer for the token at `position` (= the number of cached positions; its keys
// and values go there). `x` [hidden] is the embedding in and the residual stream (garbage) out;
// `hidden_out` [hidden] gets the final-normed state; `logits` [vocab], when not null, the output head.
void decode_step(const DecoderWeights& w, const KvView& kv, int64_t position, float* x, float* hidden_out,
                 float* logits, ThreadPool& pool);

// The same for T consecutive tokens at positions [position, position + T): prefill without libtorch
// (int8 weights). Each weight block is read once for all T tokens (matmul_rows). x and hidden_out
// are [T, hidden]; logits, when not null, [keep, vocab] for the last `keep` tokens.
void decode_tokens(const DecoderWeights& w, const KvView& kv, int64_t position, int64_t T, float* x, float* hidden_out,
                   float* logits, int64_t keep, ThreadPool& pool);

// The pieces, exposed for tests against their formulas.
// y = x / sqrt(mean(x^2) + eps) * weight (float32, transformers' order).
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* y);
// Hugging Face rotate_half RoPE of one head in place: pairs (i, i + D/2), angle position * inv_freq[i].
void apply_rope(float* head, int64_t head_dim, const float* inv_freq, int64_t position);
// Causal attention of one query head over positions [0, length) of its key/value head:
// out = softmax(q . k_s / sqrt(D)) . v_s; `scores` has room for `length` floats.
void attend(const float* q, const void* keys, const void* values, KvType type, int64_t length, int64_t head_dim,
            float* scores, float* out);
// attend() for `heads` query heads sharing one key/value head (a GQA group; q and out [heads, head_dim]):
// the AVX-512 and AVX2 kernels read each cached key and value once for two heads. scores: room for
// 2 * length.
void attend_group(const float* q, int64_t heads, const void* keys, const void* values, KvType type, int64_t length,
                  int64_t head_dim, float* scores, float* out);

}  // namespace attune::kernels
