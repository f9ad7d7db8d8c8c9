// The memory-bandwidth ceiling of decoding on this machine: a streaming read (sum) of a buffer much
// larger than the caches, split over 1..N threads of the decode path's own thread pool. Decoding one
// token reads every weight once, so tokens/s <= bandwidth / weight bytes (bench/bench_decode.py).
//
//   ./build/bench/bench_bandwidth [--mib 1024] [--threads 2] [--repeats 7]
// Prints one line per thread count and a final JSON line {"threads": {"1": GB/s, ...}} (medians).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/thread_pool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

// Eight independent accumulators of 8 floats (AVX2 where the CPU has it), so that add latency does
// not bound the read rate.
#if defined(__x86_64__)
__attribute__((target("avx2"))) float sum_avx2(const float* p, int64_t n) {
  __m256 a[8];
  for (auto& v : a) v = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int k = 0; k < 8; ++k) a[k] = _mm256_add_ps(a[k], _mm256_loadu_ps(p + i + 8 * k));
  }
  for (int k = 1; k < 8; ++k) a[0] = _mm256_add_ps(a[0], a[k]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, a[0]);
  float s = 0;
  for (float v : lanes) s += v;
  for (; i < n; ++i) s += p[i];
  return s;
}
#endif

float sum(const float* p, int64_t n) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) return sum_avx2(p, n);
#endif
  float s[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) s[k] += p[i + k];
  }
  for (; i < n; ++i) s[0] += p[i];
  return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t mib = 1024;
  int max_threads = 2, repeats = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--mib")) mib = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) max_threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
  }
  const int64_t n = mib * 1024 * 1024 / 4;
  std::unique_ptr<float[]> buffer(new float[static_cast<size_t>(n)]);
  for (int64_t i = 0; i < n; ++i) buffer[static_cast<size_t>(i)] = static_cast<float>(i & 7);
  std::string json = "{\"mib\": " + std::to_string(mib) + ", \"threads\": {";
  for (int threads = 1; threads <= max_threads; ++threads) {
    attune::kernels::ThreadPool pool(threads);
    std::vector<double> rates;
    std::vector<float> partial(static_cast<size_t>(threads));
    for (int r = 0; r < repeats; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      pool.run([&](int t) {
        const attune::kernels::Range share = attune::kernels::share(n, t, threads, 16);
        partial[static_cast<size_t>(t)] = sum(buffer.get() + share.begin, share.end - share.begin);
      });
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rates.push_back(static_cast<double>(n) * 4 / s / 1e9);
    }
    std::printf(
        "bandwidth: %d thread%s, streaming read of %lld MiB: median %.1f GB/s (min %.1f, max %.1f; checksum %g)\n",
        threads, threads > 1 ? "s" : "", static_cast<long long>(mib), median(rates),
        *std::min_element(rates.begin(), rates.end()), *std::max_element(rates.begin(), rates.end()),
        static_cast<double>(partial[0]));
    json += (threads > 1 ? ", \"" : "\"") + std::to_string(threads) + "\": " + std::to_string(median(rates));
  }
  std::printf("%s}}\n", json.c_str());
  return 0;
}
