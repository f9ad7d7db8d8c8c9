#include "kernels/decoder_step.h"

#include <algorithm>
#include <cmath>

#include "common/float16.h"
#include "kernels/cpu_features.h"
#include "kernels/isa_kernels.h"

namespace attune::kernels {

namespace {

// Regions below this many multiply-adds run on the calling thread alone: waking the pool costs more.
constexpr int64_t kParallelMacs = 1 << 15;

struct Scratch {
  std::vector<float> h, qkv, attn, y, act;
  std::vector<std::vector<float>> scores;  // per thread
  std::vector<PreparedInput> in;           // per token
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

inline void store_kv(void* base, KvType type, int64_t i, const float* src, int64_t n) {
  if (type == KvType::kF32) {
    std::copy(src, src + n, static_cast<float*>(base) + i);
  } else {
    uint16_t* dst = static_cast<uint16_t*>(base) + i;
    for (int64_t j = 0; j < n; ++j) dst[j] = common::f32_to_bf16(src[j]);
  }
}

// fn(begin, end, thread) over shares of `rows` (multiples of `align`).
template <class Fn>
void parallel_rows(ThreadPool& pool, int64_t rows, int64_t macs, int64_t align, Fn&& fn) {
  if (macs < kParallelMacs || pool.threads() == 1) {
    fn(0, rows, 0);
    return;
  }
  pool.run([&](int thread) {
    const Range r = share(rows, thread, pool.threads(), align);
    if (r.begin < r.end) fn(r.begin, r.end, thread);
  });
}

void add_bias(float* y, const float* bias, int64_t begin, int64_t end) {
  if (bias == nullptr) return;
  for (int64_t i = begin; i < end; ++i) y[i] += bias[i];
}

}  // namespace

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* y) {
  float ss = 0;
#pragma omp simd reduction(+ : ss)
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = weight[i] * (x[i] * inv);
}

void apply_rope(float* head, int64_t head_dim, const float* inv_freq, int64_t position) {
  const int64_t half = head_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float angle = static_cast<float>(position) * inv_freq[i];
    const float c = std::cos(angle), s = std::sin(angle);
    const float a = head[i], b = head[i + half];
    head[i] = a * c - b * s;
    head[i + half] = b * c + a * s;
  }
}

void attend(const float* q, const void* keys, const void* values, KvType type, int64_t length, int64_t head_dim,
            float* scores, float* out) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  float top = -INFINITY;
  for (int64_t s = 0; s < length; ++s) {
    float dot = 0;
    if (type == KvType::kF32) {
      const float* k = static_cast<const float*>(keys) + s * head_dim;
#pragma omp simd reduction(+ : dot)
      for (int64_t d = 0; d < head_dim; ++d) dot += q[d] * k[d];
    } else {
      const uint16_t* k = static_cast<const uint16_t*>(keys) + s * head_dim;
#pragma omp simd reduction(+ : dot)
      for (int64_t d = 0; d < head_dim; ++d) dot += q[d] * common::bf16_to_f32(k[d]);
    }
    scores[s] = dot * scale;
    top = std::max(top, scores[s]);
  }
  float total = 0;
  for (int64_t s = 0; s < length; ++s) {
    scores[s] = std::exp(scores[s] - top);
    total += scores[s];
  }
  const float inv = 1.0f / total;
  std::fill(out, out + head_dim, 0.0f);
  for (int64_t s = 0; s < length; ++s) {
    const float p = scores[s] * inv;
    if (type == KvType::kF32) {
      const float* v = static_cast<const float*>(values) + s * head_dim;
#pragma omp simd
      for (int64_t d = 0; d < head_dim; ++d) out[d] += p * v[d];
    } else {
      const uint16_t* v = static_cast<const uint16_t*>(values) + s * head_dim;
#pragma omp simd
      for (int64_t d = 0; d < head_dim; ++d) out[d] += p * common::bf16_to_f32(v[d]);
    }
  }
}

