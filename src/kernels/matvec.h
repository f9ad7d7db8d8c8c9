// Matrix-vector products for decoding, one output row at a time, over weights read in place:
//   y[r] = W[r] . x   for r in [begin, end)
// in three weight formats:
//   - kF32:  float32 rows;
//   - kBF16: bfloat16 rows; x is rounded to bf16 and the products are summed in float32 (AVX-512 BF16
//            dot product; other CPUs widen the weights and use the float32 x);
//   - kQ8:   int8 blocks of 32 weights with one fp16 scale each (llama.cpp's Q8_0 numbers), stored
//            as quant + 128 in one byte so that AVX-512 VNNI multiplies unsigned weights by signed
//            inputs; x is quantised the same way (blocks of 32, float scale), and every block's
//            integer dot product is exact before it is scaled.
// Kernels: AVX-512, AVX2 and scalar, chosen by cpu_features.h at run time. They agree with each other
// up to float32 summation order.
#pragma once

#include <cstdint>
#include <vector>

namespace attune::kernels {

enum class WeightType : uint8_t { kF32, kBF16, kQ8 };
const char* weight_type_name(WeightType type);

inline constexpr int64_t kQ8Block = 32;

struct WeightView {
  WeightType type = WeightType::kF32;
  int64_t rows = 0, cols = 0;
  const void* data = nullptr;        // kF32: float; kBF16: uint16_t; kQ8: rows x cols bytes (quant + 128)
  const uint16_t* scales = nullptr;  // kQ8: rows x cols/32 fp16 scales
  int64_t bytes() const;
};

// An int8 copy of a float32 matrix (cols a multiple of 32), owned. Each block: d = max|w| / 127 stored
// as fp16, q = round(w / d) in [-127, 127].
struct Q8Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> quants;
  std::vector<uint16_t> scales;
  WeightView view() const;
};
Q8Matrix quantize_q8(const float* w, int64_t rows, int64_t cols);

// Row `row` of w as float32 (an embedding lookup in a kQ8 or kBF16 table).
void dequantize_row(const WeightView& w, int64_t row, float* out);

// x in the forms the kernels read; prepare once per product, share between threads.
class PreparedInput {
 public:
  // Keeps the pointer (x must outlive the product) and makes the bf16 and/or int8 forms.
  void prepare(const float* x, int64_t n, bool need_bf16, bool need_q8);
  void prepare_for(const WeightView& w, const float* x) {
    prepare(x, w.cols, w.type == WeightType::kBF16, w.type == WeightType::kQ8);
  }

  const float* f32 = nullptr;
  int64_t n = 0;
  std::vector<uint16_t> bf16;   // padded with zeros to a multiple of 32
  std::vector<int8_t> q8;       // padded with zeros to a multiple of 64
  std::vector<float> q8_scale;  // per block, padded with zeros to a multiple of 16 blocks
  // Per block, 8 int32 lanes of -16 * (sum of the block's quants), padded to whole pairs of blocks:
  // the start value of an unsigned-by-signed dot product of (quant + 128) weights.
  std::vector<int32_t> q8_correction;
};

void matvec_rows(const WeightView& w, const PreparedInput& x, float* y, int64_t begin, int64_t end);

// The same for T inputs, y[t * ldy + r]: rows are taken in blocks small enough to stay in the cache
// while every input passes over them, so each weight is read from memory once for all T.
void matmul_rows(const WeightView& w, const PreparedInput* x, int64_t T, float* y, int64_t ldy, int64_t begin,
                 int64_t end);

}  // namespace attune::kernels
