#include "kernels/matvec.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "attune/error.h"
#include "common/float16.h"
#include "kernels/cpu_features.h"
#include "kernels/isa_kernels.h"

namespace attune::kernels {

const char* weight_type_name(WeightType type) {
  switch (type) {
    case WeightType::kBF16:
      return "bf16";
    case WeightType::kQ8:
      return "int8";
    case WeightType::kF32:
      break;
  }
  return "fp32";
}

int64_t WeightView::bytes() const {
  switch (type) {
    case WeightType::kBF16:
      return rows * cols * 2;
    case WeightType::kQ8:
      return rows * cols + rows * (cols / kQ8Block) * 2;
    case WeightType::kF32:
      break;
  }
  return rows * cols * 4;
}

WeightView Q8Matrix::view() const { return WeightView{WeightType::kQ8, rows, cols, quants.data(), scales.data()}; }

namespace {

// Q8_0's formula for one block of n <= 32 values: d = max|x| / 127, q = round(x / d) in [-127, 127].
// Returns d.
float quantize_block(const float* x, int64_t n, int* q) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int64_t i = 0; i < n; ++i) q[i] = std::clamp(static_cast<int>(std::nearbyint(x[i] * id)), -127, 127);
  return d;
}

}  // namespace

Q8Matrix quantize_q8(const float* w, int64_t rows, int64_t cols) {
  if (cols % kQ8Block != 0) {
    throw ConfigError("int8 weights: rows of " + std::to_string(cols) + " values are not whole blocks of " +
                      std::to_string(kQ8Block));
  }
  Q8Matrix q;
  q.rows = rows;
  q.cols = cols;
  q.quants.resize(static_cast<size_t>(rows * cols));
  q.scales.resize(static_cast<size_t>(rows * (cols / kQ8Block)));
  int q8[kQ8Block];
  for (int64_t b = 0; b < rows * (cols / kQ8Block); ++b) {
    q.scales[static_cast<size_t>(b)] = common::f32_to_f16(quantize_block(w + b * kQ8Block, kQ8Block, q8));
    for (int64_t i = 0; i < kQ8Block; ++i)
      q.quants[static_cast<size_t>(b * kQ8Block + i)] = static_cast<uint8_t>(q8[i] + 128);
  }
  return q;
}

void dequantize_row(const WeightView& w, int64_t row, float* out) {
  switch (w.type) {
    case WeightType::kF32: {
      const float* src = static_cast<const float*>(w.data) + row * w.cols;
      std::copy(src, src + w.cols, out);
      return;
    }
    case WeightType::kBF16: {
      const uint16_t* src = static_cast<const uint16_t*>(w.data) + row * w.cols;
      for (int64_t i = 0; i < w.cols; ++i) out[i] = common::bf16_to_f32(src[i]);
      return;
    }
    case WeightType::kQ8: {
      const uint8_t* src = static_cast<const uint8_t*>(w.data) + row * w.cols;
      const uint16_t* scales = w.scales + row * (w.cols / kQ8Block);
      for (int64_t i = 0; i < w.cols; ++i) {
        out[i] = static_cast<float>(static_cast<int>(src[i]) - 128) * common::f16_to_f32(scales[i / kQ8Block]);
      }
      return;
    }
  }
}

void PreparedInput::prepare(const float* x, int64_t count, bool need_bf16, bool need_q8) {
  f32 = x;
  n = count;
  if (need_bf16) {
    bf16.assign(static_cast<size_t>((count + 31) / 32 * 32), 0);
    for (int64_t i = 0; i < count; ++i) bf16[static_cast<size_t>(i)] = common::f32_to_bf16(x[i]);
  }
  if (need_q8) {
    const int64_t blocks = (count + kQ8Block - 1) / kQ8Block;
    const int64_t pairs = (blocks + 1) / 2;
    q8.assign(static_cast<size_t>(pairs * 64), 0);
    q8_scale.assign(static_cast<size_t>((blocks + 15) / 16 * 16), 0.0f);
    q8_correction.assign(static_cast<size_t>(pairs * 16), 0);
    int quants[kQ8Block];
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t lo = b * kQ8Block, n_block = std::min(count, lo + kQ8Block) - lo;
      q8_scale[static_cast<size_t>(b)] = quantize_block(x + lo, n_block, quants);
      int32_t sum = 0;
      for (int64_t i = 0; i < n_block; ++i) {
        q8[static_cast<size_t>(lo + i)] = static_cast<int8_t>(quants[i]);
        sum += quants[i];
      }
      for (int64_t lane = 0; lane < 8; ++lane) q8_correction[static_cast<size_t>(b * 8 + lane)] = -16 * sum;
    }
  }
}

void matvec_rows(const WeightView& w, const PreparedInput& x, float* y, int64_t begin, int64_t end) {
  if (begin >= end) return;
  const Isa isa = active_isa();
  [[maybe_unused]] const CpuFeatures& cpu = cpu_features();
  switch (w.type) {
    case WeightType::kF32: {
      const float* data = static_cast<const float*>(w.data);
#ifdef ATTUNE_KERNELS_X86
      if (isa == Isa::kAvx512) return avx512::dot_rows_f32(data, w.cols, x.f32, y, begin, end);
      if (isa == Isa::kAvx2) return avx2::dot_rows_f32(data, w.cols, x.f32, y, begin, end);
#endif
      return scalar::dot_rows_f32(data, w.cols, x.f32, y, begin, end);
    }
    case WeightType::kBF16: {
      const uint16_t* data = static_cast<const uint16_t*>(w.data);
#ifdef ATTUNE_KERNELS_X86
      if (isa == Isa::kAvx512 && cpu.avx512_bf16) return avx512::dot_rows_bf16(data, w.cols, x, y, begin, end);
      if (isa != Isa::kScalar) return avx2::dot_rows_bf16(data, w.cols, x, y, begin, end);
#endif
      return scalar::dot_rows_bf16(data, w.cols, x, y, begin, end);
    }
    case WeightType::kQ8: {
#ifdef ATTUNE_KERNELS_X86
      if (isa == Isa::kAvx512 && cpu.avx512_vnni) return avx512::dot_rows_q8(w, x, y, begin, end);
      if (isa != Isa::kScalar) return avx2::dot_rows_q8(w, x, y, begin, end);
#endif
      return scalar::dot_rows_q8(w, x, y, begin, end);
    }
  }
}

void matmul_rows(const WeightView& w, const PreparedInput* x, int64_t T, float* y, int64_t ldy, int64_t begin,
                 int64_t end) {
  if (T == 1) return matvec_rows(w, x[0], y, begin, end);
  const int64_t row_bytes = std::max<int64_t>(1, w.bytes() / std::max<int64_t>(1, w.rows));
  const int64_t block = std::max<int64_t>(4, (64 * 1024 / row_bytes) / 4 * 4);  // ~64 KB of weights
  for (int64_t r = begin; r < end; r += block) {
    const int64_t stop = std::min(end, r + block);
    for (int64_t t = 0; t < T; ++t) matvec_rows(w, x[t], y + t * ldy, r, stop);
  }
}

}  // namespace attune::kernels