void attend_group(const float* q, int64_t heads, const void* keys, const void* values, KvType type, int64_t length,
                  int64_t head_dim, float* scores, float* out) {
#ifdef ATTUNE_KERNELS_X86
  const bool bf16 = type == KvType::kBF16;
  const Isa isa = active_isa();
  if (isa == Isa::kAvx512 && avx512::attend_heads(q, heads, keys, values, bf16, length, head_dim, scores, out)) return;
  if (isa == Isa::kAvx2 && avx2::attend_heads(q, heads, keys, values, bf16, length, head_dim, scores, out)) return;
#endif
  for (int64_t h = 0; h < heads; ++h) {
    attend(q + h * head_dim, keys, values, type, length, head_dim, scores, out + h * head_dim);
  }
}

void decode_tokens(const DecoderWeights& w, const KvView& kv, int64_t position, int64_t T, float* x, float* hidden_out,
                   float* logits, int64_t keep, ThreadPool& pool) {
  Scratch& sc = scratch();
  const int64_t C = w.hidden, H = w.heads, KV = w.kv_heads, D = w.head_dim, F = w.intermediate;
  const int64_t q_rows = H * D, kv_rows = KV * D, qkv_rows = q_rows + 2 * kv_rows;
  const int64_t longest = position + T;
  sc.h.resize(static_cast<size_t>(T * C));
  sc.qkv.resize(static_cast<size_t>(T * qkv_rows));
  sc.attn.resize(static_cast<size_t>(T * q_rows));
  sc.y.resize(static_cast<size_t>(T * std::max(C, F)));
  sc.act.resize(static_cast<size_t>(T * F));
  sc.in.resize(static_cast<size_t>(T));
  sc.scores.resize(static_cast<size_t>(pool.threads()));
  for (auto& s : sc.scores) s.resize(static_cast<size_t>(2 * longest));
  // Normalises each token's residual row into sc.h and prepares it for `m`.
  auto norm_and_prepare = [&](const float* weight, const WeightView& m) {
    for (int64_t t = 0; t < T; ++t) {
      rms_norm(x + t * C, weight, C, w.eps, sc.h.data() + t * C);
      sc.in[static_cast<size_t>(t)].prepare_for(m, sc.h.data() + t * C);
    }
  };
  auto prepare_rows = [&](const WeightView& m, const float* src, int64_t stride) {
    for (int64_t t = 0; t < T; ++t) sc.in[static_cast<size_t>(t)].prepare_for(m, src + t * stride);
  };
  // y[t][r] (+ bias) for the rows of m in [begin, end), every token.
  auto rows_for_all = [&](const WeightView& m, const float* bias, float* y, int64_t ldy, int64_t begin, int64_t end) {
    matmul_rows(m, sc.in.data(), T, y, ldy, begin, end);
    for (int64_t t = 0; t < T; ++t) add_bias(y + t * ldy, bias, begin, end);
  };
  auto add_to_residual = [&](int64_t begin, int64_t end) {
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t i = begin; i < end; ++i) x[t * C + i] += sc.y[static_cast<size_t>(t * C + i)];
    }
  };

  for (size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& lw = w.layers[l];
    // q, k, v: one region over their rows stacked.
    norm_and_prepare(lw.input_norm, lw.q);
    float* qkv = sc.qkv.data();
    parallel_rows(pool, qkv_rows, T * qkv_rows * C, 16, [&](int64_t begin, int64_t end, int) {
      const struct {
        const WeightView* m;
        const float* bias;
        int64_t offset;
      } parts[3] = {{&lw.q, lw.q_bias, 0}, {&lw.k, lw.k_bias, q_rows}, {&lw.v, lw.v_bias, q_rows + kv_rows}};
      for (const auto& part : parts) {
        const int64_t lo = std::max(begin, part.offset) - part.offset;
        const int64_t hi = std::min(end, part.offset + part.m->rows) - part.offset;
        if (lo < hi) rows_for_all(*part.m, part.bias, qkv + part.offset, qkv_rows, lo, hi);
      }
    });
    for (int64_t t = 0; t < T; ++t) {
      float* q = qkv + t * qkv_rows;
      float* k = q + q_rows;
      const float* v = k + kv_rows;
      for (int64_t h = 0; h < H; ++h) {
        if (lw.q_norm) rms_norm(q + h * D, lw.q_norm, D, w.eps, q + h * D);
        apply_rope(q + h * D, D, w.inv_freq, position + t);
      }
      for (int64_t h = 0; h < KV; ++h) {
        if (lw.k_norm) rms_norm(k + h * D, lw.k_norm, D, w.eps, k + h * D);
        apply_rope(k + h * D, D, w.inv_freq, position + t);
        store_kv(kv.keys[l], kv.type, (h * kv.capacity + position + t) * D, k + h * D, D);
        store_kv(kv.values[l], kv.type, (h * kv.capacity + position + t) * D, v + h * D, D);
      }
    }
    // Attention, one region over (token, pair of query heads in one key/value head's group): the
    // pair reads the cached keys and values once. Token t sees positions [0, position + t].
    const int64_t group = H / KV, pairs = (group + 1) / 2;
    const size_t elem = kv.type == KvType::kF32 ? 4 : 2;
    parallel_rows(pool, T * KV * pairs, T * H * longest * D * 2, 1, [&](int64_t begin, int64_t end, int thread) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t t = task / (KV * pairs), g = task / pairs % KV, h = g * group + task % pairs * 2;
        const char* keys = static_cast<const char*>(kv.keys[l]) + static_cast<size_t>(g * kv.capacity * D) * elem;
        const char* values = static_cast<const char*>(kv.values[l]) + static_cast<size_t>(g * kv.capacity * D) * elem;
        attend_group(qkv + t * qkv_rows + h * D, std::min<int64_t>(2, (g + 1) * group - h), keys, values, kv.type,
                     position + t + 1, D, sc.scores[static_cast<size_t>(thread)].data(),
                     sc.attn.data() + t * q_rows + h * D);
      }
    });
    // o, added to the residual stream.
    prepare_rows(lw.o, sc.attn.data(), q_rows);
    parallel_rows(pool, C, T * C * q_rows, 16, [&](int64_t begin, int64_t end, int) {
      rows_for_all(lw.o, lw.o_bias, sc.y.data(), C, begin, end);
      add_to_residual(begin, end);
    });
    // SwiGLU: each thread's gate and up rows, then silu(gate) * up on them.
    norm_and_prepare(lw.post_attention_norm, lw.gate);
    float* act = sc.act.data();
    float* up = sc.y.data();
    parallel_rows(pool, F, T * 2 * F * C, 16, [&](int64_t begin, int64_t end, int) {
      rows_for_all(lw.gate, lw.gate_bias, act, F, begin, end);
      rows_for_all(lw.up, lw.up_bias, up, F, begin, end);
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t i = t * F + begin; i < t * F + end; ++i) act[i] = act[i] / (1.0f + std::exp(-act[i])) * up[i];
      }
    });
    prepare_rows(lw.down, act, F);
    parallel_rows(pool, C, T * C * F, 16, [&](int64_t begin, int64_t end, int) {
      rows_for_all(lw.down, lw.down_bias, sc.y.data(), C, begin, end);
      add_to_residual(begin, end);
    });
  }
  for (int64_t t = 0; t < T; ++t) rms_norm(x + t * C, w.final_norm, C, w.eps, hidden_out + t * C);
  if (logits != nullptr && keep > 0) {
    for (int64_t t = 0; t < keep; ++t) {
      sc.in[static_cast<size_t>(t)].prepare_for(w.lm_head, hidden_out + (T - keep + t) * C);
    }
    parallel_rows(pool, w.vocab, keep * w.vocab * C, 16, [&](int64_t begin, int64_t end, int) {
      matmul_rows(w.lm_head, sc.in.data(), keep, logits, w.vocab, begin, end);
    });
  }
}

void decode_step(const DecoderWeights& w, const KvView& kv, int64_t position, float* x, float* hidden_out,
                 float* logits, ThreadPool& pool) {
  decode_tokens(w, kv, position, 1, x, hidden_out, logits, logits ? 1 : 0, pool);
}

}  // namespace attune::kernels
