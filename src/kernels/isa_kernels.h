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

#undef ATTUNE_DECLARE_KERNELS
