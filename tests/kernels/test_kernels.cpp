// The decode kernels against formulas computed here in double precision, on every instruction-set
// family this CPU runs (scalar, AVX2, AVX-512), with shapes that leave partial vectors and odd
// block counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "attune/error.h"
#include "common/float16.h"
#include "kernels/cpu_features.h"
#include "kernels/decoder_step.h"
#include "kernels/matvec.h"
#include "kernels/softmax.h"
#include "kernels/thread_pool.h"

namespace attune::kernels {
namespace {

struct IsaGuard {
  explicit IsaGuard(Isa isa) : previous(force_isa(isa)) {}
  ~IsaGuard() { force_isa(previous); }
  Isa previous;
};

std::vector<float> random_vector(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

// A cache's keys and values as the kernels read them (float32 or bf16), and as float32 for the formula.
struct CacheCopy {
  CacheCopy(const std::vector<float>& k, const std::vector<float>& v, KvType type)
      : type(type), keys_f32(k), values_f32(v) {
    if (type == KvType::kF32) return;
    for (auto [f32, bf16] : {std::pair{&keys_f32, &keys_bf16}, std::pair{&values_f32, &values_bf16}}) {
      for (float& x : *f32) {
        bf16->push_back(common::f32_to_bf16(x));
        x = common::bf16_to_f32(bf16->back());
      }
    }
  }
  const void* keys() const {
    return type == KvType::kF32 ? static_cast<const void*>(keys_f32.data()) : keys_bf16.data();
  }
  const void* values() const {
    return type == KvType::kF32 ? static_cast<const void*>(values_f32.data()) : values_bf16.data();
  }
  KvType type;
  std::vector<float> keys_f32, values_f32;
  std::vector<uint16_t> keys_bf16, values_bf16;
};

// softmax(q . k_s / sqrt(D)) . v_s in double precision.
std::vector<double> reference_attention(const float* q, const std::vector<float>& k, const std::vector<float>& v,
                                        int64_t S, int64_t D) {
  std::vector<double> p(static_cast<size_t>(S)), out(static_cast<size_t>(D), 0.0);
  double top = -1e300, total = 0;
  for (int64_t s = 0; s < S; ++s) {
    double dot = 0;
    for (int64_t d = 0; d < D; ++d) dot += static_cast<double>(q[d]) * k[static_cast<size_t>(s * D + d)];
    p[static_cast<size_t>(s)] = dot / std::sqrt(static_cast<double>(D));
    top = std::max(top, p[static_cast<size_t>(s)]);
  }
  for (auto& e : p) total += (e = std::exp(e - top));
  for (int64_t s = 0; s < S; ++s) {
    for (int64_t d = 0; d < D; ++d)
      out[static_cast<size_t>(d)] += p[static_cast<size_t>(s)] / total * v[static_cast<size_t>(s * D + d)];
  }
  return out;
}

TEST(Matvec, Float32AndBf16MatchDoublePrecision) {
  for (int64_t cols : {16, 96, 200, 896}) {
    const int64_t rows = 37;
    const auto w = random_vector(rows * cols, 1, 0.1f);
    const auto x = random_vector(cols, 2);
    std::vector<uint16_t> wb(w.size());
    for (size_t i = 0; i < w.size(); ++i) wb[i] = common::f32_to_bf16(w[i]);
    for (Isa isa : runnable_isas()) {
      IsaGuard guard(isa);
      PreparedInput in;
      in.prepare(x.data(), cols, true, false);
      std::vector<float> y(rows), yb(rows);
      matvec_rows({WeightType::kF32, rows, cols, w.data()}, in, y.data(), 0, rows);
      matvec_rows({WeightType::kBF16, rows, cols, wb.data()}, in, yb.data(), 3, rows);  // rows 3.. only
      const bool bf16_input = isa == Isa::kAvx512 && cpu_features().avx512_bf16;
      for (int64_t r = 0; r < rows; ++r) {
        double ref = 0, ref_b = 0, mag = 0;
        for (int64_t c = 0; c < cols; ++c) {
          const double xv = x[static_cast<size_t>(c)];
          ref += static_cast<double>(w[static_cast<size_t>(r * cols + c)]) * xv;
          ref_b += static_cast<double>(common::bf16_to_f32(wb[static_cast<size_t>(r * cols + c)])) *
                   (bf16_input ? common::bf16_to_f32(common::f32_to_bf16(x[static_cast<size_t>(c)])) : xv);
          mag += std::fabs(w[static_cast<size_t>(r * cols + c)] * xv);
        }
        ASSERT_NEAR(y[static_cast<size_t>(r)], ref, 1e-5 * mag + 1e-7) << isa_name(isa) << " cols " << cols;
        if (r >= 3) {
          ASSERT_NEAR(yb[static_cast<size_t>(r)], ref_b, 1e-5 * mag + 1e-7) << isa_name(isa);
        }
      }
      EXPECT_EQ(yb[0], 0.0f);  // outside [begin, end): untouched
    }
  }
}

TEST(Matvec, Int8BlocksAreExactIntegerProductsScaled) {
  for (int64_t cols : {32, 96, 512, 896}) {
    const int64_t rows = 21, blocks = cols / 32;
    const auto w = random_vector(rows * cols, 3, 0.05f);
    const auto x = random_vector(cols, 4);
    const Q8Matrix q = quantize_q8(w.data(), rows, cols);
    // The test's own quantisation (llama.cpp's Q8_0 formula) of weights and input.
    auto quant = [](const float* v, float& d_out, bool half_scale) {
      float amax = 0;
      for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(v[i]));
      const float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
      std::vector<int> out(32);
      for (int i = 0; i < 32; ++i) out[static_cast<size_t>(i)] = static_cast<int>(std::nearbyint(v[i] * id));
      d_out = half_scale ? common::f16_to_f32(common::f32_to_f16(d)) : d;
      return out;
    };
    for (Isa isa : runnable_isas()) {
      IsaGuard guard(isa);
      PreparedInput in;
      in.prepare(x.data(), cols, false, true);
      std::vector<float> y(rows);
      matvec_rows(q.view(), in, y.data(), 0, rows);
      for (int64_t r = 0; r < rows; ++r) {
        double ref = 0, exact = 0, mag = 0;
        for (int64_t b = 0; b < blocks; ++b) {
          float dw, dx;
          const auto qw = quant(w.data() + r * cols + b * 32, dw, true);
          const auto qx = quant(x.data() + b * 32, dx, false);
          long dot = 0;
          for (int i = 0; i < 32; ++i) {
            dot += qw[static_cast<size_t>(i)] * qx[static_cast<size_t>(i)];
            ASSERT_EQ(q.quants[static_cast<size_t>(r * cols + b * 32 + i)], qw[static_cast<size_t>(i)] + 128);
          }
          ref += static_cast<double>(dot) * dw * dx;
        }
        for (int64_t c = 0; c < cols; ++c) {
          exact += static_cast<double>(w[static_cast<size_t>(r * cols + c)]) * x[static_cast<size_t>(c)];
          mag += std::fabs(w[static_cast<size_t>(r * cols + c)] * x[static_cast<size_t>(c)]);
        }
        ASSERT_NEAR(y[static_cast<size_t>(r)], ref, 1e-5 * mag + 1e-7) << isa_name(isa) << " cols " << cols;
        // Quantising both sides to 8 bits keeps the product within 2 % of sum |w x| here.
        ASSERT_NEAR(y[static_cast<size_t>(r)], exact, 0.02 * mag) << isa_name(isa);
      }
    }
  }
}

TEST(Matvec, Int8RefusesPartialBlocksAndDequantisesRows) {
  std::vector<float> w(40, 0.5f);
  EXPECT_THROW(quantize_q8(w.data(), 1, 40), ConfigError);
  std::vector<float> v = {1.0f, -0.5f, 0.25f, 0.0f};
  v.resize(32, 0.125f);
  const Q8Matrix q = quantize_q8(v.data(), 1, 32);
  std::vector<float> back(32);
  dequantize_row(q.view(), 0, back.data());
  // d = 1/127 (as fp16), so each value comes back to within half a step.
  for (int i = 0; i < 32; ++i) EXPECT_NEAR(back[static_cast<size_t>(i)], v[static_cast<size_t>(i)], 0.5 / 127 + 1e-4);
  EXPECT_EQ(q.quants[0], 127 + 128);
}

TEST(DecoderPieces, RmsNormRopeAndAttentionMatchTheirFormulas) {
  const auto x = random_vector(64, 5);
  const auto wn = random_vector(64, 6);
  std::vector<float> y(64);
  rms_norm(x.data(), wn.data(), 64, 1e-6f, y.data());
  double ss = 0;
  for (float v : x) ss += static_cast<double>(v) * v;
  const double inv = 1.0 / std::sqrt(ss / 64 + 1e-6);
  for (int i = 0; i < 64; ++i)
    EXPECT_NEAR(y[static_cast<size_t>(i)], wn[static_cast<size_t>(i)] * x[static_cast<size_t>(i)] * inv, 1e-5);

  // RoPE at position 7, theta 10000, D 8: pairs (i, i + 4) rotate by 7 * 10000^(-2i/8).
  std::vector<float> head = {1, 2, 3, 4, 5, 6, 7, 8}, inv_freq(4);
  for (int i = 0; i < 4; ++i) inv_freq[static_cast<size_t>(i)] = static_cast<float>(std::pow(10000.0, -2.0 * i / 8));
  const auto before = head;
  apply_rope(head.data(), 8, inv_freq.data(), 7);
  for (int i = 0; i < 4; ++i) {
    const double a = 7.0 * std::pow(10000.0, -2.0 * i / 8);
    EXPECT_NEAR(head[static_cast<size_t>(i)],
                before[static_cast<size_t>(i)] * std::cos(a) - before[static_cast<size_t>(i + 4)] * std::sin(a), 1e-5);
    EXPECT_NEAR(head[static_cast<size_t>(i + 4)],
                before[static_cast<size_t>(i + 4)] * std::cos(a) + before[static_cast<size_t>(i)] * std::sin(a), 1e-5);
  }

  // Attention over 5 positions, float32 and bf16 caches.
  const int64_t S = 5, D = 16;
  const auto q = random_vector(D, 7), k = random_vector(S * D, 8), v = random_vector(S * D, 9);
  for (KvType type : {KvType::kF32, KvType::kBF16}) {
    const CacheCopy cache(k, v, type);
    std::vector<float> scores(S), out(D);
    attend(q.data(), cache.keys(), cache.values(), type, S, D, scores.data(), out.data());
    const std::vector<double> ref = reference_attention(q.data(), cache.keys_f32, cache.values_f32, S, D);
    for (int64_t d = 0; d < D; ++d) EXPECT_NEAR(out[static_cast<size_t>(d)], ref[static_cast<size_t>(d)], 1e-5);
  }
}

TEST(DecoderPieces, GroupedAttentionMatchesTheFormulaOnEveryIsa) {
  // Groups of 1-3 query heads over one key/value head; head sizes both vector kernels take (16, 64),
  // one only AVX2's 8 lanes divide (24) and one both leave to attend() (20); lengths that leave
  // partial vectors of scores.
  for (Isa isa : runnable_isas()) {
    IsaGuard guard(isa);
    for (int64_t D : {16, 20, 24, 64}) {
      for (int64_t heads : {1, 2, 3}) {
        for (int64_t S : {1, 5, 17, 100}) {
          const auto q = random_vector(heads * D, 10, 2.0f), k = random_vector(S * D, 11), v = random_vector(S * D, 12);
          for (KvType type : {KvType::kF32, KvType::kBF16}) {
            const CacheCopy cache(k, v, type);
            std::vector<float> scores(static_cast<size_t>(2 * S)), out(static_cast<size_t>(heads * D));
            attend_group(q.data(), heads, cache.keys(), cache.values(), type, S, D, scores.data(), out.data());
            for (int64_t h = 0; h < heads; ++h) {
              const std::vector<double> ref =
                  reference_attention(q.data() + h * D, cache.keys_f32, cache.values_f32, S, D);
              for (int64_t d = 0; d < D; ++d) {
                ASSERT_NEAR(out[static_cast<size_t>(h * D + d)], ref[static_cast<size_t>(d)], 2e-5)
                    << isa_name(isa) << " D " << D << " heads " << heads << " S " << S << " bf16 "
                    << (type == KvType::kBF16);
              }
            }
          }
        }
      }
    }
  }
}

TEST(DecoderPieces, SoftmaxExponentialsMatchStdExpOnEveryIsa) {
  // Rows of logits with banned (-inf) entries and lengths that leave partial vectors; the shift is
  // the row's maximum, so every exponent is <= 0, down to -100 (underflow to 0 below about -87).
  // Tolerance: float32 x - shift rounds the exponent by up to an ulp of |x|, ~1e-6 relative.
  for (Isa isa : runnable_isas()) {
    IsaGuard guard(isa);
    for (int64_t n : {1, 15, 16, 33, 8192}) {
      std::vector<float> x = random_vector(n, 13, 8.0f);
      for (int64_t i = 3; i < n; i += 7) x[static_cast<size_t>(i)] = -std::numeric_limits<float>::infinity();
      if (n > 20) x[20] = x[0] - 100.0f;
      const float top = *std::max_element(x.begin(), x.end());
      std::vector<float> out(static_cast<size_t>(n));
      const double sum = exp_shifted(x.data(), n, top, out.data());
      double ref_sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double ref = std::exp(static_cast<double>(x[static_cast<size_t>(i)]) - top);
        ref_sum += ref;
        ASSERT_NEAR(out[static_cast<size_t>(i)], ref, 2e-6 * ref + 1e-37) << isa_name(isa) << " n " << n << " i " << i;
      }
      EXPECT_NEAR(sum, ref_sum, 2e-6 * ref_sum) << isa_name(isa) << " n " << n;
    }
  }
}

TEST(ThreadPool, EveryThreadRunsOncePerRunAndSharesCoverTheRange) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> calls(static_cast<size_t>(threads));
    for (int run = 0; run < 2000; ++run) pool.run([&](int t) { calls[static_cast<size_t>(t)].fetch_add(1); });
    for (auto& c : calls) EXPECT_EQ(c.load(), 2000);
    for (int64_t n : {0, 1, 15, 16, 17, 1000}) {
      int64_t next = 0;
      for (int t = 0; t < threads; ++t) {
        const Range r = share(n, t, threads, 16);
        EXPECT_EQ(r.begin, next);
        EXPECT_TRUE(r.begin % 16 == 0 || r.begin == n);
        next = r.end;
      }
      EXPECT_EQ(next, n);
    }
  }
  // A pool whose workers have gone to sleep still wakes for the next run.
  ThreadPool pool(2);
  std::atomic<int> ran{0};
  pool.run([&](int) { ran.fetch_add(1); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  pool.run([&](int) { ran.fetch_add(1); });
  EXPECT_EQ(ran.load(), 4);
}

}  // namespace
}  // namespace attune::kernels
