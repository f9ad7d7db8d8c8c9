// The per-instruction-set matrix-vector kernels behind matvec.h (internal to kernels/). Each family
// is compiled in its own translation unit with its own -m flags; matvec.cpp picks one at run time.
#pragma once

#include <cstdint>

#include "kernels/matvec.h"

#define ATTUNE_DECLARE_KERNELS(ns)                                                                                   \
  namespace ns {                                                                                                     \
  void dot_rows_f32(const float* w, int64_t cols, const float* x, float* y, int64_t begin, int64_t end);             \
  void dot_rows_bf16(const uint16_t* w, int64_t cols, const PreparedInput& x, float* y, int64_t begin, int64_t end); \
  void dot_rows_q8(const WeightView& w, const PreparedInput& x, float* y, int64_t begin, int64_t end);               \
  }

namespace attune::kernels {
ATTUNE_DECLARE_KERNELS(scalar)
ATTUNE_DECLARE_KERNELS(avx2)
ATTUNE_DECLARE_KERNELS(avx512)
}  // namespace attune::kernels

// The kernels of attention_kernels.inc, AVX-512 and AVX2.
// attend_heads: softmax attention of `heads` query heads (a GQA group, [heads, head_dim] in q) over
// positions [0, length) of one key/value head, each cached key and value read once for two heads;
// the formula of kernels::attend. scores: room for 2 * length floats. False (nothing written) where
// head_dim is not a multiple of the vector width or above 256.
// exp_shifted: kernels::exp_shifted (softmax.h); every x - shift <= 0.
#define ATTUNE_DECLARE_VECTOR_KERNELS(ns)                                                                 \
  namespace ns {                                                                                          \
  bool attend_heads(const float* q, int64_t heads, const void* keys, const void* values, bool bf16_cache, \
                    int64_t length, int64_t head_dim, float* scores, float* out);                         \
  double exp_shifted(const float* x, int64_t n, float shift, float* out);                                 \
  }

namespace attune::kernels {
ATTUNE_DECLARE_VECTOR_KERNELS(avx2)
ATTUNE_DECLARE_VECTOR_KERNELS(avx512)
}  // namespace attune::kernels

#undef ATTUNE_DECLARE_VECTOR_KERNELS
#undef ATTUNE_DECLARE_KERNELS
