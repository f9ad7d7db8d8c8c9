// The decode step's attention (kernels/decoder_step.h) for one key/value head and its group of
// query heads, against its baseline in the same run: kernels::attend once per query head, the
// formula the fused step ran before the grouped kernel. Float32 and bf16 caches, groups of 2
// (attune-small: 4 heads, 2 KV heads) and 7 (Qwen2-0.5B: 14 and 2), head size 64, one thread.
//
//   ./build/bench/bench_attention [--repeats 2000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/float16.h"
#include "kernels/cpu_features.h"
#include "kernels/decoder_step.h"

namespace {

using attune::kernels::KvType;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::max(1, std::atoi(argv[i + 1]));
  }
  constexpr int64_t D = 64;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::printf("bench_attention: head size %lld, %d repeats, kernels %s (median us per call)\n",
              static_cast<long long>(D), repeats,
              std::string(attune::kernels::isa_name(attune::kernels::active_isa())).c_str());
  std::printf("%6s %6s %8s | %12s | %12s | %6s\n", "cache", "group", "context", "per head", "grouped", "ratio");
  for (const KvType type : {KvType::kF32, KvType::kBF16}) {
    for (const int64_t group : {2, 7}) {
      for (const int64_t length : {256, 1024, 4096}) {
        std::vector<float> q(static_cast<size_t>(group * D)), k(static_cast<size_t>(length * D)), v(k.size());
        for (auto* x : {&q, &k, &v}) {
          for (float& e : *x) e = normal(rng);
        }
        std::vector<uint16_t> kb(k.size()), vb(v.size());
        for (size_t i = 0; i < k.size(); ++i) {
          kb[i] = attune::common::f32_to_bf16(k[i]);
          vb[i] = attune::common::f32_to_bf16(v[i]);
        }
        const void* keys = type == KvType::kF32 ? static_cast<const void*>(k.data()) : kb.data();
        const void* values = type == KvType::kF32 ? static_cast<const void*>(v.data()) : vb.data();
        std::vector<float> scores(static_cast<size_t>(2 * length)), out(q.size());
        std::vector<double> per_head, grouped;
        for (int r = 0; r < repeats; ++r) {  // alternating, so drift hits both
          auto t0 = std::chrono::steady_clock::now();
          for (int64_t h = 0; h < group; ++h) {
            attune::kernels::attend(q.data() + h * D, keys, values, type, length, D, scores.data(), out.data() + h * D);
          }
          auto t1 = std::chrono::steady_clock::now();
          attune::kernels::attend_group(q.data(), group, keys, values, type, length, D, scores.data(), out.data());
          auto t2 = std::chrono::steady_clock::now();
          per_head.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
          grouped.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
        }
        std::printf("%6s %6lld %8lld | %12.2f | %12.2f | %5.2fx\n", type == KvType::kF32 ? "fp32" : "bf16",
                    static_cast<long long>(group), static_cast<long long>(length), median(per_head), median(grouped),
                    median(per_head) / median(grouped));
      }
    }
  }
  return 0;
}
