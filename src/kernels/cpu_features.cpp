#include "kernels/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <string>

namespace attune::kernels {

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = [] {
    CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    f.avx512 =
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    f.avx512_bf16 = f.avx512 && __builtin_cpu_supports("avx512bf16");
    f.avx512_vnni = f.avx512 && __builtin_cpu_supports("avx512vnni");
#endif
    return f;
  }();
  return features;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kScalar:
      break;
  }
  return "scalar";
}

Isa best_isa() {
  const CpuFeatures& f = cpu_features();
  if (f.avx512 && f.avx2) return Isa::kAvx512;
  if (f.avx2) return Isa::kAvx2;
  return Isa::kScalar;
}

std::vector<Isa> runnable_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (static_cast<int>(isa) <= static_cast<int>(best_isa())) out.push_back(isa);
  }
  return out;
}

namespace {

Isa clamp(Isa isa) { return static_cast<int>(isa) > static_cast<int>(best_isa()) ? best_isa() : isa; }

Isa from_environment() {
  const char* env = std::getenv("ATTUNE_ISA");
  if (env == nullptr) return best_isa();
  const std::string v = env;
  if (v == "scalar") return Isa::kScalar;
  if (v == "avx2") return clamp(Isa::kAvx2);
  return best_isa();
}

std::atomic<Isa>& active() {
  static std::atomic<Isa> isa{from_environment()};
  return isa;
}

}  // namespace

Isa active_isa() { return active().load(std::memory_order_relaxed); }

Isa force_isa(Isa isa) { return active().exchange(clamp(isa)); }

}  // namespace attune::kernels
