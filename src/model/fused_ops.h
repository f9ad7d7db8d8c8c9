// Training-time fused operations with hand-written backward passes. They compute the same values as the
// plain formulas in language_model.cpp (tests/model/test_fused_ops.cpp checks both passes against
// autograd in double precision), but do their elementwise work in float32 in fewer passes: under bf16
// autocast, this libtorch's bf16 elementwise kernels (silu, its backward, the casts around RMSNorm) cost
// more than the matrix products they sit between. The language model uses them only while gradients
// are recorded; inference keeps the plain path.
#pragma once

#include <ATen/ATen.h>

namespace attune::model {

// silu(gate) * up, in gate's dtype (the shapes must match).
at::Tensor fused_swiglu(const at::Tensor& gate, const at::Tensor& up);

// weight * (x / sqrt(mean(x^2, -1) + eps)).to(x.dtype), with the mean and scaling in float32 (transformers'
// order); result dtype = promote(weight, x), as the plain formula gives.
at::Tensor fused_rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

}  // namespace attune::model
