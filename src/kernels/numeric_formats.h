// Scalar conversions between float and the 16-bit formats the decode path stores: bfloat16 and IEEE
// half (the scale of an int8 block). Round to nearest even, as torch and llama.cpp do; NaN stays NaN.
#pragma once

#include <cstdint>
#include <cstring>

namespace attune::kernels {

inline float bf16_to_float(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);

}  // namespace attune::kernels
