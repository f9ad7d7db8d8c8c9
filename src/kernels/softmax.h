// The exponentials of a softmax over a row of logits, vectorised: a sampler or a logit rule needs
// them once per generated token over the whole vocabulary.
#pragma once

#include <cstdint>

namespace attune::kernels {

// out[i] = e^(x[i] - shift) (0 for x[i] = -inf) for i < n, and their sum (in double). shift must be
// at least every x[i] (the row's maximum): the AVX-512 and AVX2 kernels' e^y is for y <= 0, within
// ~2e-7 of std::exp of the float32 difference; other CPUs use std::exp.
double exp_shifted(const float* x, int64_t n, float shift, float* out);

}  // namespace attune::kernels
