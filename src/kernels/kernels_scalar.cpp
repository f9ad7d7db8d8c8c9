// Portable kernels: the reference the vector ones are tested against, and the path on CPUs without
// AVX2. bf16 products use the float32 x (as the AVX2 kernels do).
#include <cstddef>
#include <cstdint>

#include "common/float16.h"
#include "kernels/isa_kernels.h"

namespace attune::kernels::scalar {

void dot_rows_f32(const float* w, int64_t cols, const float* x, float* y, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float* row = w + r * cols;
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < cols; ++c) s += row[c] * x[c];
    y[r] = s;
  }
}

void dot_rows_bf16(const uint16_t* w, int64_t cols, const PreparedInput& x, float* y, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const uint16_t* row = w + r * cols;
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < cols; ++c) s += common::bf16_to_f32(row[c]) * x.f32[c];
    y[r] = s;
  }
}

void dot_rows_q8(const WeightView& w, const PreparedInput& x, float* y, int64_t begin, int64_t end) {
  const int64_t blocks = w.cols / kQ8Block;
  const uint8_t* quants = static_cast<const uint8_t*>(w.data);
  for (int64_t r = begin; r < end; ++r) {
    float s = 0;
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* q = quants + r * w.cols + b * kQ8Block;
      const int8_t* xq = x.q8.data() + b * kQ8Block;
      int32_t dot = 0;
      for (int64_t i = 0; i < kQ8Block; ++i) dot += (static_cast<int32_t>(q[i]) - 128) * xq[i];
      s +=
          static_cast<float>(dot) * (common::f16_to_f32(w.scales[r * blocks + b]) * x.q8_scale[static_cast<size_t>(b)]);
    }
    y[r] = s;
  }
}

}  // namespace attune::kernels::scalar
