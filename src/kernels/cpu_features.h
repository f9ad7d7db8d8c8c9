// What the CPU can run, detected once at start-up, and which kernel family the decode path uses.
// The AVX-512 kernels need F, BW and VL (BF16 and VNNI for their bf16 and int8 dot products); the AVX2
// ones need AVX2, FMA and F16C. ATTUNE_ISA=scalar|avx2|avx512 (or force_isa, for tests) picks a lower
// family than the best one; asking for one the CPU lacks keeps the best available.
#pragma once

#include <string_view>
#include <vector>

namespace attune::kernels {

struct CpuFeatures {
  bool avx2 = false;    // with FMA and F16C
  bool avx512 = false;  // F, BW, VL
  bool avx512_bf16 = false;
  bool avx512_vnni = false;
};

const CpuFeatures& cpu_features();

enum class Isa { kScalar, kAvx2, kAvx512 };
std::string_view isa_name(Isa isa);

// The best family this CPU runs.
Isa best_isa();
// The family in use: best_isa() lowered by ATTUNE_ISA or force_isa().
Isa active_isa();
// Every family this CPU runs, lowest first (tests run each).
std::vector<Isa> runnable_isas();
// Lowers the family in use (clamped to best_isa()); returns the previous one.
Isa force_isa(Isa isa);

}  // namespace attune::kernels
