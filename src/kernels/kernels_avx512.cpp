// AVX-512 kernels (F, BW, VL; BF16 and VNNI for the bf16 and int8 products), compiled with those
// flags only and called when cpu_features() has them. Four rows at a time share each load of x.
// GCC 12 warns inside its own AVX-512 headers (_mm512_reduce_add_ps): a known false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/isa_kernels.h"

namespace attune::kernels::avx512 {

namespace {

// y[r..r+R) for R rows of f32 weights.
template <int R>
inline void f32_rows(const float* w, int64_t cols, const float* x, float* y, int64_t r) {
  __m512 acc[R];
  for (int i = 0; i < R; ++i) acc[i] = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 16 <= cols; c += 16) {
    const __m512 xv = _mm512_loadu_ps(x + c);
    for (int i = 0; i < R; ++i) acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(w + (r + i) * cols + c), xv, acc[i]);
  }
  if (c < cols) {
    const __mmask16 m = static_cast<__mmask16>((1u << (cols - c)) - 1);
    const __m512 xv = _mm512_maskz_loadu_ps(m, x + c);
    for (int i = 0; i < R; ++i) {
      acc[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + (r + i) * cols + c), xv, acc[i]);
    }
  }
  for (int i = 0; i < R; ++i) y[r + i] = _mm512_reduce_add_ps(acc[i]);
}

template <int R>
inline void bf16_rows(const uint16_t* w, int64_t cols, const uint16_t* x, float* y, int64_t r) {
  __m512 acc[R];
  for (int i = 0; i < R; ++i) acc[i] = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 32 <= cols; c += 32) {
    const __m512bh xv = (__m512bh)_mm512_loadu_si512(x + c);
    for (int i = 0; i < R; ++i) {
      acc[i] = _mm512_dpbf16_ps(acc[i], (__m512bh)_mm512_loadu_si512(w + (r + i) * cols + c), xv);
    }
  }
  if (c < cols) {  // x is padded with zeros to a multiple of 32
    const __mmask32 m = static_cast<__mmask32>((1ull << (cols - c)) - 1);
    const __m512bh xv = (__m512bh)_mm512_loadu_si512(x + c);
    for (int i = 0; i < R; ++i) {
      acc[i] = _mm512_dpbf16_ps(acc[i], (__m512bh)_mm512_maskz_loadu_epi16(m, w + (r + i) * cols + c), xv);
    }
  }
  for (int i = 0; i < R; ++i) y[r + i] = _mm512_reduce_add_ps(acc[i]);
}

// e^x for x <= 0 (scores minus their maximum): x = n ln2 + r with |r| <= ln2 / 2, e^r by Cephes'
// expf polynomial (relative error about 1e-7), times 2^n by scalef. Below -87.3 the result is 0.
inline __m512 exp_nonpositive(__m512 x) {
  const __m512 floor = _mm512_set1_ps(-87.3f);
  const __mmask16 underflow = _mm512_cmp_ps_mask(x, floor, _CMP_LT_OQ);
  x = _mm512_max_ps(x, floor);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  for (const float c : {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f}) {
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
  }
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~underflow), _mm512_scalef_ps(p, n));
}

// 16 cached keys or values from element i on, as float32 (bf16 widens by a shift).
template <bool kBf16>
inline __m512 load_kv(const void* base, int64_t i) {
  if constexpr (kBf16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    return _mm512_loadu_ps(static_cast<const float*>(base) + i);
  }
}

// N (1 or 2) query heads over one key/value head: each cached key and value is loaded once for both.
// head_dim is a multiple of 16, at most kMaxChunks * 16.
constexpr int kMaxChunks = 16;

template <int N, bool kBf16>
void attend_n(const float* q, const void* keys, const void* values, int64_t length, int64_t head_dim, float* scores,
              float* out) {
  const int64_t chunks = head_dim / 16;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  __m512 qv[N][kMaxChunks];
  for (int h = 0; h < N; ++h) {
    for (int64_t c = 0; c < chunks; ++c)
      qv[h][c] = _mm512_mul_ps(_mm512_loadu_ps(q + h * head_dim + c * 16), _mm512_set1_ps(scale));
  }
  float top[N];
  for (int h = 0; h < N; ++h) top[h] = -INFINITY;
  for (int64_t s = 0; s < length; ++s) {
    __m512 acc[N];
    for (int h = 0; h < N; ++h) acc[h] = _mm512_setzero_ps();
    for (int64_t c = 0; c < chunks; ++c) {
      const __m512 k = load_kv<kBf16>(keys, s * head_dim + c * 16);
      for (int h = 0; h < N; ++h) acc[h] = _mm512_fmadd_ps(qv[h][c], k, acc[h]);
    }
    for (int h = 0; h < N; ++h) {
      const float dot = _mm512_reduce_add_ps(acc[h]);
      scores[h * length + s] = dot;
      top[h] = std::max(top[h], dot);
    }
  }
  float inv[N];
  for (int h = 0; h < N; ++h) {
    float* row = scores + h * length;
    const __m512 m = _mm512_set1_ps(top[h]);
    __m512 total = _mm512_setzero_ps();
    for (int64_t s = 0; s < length; s += 16) {
      const __mmask16 live =
          length - s >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (length - s)) - 1);
      const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(live, row + s), m));
      _mm512_mask_storeu_ps(row + s, live, e);
      total = _mm512_add_ps(total, _mm512_maskz_mov_ps(live, e));
    }
    inv[h] = 1.0f / _mm512_reduce_add_ps(total);
  }
  for (int64_t c0 = 0; c0 < chunks; c0 += 4) {  // four output vectors per head at a time
    const int64_t n_chunks = std::min<int64_t>(4, chunks - c0);
    __m512 acc[N][4];
    for (int h = 0; h < N; ++h) {
      for (int c = 0; c < 4; ++c) acc[h][c] = _mm512_setzero_ps();
    }
    for (int64_t s = 0; s < length; ++s) {
      __m512 p[N];
      for (int h = 0; h < N; ++h) p[h] = _mm512_set1_ps(scores[h * length + s]);
      for (int64_t c = 0; c < n_chunks; ++c) {
        const __m512 v = load_kv<kBf16>(values, s * head_dim + (c0 + c) * 16);
        for (int h = 0; h < N; ++h) acc[h][c] = _mm512_fmadd_ps(p[h], v, acc[h][c]);
      }
    }
    for (int h = 0; h < N; ++h) {
      for (int64_t c = 0; c < n_chunks; ++c) {
        _mm512_storeu_ps(out + h * head_dim + (c0 + c) * 16, _mm512_mul_ps(acc[h][c], _mm512_set1_ps(inv[h])));
      }
    }
  }
}

