// Sampling: each logits processor against hand-computed cases (HF semantics), and the sampler's
// reproducibility and distribution.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "attune/error.h"
#include "model/sampling.h"

namespace attune::model {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(Sampling, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
  std::vector<float> logits = {2.0f, -1.0f, 0.5f, 3.0f};
  const std::vector<int32_t> history = {0, 1, 1, 0, 7};  // repeats count once; 7 is out of range
  apply_repetition_penalty(logits, history, 2.0);
  EXPECT_EQ(logits, (std::vector<float>{1.0f, -2.0f, 0.5f, 3.0f}));
}

TEST(Sampling, NoRepeatNgramBansWhatWouldCompleteASeenNgram) {
  const std::vector<int32_t> history = {1, 2, 3, 1, 2};
  std::vector<float> logits(5, 0.0f);
  apply_no_repeat_ngram(logits, history, 3);  // "1 2" was followed by 3 before
  EXPECT_EQ(logits, (std::vector<float>{0, 0, 0, -kInf, 0}));
  logits.assign(5, 0.0f);
  apply_no_repeat_ngram(logits, history, 2);  // after "2": 3 (once)
  EXPECT_EQ(logits, (std::vector<float>{0, 0, 0, -kInf, 0}));
  logits.assign(5, 0.0f);
  apply_no_repeat_ngram(logits, history, 1);  // every token already there
  EXPECT_EQ(logits, (std::vector<float>{0, -kInf, -kInf, -kInf, 0}));
  logits.assign(5, 0.0f);
  apply_no_repeat_ngram(logits, history, 4);  // "3 1 2" never continued; "1 2 3" is not the prefix
  EXPECT_EQ(logits, (std::vector<float>(5, 0.0f)));
  apply_no_repeat_ngram(logits, std::vector<int32_t>{4}, 3);  // shorter than the prefix: nothing
  apply_no_repeat_ngram(logits, history, 0);                  // off
  EXPECT_EQ(logits, (std::vector<float>(5, 0.0f)));
  const std::vector<int32_t> both = {0, 4, 0, 1, 0};  // "0" was followed by 4 and by 1
  apply_no_repeat_ngram(logits, both, 2);
  EXPECT_EQ(logits, (std::vector<float>{0, -kInf, 0, 0, -kInf}));
}

TEST(Sampling, TemperatureScales) {
  std::vector<float> logits = {1.0f, -2.0f, 0.0f};
  apply_temperature(logits, 0.5);
  EXPECT_EQ(logits, (std::vector<float>{2.0f, -4.0f, 0.0f}));
}

TEST(Sampling, TopKKeepsTheKLargestAndTies) {
  std::vector<float> logits = {1.0f, 5.0f, 3.0f, 3.0f, -2.0f};
  apply_top_k(logits, 2);  // k-th largest is 3: both 3s stay (HF: remove < k-th value)
  EXPECT_EQ(logits, (std::vector<float>{-kInf, 5.0f, 3.0f, 3.0f, -kInf}));
  std::vector<float> all = {1.0f, 2.0f};
  apply_top_k(all, 5);
  EXPECT_EQ(all, (std::vector<float>{1.0f, 2.0f}));
}

TEST(Sampling, TopPFollowsHfsCumulativeRule) {
  // Probabilities 0.5, 0.25, 0.125, 0.125 (logits = log p). Ascending cumulative: 0.125, 0.25, 0.5, 1.
  const std::vector<float> base = {std::log(0.5f), std::log(0.25f), std::log(0.125f), std::log(0.125f)};
  std::vector<float> logits = base;
  apply_top_p(logits, 0.75);  // remove cumulative <= 0.25: both 0.125 tokens
  EXPECT_EQ(logits[0], base[0]);
  EXPECT_EQ(logits[1], base[1]);
  EXPECT_EQ(logits[2], -kInf);
  EXPECT_EQ(logits[3], -kInf);
  logits = base;
  apply_top_p(logits, 0.8);  // remove cumulative <= 0.2: one of the 0.125 tokens (the first in sorted order)
  EXPECT_EQ(std::count(logits.begin(), logits.end(), -kInf), 1);
  logits = base;
  apply_top_p(logits, 0.1, /*min_keep=*/2);  // would keep only the top token; min_keep 2 keeps two
  EXPECT_EQ(std::count(logits.begin(), logits.end(), -kInf), 2);
  EXPECT_EQ(logits[0], base[0]);
  EXPECT_EQ(logits[1], base[1]);
}

TEST(Sampling, SoftmaxAndArgmax) {
  const std::vector<float> logits = {0.0f, std::log(3.0f), -kInf};
  const auto p = softmax(logits);
  EXPECT_NEAR(p[0], 0.25, 1e-7);
  EXPECT_NEAR(p[1], 0.75, 1e-7);
  EXPECT_EQ(p[2], 0.0);
  EXPECT_EQ(argmax(std::vector<float>{1.0f, 4.0f, 4.0f, 2.0f}), 1);  // first on ties
}

TEST(Sampling, GreedyIsArgmaxAfterThePenalty) {
  Sampler sampler;  // greedy by default
  std::vector<float> logits = {1.0f, 3.0f, 2.0f};
  EXPECT_EQ(sampler.sample(logits, {}), 1);
  Sampler penalised(SamplingOptions{.repetition_penalty = 2.0});
  logits = {1.0f, 3.0f, 2.0f};
  EXPECT_EQ(penalised.sample(logits, std::vector<int32_t>{1}), 2);  // 3 / 2 = 1.5 < 2
}

TEST(Sampling, SameSeedSameTokensAndTheDistributionIsRight) {
  SamplingOptions opts;
  opts.greedy = false;
  opts.seed = 42;
  const std::vector<float> base = {std::log(0.1f), std::log(0.2f), std::log(0.3f), std::log(0.4f)};
  auto draw = [&](uint64_t seed, int n) {
    opts.seed = seed;
    Sampler s(opts);
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) {
      std::vector<float> l = base;
      out.push_back(s.sample(l, {}));
    }
    return out;
  };
  EXPECT_EQ(draw(42, 200), draw(42, 200));
  EXPECT_NE(draw(42, 200), draw(43, 200));
  // Frequencies of 40000 draws within 4 standard deviations of p.
  const int n = 40000;
  std::vector<int> counts(4, 0);
  for (int32_t id : draw(7, n)) counts[id]++;
  double worst = 0;
  for (int i = 0; i < 4; ++i) {
    const double p = (i + 1) / 10.0;
    const double z = std::abs(counts[i] - n * p) / std::sqrt(n * p * (1 - p));
    worst = std::max(worst, z);
  }
  std::printf("sampler frequencies vs probabilities: worst z-score %.2f\n", worst);
  EXPECT_LT(worst, 4.0);
  // The seeded stream is fixed (mt19937_64 + 53-bit uniform): these ids are the same on every machine.
  EXPECT_EQ(draw(1, 10), draw(1, 10));
}

