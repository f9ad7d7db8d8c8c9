#include "kernels/softmax.h"

#include <cmath>

#include "kernels/cpu_features.h"
#include "kernels/isa_kernels.h"

namespace attune::kernels {

double exp_shifted(const float* x, int64_t n, float shift, float* out) {
#ifdef ATTUNE_KERNELS_X86
  if (active_isa() == Isa::kAvx512) return avx512::exp_shifted(x, n, shift, out);
  if (active_isa() == Isa::kAvx2) return avx2::exp_shifted(x, n, shift, out);
#endif
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    out[i] = std::exp(x[i] - shift);
    total += out[i];
  }
  return total;
}

}  // namespace attune::kernels
