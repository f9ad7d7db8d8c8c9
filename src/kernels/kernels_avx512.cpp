// AVX-512 kernels (F, BW, VL; BF16 and VNNI for the bf16 and int8 products), compiled with those
// flags only and called when cpu_features() has them. Four rows at a time share each load of x.
// GCC 12 warns inside its own AVX-512 headers (_mm512_reduce_add_ps): a known false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

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

}  // namespace

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

// Per pair of blocks (64 weights): one VNNI dot product of (quant + 128) weights by signed inputs,
// started at the correction lanes so that each block's 8 lanes sum to its exact integer dot product;
// then scaled lane-wise by weight scale x input scale of the lane's block.
void dot_rows_q8(const WeightView& w, const PreparedInput& x, float* y, int64_t begin, int64_t end) {
  const int64_t blocks = w.cols / kQ8Block;
  const uint8_t* quants = static_cast<const uint8_t*>(w.data);
  const int8_t* xq = x.q8.data();
  const int32_t* correction = x.q8_correction.data();
  const float* xs = x.q8_scale.data();
  __m512i lane_block[8];  // lanes 0-7 read block 2p of a group's 16 scales, lanes 8-15 block 2p + 1
  for (int p = 0; p < 8; ++p) {
    lane_block[p] =
        _mm512_add_epi32(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), _mm512_set1_epi32(2 * p));
  }
  for (int64_t r = begin; r < end; ++r) {
    const uint8_t* row = quants + r * w.cols;
    const uint16_t* ws = w.scales + r * blocks;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (int64_t g = 0; g < blocks; g += 16) {
      const int64_t in_group = blocks - g < 16 ? blocks - g : 16;
      const __mmask16 mb = static_cast<__mmask16>((1u << in_group) - 1);
      const __m512 scale =
          _mm512_mul_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mb, ws + g)), _mm512_loadu_ps(xs + g));
      const int64_t pairs = (in_group + 1) / 2;
      for (int64_t p = 0; p < pairs; ++p) {
        const int64_t block = g + 2 * p, pair = block / 2;
        const __m512i wv = block + 1 < blocks ? _mm512_loadu_si512(row + block * kQ8Block)
                                              : _mm512_maskz_loadu_epi8(0xffffffffull, row + block * kQ8Block);
        const __m512i dot =
            _mm512_dpbusd_epi32(_mm512_loadu_si512(correction + pair * 16), wv, _mm512_loadu_si512(xq + pair * 64));
        const __m512 s = _mm512_permutexvar_ps(lane_block[p], scale);
        if (p & 1) {
          acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), s, acc1);
        } else {
          acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), s, acc0);
        }
      }
    }
    y[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  }
}

}  // namespace attune::kernels::avx512