template <bool kBf16>
void attend_pairs(const float* q, int64_t heads, const void* keys, const void* values, int64_t length, int64_t head_dim,
                  float* scores, float* out) {
  int64_t h = 0;
  for (; h + 2 <= heads; h += 2) {
    attend_n<2, kBf16>(q + h * head_dim, keys, values, length, head_dim, scores, out + h * head_dim);
  }
  if (h < heads) attend_n<1, kBf16>(q + h * head_dim, keys, values, length, head_dim, scores, out + h * head_dim);
}

}  // namespace

double exp_shifted(const float* x, int64_t n, float shift, float* out) {
  const __m512 m = _mm512_set1_ps(shift);
  __m512d total = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 live = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(live, x + i), m));
    _mm512_mask_storeu_ps(out + i, live, e);
    const __m512 kept = _mm512_maskz_mov_ps(live, e);
    total = _mm512_add_pd(total, _mm512_cvtps_pd(_mm512_castps512_ps256(kept)));
    total = _mm512_add_pd(total, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(kept), 1))));
  }
  return _mm512_reduce_add_pd(total);
}

bool attend_heads(const float* q, int64_t heads, const void* keys, const void* values, bool bf16_cache, int64_t length,
                  int64_t head_dim, float* scores, float* out) {
  if (head_dim % 16 != 0 || head_dim > kMaxChunks * 16 || length < 1) return false;
  if (bf16_cache) {
    attend_pairs<true>(q, heads, keys, values, length, head_dim, scores, out);
  } else {
    attend_pairs<false>(q, heads, keys, values, length, head_dim, scores, out);
  }
  return true;
}

void dot_rows_f32(const float* w, int64_t cols, const float* x, float* y, int64_t begin, int64_t end) {
  int64_t r = begin;
  for (; r + 4 <= end; r += 4) f32_rows<4>(w, cols, x, y, r);
  for (; r < end; ++r) f32_rows<1>(w, cols, x, y, r);
}

void dot_rows_bf16(const uint16_t* w, int64_t cols, const PreparedInput& x, float* y, int64_t begin, int64_t end) {
  const uint16_t* xb = x.bf16.data();
  int64_t r = begin;
  for (; r + 4 <= end; r += 4) bf16_rows<4>(w, cols, xb, y, r);
  for (; r < end; ++r) bf16_rows<1>(w, cols, xb, y, r);
}

// Per block of 32 weights: one VNNI dot product (256-bit) of (quant + 128) weights by signed inputs,
// started at the block's correction lanes so that its 8 lanes sum to the exact integer dot product,
// then converted and accumulated times (weight scale x input scale), broadcast from a per-group
// table of 16 combined scales.
void dot_rows_q8(const WeightView& w, const PreparedInput& x, float* y, int64_t begin, int64_t end) {
  const int64_t blocks = w.cols / kQ8Block;
  const uint8_t* quants = static_cast<const uint8_t*>(w.data);
  const int8_t* xq = x.q8.data();
  const int32_t* correction = x.q8_correction.data();
  const float* xs = x.q8_scale.data();
  alignas(64) float scale[16];
  for (int64_t r = begin; r < end; ++r) {
    const uint8_t* row = quants + r * w.cols;
    const uint16_t* ws = w.scales + r * blocks;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int64_t g = 0; g < blocks; g += 16) {
      const int64_t in_group = blocks - g < 16 ? blocks - g : 16;
      const __mmask16 mb = static_cast<__mmask16>((1u << in_group) - 1);
      _mm512_store_ps(scale,
                      _mm512_mul_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mb, ws + g)), _mm512_loadu_ps(xs + g)));
      int64_t b = 0;
      for (; b + 2 <= in_group; b += 2) {
        const int64_t block = g + b;
        const __m256i d0 =
            _mm256_dpbusd_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(correction + block * 8)),
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + block * kQ8Block)),
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + block * kQ8Block)));
        const __m256i d1 =
            _mm256_dpbusd_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(correction + block * 8 + 8)),
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + block * kQ8Block + kQ8Block)),
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + block * kQ8Block + kQ8Block)));
        acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d0), _mm256_broadcast_ss(scale + b), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d1), _mm256_broadcast_ss(scale + b + 1), acc1);
      }
      if (b < in_group) {
        const int64_t block = g + b;
        const __m256i d0 =
            _mm256_dpbusd_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(correction + block * 8)),
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + block * kQ8Block)),
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + block * kQ8Block)));
        acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d0), _mm256_broadcast_ss(scale + b), acc0);
      }
    }
    const __m256 s = _mm256_add_ps(acc0, acc1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    y[r] = _mm_cvtss_f32(h);
  }
}

}  // namespace attune::kernels::avx512