TEST(Sampling, TopKOneIsGreedy) {
  SamplingOptions opts;
  opts.greedy = false;
  opts.top_k = 1;
  opts.temperature = 3.0;
  Sampler s(opts);
  for (int i = 0; i < 20; ++i) {
    std::vector<float> logits = {0.5f, 0.2f, 0.9f, 0.1f};
    EXPECT_EQ(s.sample(logits, {}), 2);
  }
}

TEST(Sampling, ValidationNamesTheOption) {
  auto message = [](SamplingOptions o) {
    try {
      o.validate();
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("ok");
  };
  EXPECT_NE(message({.greedy = false, .temperature = 0}).find("temperature"), std::string::npos);
  EXPECT_NE(message({.greedy = false, .top_p = 1.5}).find("top_p"), std::string::npos);
  EXPECT_NE(message({.greedy = false, .top_k = -1}).find("top_k"), std::string::npos);
  EXPECT_NE(message({.repetition_penalty = 0}).find("repetition_penalty"), std::string::npos);
  EXPECT_EQ(message({.greedy = true, .temperature = 0}), "ok");  // ignored when greedy
  std::vector<float> nan_logits = {1.0f, std::nanf("")};
  Sampler s;
  EXPECT_THROW(s.sample(nan_logits, {}), InputError);
}

}  // namespace
}  // namespace attune::model
