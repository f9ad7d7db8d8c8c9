#include "model/fused_ops.h"

#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "attune/error.h"

namespace attune::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")
namespace avx512 {
#include "model/fused_kernels.inc"
}  // namespace avx512
#pragma GCC pop_options

namespace baseline {
#include "model/fused_kernels.inc"
}  // namespace baseline

bool use_avx512() {
  static const bool yes =
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return yes;
}

// Calls the kernel of the best instruction set this CPU has.
#define ATTUNE_DISPATCH(kernel, T, ...) \
  (use_avx512() ? avx512::kernel<T>(__VA_ARGS__) : baseline::kernel<T>(__VA_ARGS__))

template <typename T>
void swiglu_forward_typed(const at::Tensor& g, const at::Tensor& u, at::Tensor& y) {
  const T* gp = reinterpret_cast<const T*>(g.data_ptr());
  const T* up = reinterpret_cast<const T*>(u.data_ptr());
  T* yp = reinterpret_cast<T*>(y.data_ptr());
  at::parallel_for(0, g.numel(), 1 << 14,
                   [&](int64_t b, int64_t e) { ATTUNE_DISPATCH(swiglu_forward_kernel, T, gp, up, yp, b, e); });
}

template <typename T>
void swiglu_backward_typed(const at::Tensor& g, const at::Tensor& u, const at::Tensor& dy, at::Tensor& dg,
                           at::Tensor& du) {
  const T* gp = reinterpret_cast<const T*>(g.data_ptr());
  const T* up = reinterpret_cast<const T*>(u.data_ptr());
  const T* dp = reinterpret_cast<const T*>(dy.data_ptr());
  T* dgp = reinterpret_cast<T*>(dg.data_ptr());
  T* dup = reinterpret_cast<T*>(du.data_ptr());
  at::parallel_for(0, g.numel(), 1 << 14, [&](int64_t b, int64_t e) {
    ATTUNE_DISPATCH(swiglu_backward_kernel, T, gp, up, dp, dgp, dup, b, e);
  });
}

bool kernel_dtype(const at::Tensor& t) {
  return t.is_cpu() && (t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16);
}

class SwigluFunction : public torch::autograd::Function<SwigluFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gate_in, const at::Tensor& up_in) {
    at::Tensor gate = gate_in.contiguous(), up = up_in.to(gate_in.scalar_type()).contiguous();
    ctx->save_for_backward({gate, up});
    at::Tensor y = at::empty_like(gate);
    if (gate.scalar_type() == at::kFloat)
      swiglu_forward_typed<float>(gate, up, y);
    else
      swiglu_forward_typed<uint16_t>(gate, up, y);
    return y;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& gate = saved[0];
    const at::Tensor& up = saved[1];
    const at::Tensor dy = grads[0].to(gate.scalar_type()).contiguous();
    at::Tensor dg = at::empty_like(gate), du = at::empty_like(up);
    if (gate.scalar_type() == at::kFloat)
      swiglu_backward_typed<float>(gate, up, dy, dg, du);
    else
      swiglu_backward_typed<uint16_t>(gate, up, dy, dg, du);
    return {dg, du};
  }
};

template <typename T>
void rms_forward_typed(const at::Tensor& x, const at::Tensor& w, at::Tensor& y, at::Tensor& rstd, double eps) {
  const int64_t C = x.size(-1), rows = x.numel() / C;
  const T* xp = reinterpret_cast<const T*>(x.data_ptr());
  at::parallel_for(0, rows, 64, [&](int64_t b, int64_t e) {
    ATTUNE_DISPATCH(rms_forward_rows, T, xp, w.data_ptr<float>(), y.data_ptr<float>(), rstd.data_ptr<float>(), C, eps,
                    b, e);
  });
}

template <typename T>
void rms_backward_typed(const at::Tensor& x, const at::Tensor& w, const at::Tensor& rstd, const at::Tensor& dy,
                        at::Tensor& dx, at::Tensor& dw) {
  const int64_t C = x.size(-1), rows = x.numel() / C;
  const T* xp = reinterpret_cast<const T*>(x.data_ptr());
  T* dxp = reinterpret_cast<T*>(dx.data_ptr());
  // Per-chunk partial sums added in chunk order afterwards, so the result does not depend on which
  // thread finished first (training repeats bit for bit).
  std::mutex mutex;
  std::map<int64_t, std::vector<float>> partials;
  at::parallel_for(0, rows, 64, [&](int64_t b, int64_t e) {
    std::vector<float> part(static_cast<size_t>(C), 0.0f);
    ATTUNE_DISPATCH(rms_backward_rows, T, xp, w.data_ptr<float>(), rstd.data_ptr<float>(), dy.data_ptr<float>(), dxp,
                    part.data(), C, b, e);
    std::lock_guard<std::mutex> lock(mutex);
    partials.emplace(b, std::move(part));
  });
  float* total = dw.data_ptr<float>();
  for (const auto& [begin, part] : partials) {
    for (int64_t c = 0; c < C; ++c) total[c] += part[static_cast<size_t>(c)];
  }
}

class RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x_in, const at::Tensor& weight, double eps) {
    const at::Tensor x = x_in.contiguous();
    const at::Tensor w = weight.to(at::kFloat).contiguous();
    const int64_t C = x.size(-1);
    at::Tensor y = at::empty(x.sizes(), x.options().dtype(at::kFloat));
    at::Tensor rstd = at::empty({x.numel() / C}, x.options().dtype(at::kFloat));
    if (x.scalar_type() == at::kFloat)
      rms_forward_typed<float>(x, w, y, rstd, eps);
    else
      rms_forward_typed<uint16_t>(x, w, y, rstd, eps);
    ctx->save_for_backward({x, weight, rstd});
    return y.to(at::promote_types(weight.scalar_type(), x.scalar_type()));
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& rstd = saved[2];
    const at::Tensor w = weight.to(at::kFloat).contiguous();
    const at::Tensor dy = grads[0].to(at::kFloat).contiguous();
    at::Tensor dx = at::empty_like(x);
    at::Tensor dw = at::zeros({x.size(-1)}, x.options().dtype(at::kFloat));
    if (x.scalar_type() == at::kFloat)
      rms_backward_typed<float>(x, w, rstd, dy, dx, dw);
    else
      rms_backward_typed<uint16_t>(x, w, rstd, dy, dx, dw);
    return {dx, dw.to(weight.scalar_type()), at::Tensor()};
  }
};

}  // namespace

at::Tensor fused_swiglu(const at::Tensor& gate, const at::Tensor& up) {
  if (!kernel_dtype(gate) || gate.sizes() != up.sizes()) return at::silu(gate) * up;  // GPU, other dtypes
  return SwigluFunction::apply(gate, up);
}

at::Tensor fused_rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  if (!kernel_dtype(x) || !kernel_dtype(weight) || x.dim() < 1 || weight.dim() != 1 || weight.size(0) != x.size(-1)) {
    at::Tensor h = x.to(at::kFloat);
    return weight * (h * at::rsqrt(h.pow(2).mean(-1, true) + eps)).to(x.scalar_type());
  }
  return RmsNormFunction::apply(x, weight, eps);
}

}  // namespace attune::model
