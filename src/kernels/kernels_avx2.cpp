// AVX2 + FMA + F16C kernels (compiled with those flags only; called when cpu_features() has them).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/isa_kernels.h"

namespace attune::kernels::avx2 {

namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

inline __m256 load_bf16x8(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// The vector type of attention_kernels.inc.
struct V {
  using T = __m256;
  static constexpr int64_t kWidth = 8;
  static T zero() { return _mm256_setzero_ps(); }
  static T set1(float x) { return _mm256_set1_ps(x); }
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static T load_bf16(const uint16_t* p) { return load_bf16x8(p); }
  static __m256i first(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static T load_partial(const float* p, int64_t n) { return _mm256_maskload_ps(p, first(n)); }
  static void store_partial(float* p, T v, int64_t n) { _mm256_maskstore_ps(p, first(n), v); }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T max(T a, T b) { return _mm256_max_ps(a, b); }
  static T fmadd(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T fnmadd(T a, T b, T c) { return _mm256_fnmadd_ps(a, b, c); }
  static T round(T x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // 2^n built in the exponent field: n >= -126 here (x was clamped at -87.3), so it stays normal.
  static T scale_pow2(T p, T n) {
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  }
  static T zero_below(T v, T x, T floor) { return _mm256_andnot_ps(_mm256_cmp_ps(x, floor, _CMP_LT_OQ), v); }
  static float reduce(T v) { return hsum(v); }
};

}  // namespace

#include "kernels/attention_kernels.inc"

void dot_rows_f32(const float* w, int64_t cols, const float* x, float* y, int64_t begin, int64_t end) {
  const int64_t main = cols / 8 * 8;
  for (int64_t r = begin; r < end; ++r) {
    const float* row = w + r * cols;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t c = 0;
    for (; c + 16 <= main; c += 16) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row + c), _mm256_loadu_ps(x + c), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(row + c + 8), _mm256_loadu_ps(x + c + 8), a1);
    }
    for (; c < main; c += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row + c), _mm256_loadu_ps(x + c), a0);
    float s = hsum(_mm256_add_ps(a0, a1));
    for (; c < cols; ++c) s += row[c] * x[c];
    y[r] = s;
  }
}

void dot_rows_bf16(const uint16_t* w, int64_t cols, const PreparedInput& x, float* y, int64_t begin, int64_t end) {
  const int64_t main = cols / 8 * 8;
  for (int64_t r = begin; r < end; ++r) {
    const uint16_t* row = w + r * cols;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t c = 0;
    for (; c + 16 <= main; c += 16) {
      a0 = _mm256_fmadd_ps(load_bf16x8(row + c), _mm256_loadu_ps(x.f32 + c), a0);
      a1 = _mm256_fmadd_ps(load_bf16x8(row + c + 8), _mm256_loadu_ps(x.f32 + c + 8), a1);
    }
    for (; c < main; c += 8) a0 = _mm256_fmadd_ps(load_bf16x8(row + c), _mm256_loadu_ps(x.f32 + c), a0);
    float s = hsum(_mm256_add_ps(a0, a1));
    for (; c < cols; ++c) {
      const uint32_t u = static_cast<uint32_t>(row[c]) << 16;
      float f;
      __builtin_memcpy(&f, &u, 4);
      s += f * x.f32[c];
    }
    y[r] = s;
  }
}

void dot_rows_q8(const WeightView& w, const PreparedInput& x, float* y, int64_t begin, int64_t end) {
  const int64_t blocks = w.cols / kQ8Block;
  const uint8_t* quants = static_cast<const uint8_t*>(w.data);
  const __m256i bias = _mm256_set1_epi16(128);
  for (int64_t r = begin; r < end; ++r) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* q = quants + r * w.cols + b * kQ8Block;
      const int8_t* xq = x.q8.data() + b * kQ8Block;
      __m256i dot = _mm256_setzero_si256();
      for (int half = 0; half < 2; ++half) {
        const __m256i wq = _mm256_sub_epi16(
            _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16 * half))), bias);
        const __m256i xv = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xq + 16 * half)));
        dot = _mm256_add_epi32(dot, _mm256_madd_epi16(wq, xv));
      }
      const float scale = _cvtsh_ss(w.scales[r * blocks + b]) * x.q8_scale[static_cast<size_t>(b)];
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(scale), acc);
    }
    y[r] = hsum(acc);
  }
}

}  // namespace attune::kernels::avx2
