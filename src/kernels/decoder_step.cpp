#include "kernels/decoder_step.h"

#include <algorithm>
#include <cmath>

#include "kernels/numeric_formats.h"

namespace attune::kernels {

namespace {

// Regions below this many multiply-adds run on the calling thread alone: waking the pool costs more.
constexpr int64_t kParallelMacs = 1 << 15;

struct Scratch {
  std::vector<float> h, qkv, attn, y, act;
  std::vector<std::vector<float>> scores;  // per thread
  PreparedInput in;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

inline float load_kv(const void* base, KvType type, int64_t i) {
  return type == KvType::kF32 ? static_cast<const float*>(base)[i]
                              : bf16_to_float(static_cast<const uint16_t*>(base)[i]);
}

inline void store_kv(void* base, KvType type, int64_t i, const float* src, int64_t n) {
  if (type == KvType::kF32) {
    std::copy(src, src + n, static_cast<float*>(base) + i);
  } else {
    uint16_t* dst = static_cast<uint16_t*>(base) + i;
    for (int64_t j = 0; j < n; ++j) dst[j] = float_to_bf16(src[j]);
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
      for (int64_t d = 0; d < head_dim; ++d) dot += q[d] * bf16_to_float(k[d]);
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
      for (int64_t d = 0; d < head_dim; ++d) out[d] += p * bf16_to_float(v[d]);
    }
  }
}

void decode_step(const DecoderWeights& w, const KvView& kv, int64_t position, float* x, float* hidden_out,
                 float* logits, ThreadPool& pool) {
  Scratch& sc = scratch();
  const int64_t C = w.hidden, H = w.heads, KV = w.kv_heads, D = w.head_dim, F = w.intermediate;
  const int64_t q_rows = H * D, kv_rows = KV * D, qkv_rows = q_rows + 2 * kv_rows;
  const int64_t length = position + 1;
  sc.h.resize(static_cast<size_t>(C));
  sc.qkv.resize(static_cast<size_t>(qkv_rows));
  sc.attn.resize(static_cast<size_t>(q_rows));
  sc.y.resize(static_cast<size_t>(std::max(C, F)));
  sc.act.resize(static_cast<size_t>(F));
  sc.scores.resize(static_cast<size_t>(pool.threads()));
  for (auto& s : sc.scores) s.resize(static_cast<size_t>(length));

  for (size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& lw = w.layers[l];
    // q, k, v: one region over their rows stacked.
    rms_norm(x, lw.input_norm, C, w.eps, sc.h.data());
    sc.in.prepare_for(lw.q, sc.h.data());
    float* qkv = sc.qkv.data();
    parallel_rows(pool, qkv_rows, qkv_rows * C, 16, [&](int64_t begin, int64_t end, int) {
      const struct {
        const WeightView* m;
        const float* bias;
        int64_t offset;
      } parts[3] = {{&lw.q, lw.q_bias, 0}, {&lw.k, lw.k_bias, q_rows}, {&lw.v, lw.v_bias, q_rows + kv_rows}};
      for (const auto& part : parts) {
        const int64_t lo = std::max(begin, part.offset) - part.offset;
        const int64_t hi = std::min(end, part.offset + part.m->rows) - part.offset;
        if (lo >= hi) continue;
        matvec_rows(*part.m, sc.in, qkv + part.offset, lo, hi);
        add_bias(qkv + part.offset, part.bias, lo, hi);
      }
    });
    float* q = qkv;
    float* k = qkv + q_rows;
    const float* v = qkv + q_rows + kv_rows;
    for (int64_t h = 0; h < H; ++h) {
      if (lw.q_norm) rms_norm(q + h * D, lw.q_norm, D, w.eps, q + h * D);
      apply_rope(q + h * D, D, w.inv_freq, position);
    }
    for (int64_t h = 0; h < KV; ++h) {
      if (lw.k_norm) rms_norm(k + h * D, lw.k_norm, D, w.eps, k + h * D);
      apply_rope(k + h * D, D, w.inv_freq, position);
      store_kv(kv.keys[l], kv.type, (h * kv.capacity + position) * D, k + h * D, D);
      store_kv(kv.values[l], kv.type, (h * kv.capacity + position) * D, v + h * D, D);
    }
    // Attention, one region over the query heads.
    const int64_t group = H / KV;
    const size_t elem = kv.type == KvType::kF32 ? 4 : 2;
    parallel_rows(pool, H, H * length * D * 2, 1, [&](int64_t begin, int64_t end, int thread) {
      for (int64_t h = begin; h < end; ++h) {
        const int64_t g = h / group;
        const char* keys = static_cast<const char*>(kv.keys[l]) + static_cast<size_t>(g * kv.capacity * D) * elem;
        const char* values = static_cast<const char*>(kv.values[l]) + static_cast<size_t>(g * kv.capacity * D) * elem;
        attend(q + h * D, keys, values, kv.type, length, D, sc.scores[static_cast<size_t>(thread)].data(),
               sc.attn.data() + h * D);
      }
    });
    // o, added to the residual stream.
    sc.in.prepare_for(lw.o, sc.attn.data());
    parallel_rows(pool, C, C * q_rows, 16, [&](int64_t begin, int64_t end, int) {
      matvec_rows(lw.o, sc.in, sc.y.data(), begin, end);
      add_bias(sc.y.data(), lw.o_bias, begin, end);
      for (int64_t i = begin; i < end; ++i) x[i] += sc.y[static_cast<size_t>(i)];
    });
    // SwiGLU: each thread's gate and up rows, then silu(gate) * up on them.
    rms_norm(x, lw.post_attention_norm, C, w.eps, sc.h.data());
    sc.in.prepare_for(lw.gate, sc.h.data());
    float* act = sc.act.data();
    float* up = sc.y.data();
    parallel_rows(pool, F, 2 * F * C, 16, [&](int64_t begin, int64_t end, int) {
      matvec_rows(lw.gate, sc.in, act, begin, end);
      matvec_rows(lw.up, sc.in, up, begin, end);
      add_bias(act, lw.gate_bias, begin, end);
      add_bias(up, lw.up_bias, begin, end);
      for (int64_t i = begin; i < end; ++i) act[i] = act[i] / (1.0f + std::exp(-act[i])) * up[i];
    });
    sc.in.prepare_for(lw.down, act);
    parallel_rows(pool, C, C * F, 16, [&](int64_t begin, int64_t end, int) {
      matvec_rows(lw.down, sc.in, sc.y.data(), begin, end);
      add_bias(sc.y.data(), lw.down_bias, begin, end);
      for (int64_t i = begin; i < end; ++i) x[i] += sc.y[static_cast<size_t>(i)];
    });
  }
  rms_norm(x, w.final_norm, C, w.eps, hidden_out);
  if (logits != nullptr) {
    sc.in.prepare_for(w.lm_head, hidden_out);
    parallel_rows(pool, w.vocab, w.vocab * C, 16,
                  [&](int64_t begin, int64_t end, int) { matvec_rows(w.lm_head, sc.in, logits, begin, end); });
  }
}

}  // namespace attune::kernels
