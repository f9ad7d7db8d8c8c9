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

// The vector type of attention_kernels.inc.
struct V {
  using T = __m512;
  static constexpr int64_t kWidth = 16;
  static T zero() { return _mm512_setzero_ps(); }
  static T set1(float x) { return _mm512_set1_ps(x); }
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static T load_bf16(const uint16_t* p) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static __mmask16 first(int64_t n) {
    return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
  }
  static T load_partial(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_partial(float* p, T v, int64_t n) { _mm512_mask_storeu_ps(p, first(n), v); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T max(T a, T b) { return _mm512_max_ps(a, b); }
  static T fmadd(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T fnmadd(T a, T b, T c) { return _mm512_fnmadd_ps(a, b, c); }
  static T round(T x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static T scale_pow2(T p, T n) { return _mm512_scalef_ps(p, n); }
  static T zero_below(T v, T x, T floor) {
    return _mm512_maskz_mov_ps(static_cast<__mmask16>(~_mm512_cmp_ps_mask(x, floor, _CMP_LT_OQ)), v);
  }
  static float reduce(T v) { return _mm512_reduce_add_ps(v); }
};

}  // namespace

#include "kernels/attention_kernels.inc"

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
