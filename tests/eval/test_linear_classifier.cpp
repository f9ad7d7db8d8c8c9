// The prosody baseline's classifier on cases whose answers follow by hand: symmetry, separable
// clusters, invariance to the features' units, missing values, bad input; and the confusion plot.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "attune/error.h"
#include "eval/linear_classifier.h"
#include "eval/ser_eval.h"

namespace attune::eval {
namespace {

// Two points mirrored about 0: by symmetry the fitted boundary is at 0, where both classes are
// equally likely, and each side goes to its point's class.
TEST(LinearClassifier, MirroredPointsSplitAtZero) {
  LinearClassifier c;
  c.fit({{-1.0}, {1.0}}, {0, 1}, 2);
  const std::vector<double> p = c.probabilities({0.0});
  EXPECT_NEAR(p[0], 0.5, 1e-12);
  EXPECT_NEAR(p[1], 0.5, 1e-12);
  EXPECT_EQ(c.predict({-0.2}), 0);
  EXPECT_EQ(c.predict({0.2}), 1);
  EXPECT_GT(c.probabilities({1.0})[1], 0.9);
}

std::vector<std::vector<double>> clusters(std::vector<int>& y, uint64_t seed, double scale0 = 1, double shift1 = 0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 0.3);
  const double centres[3][2] = {{0, 0}, {3, 0}, {0, 3}};
  std::vector<std::vector<double>> x;
  y.clear();
  for (int i = 0; i < 90; ++i) {
    const int k = i % 3;
    x.push_back({(centres[k][0] + noise(rng)) * scale0, centres[k][1] + noise(rng) + shift1});
    y.push_back(k);
  }
  return x;
}

TEST(LinearClassifier, SeparatesClustersWhateverTheUnits) {
  std::vector<int> y, yt;
  const auto x = clusters(y, 1), xt = clusters(yt, 2);
  LinearClassifier c;
  c.fit(x, y, 3);
  int right = 0;
  for (size_t i = 0; i < xt.size(); ++i) right += c.predict(xt[i]) == yt[i];
  EXPECT_EQ(right, 90);
  // Features in other units (x1000 and +500) standardise to the same problem: the same answers.
  std::vector<int> y2, yt2;
  const auto x2 = clusters(y2, 1, 1000, 500), xt2 = clusters(yt2, 2, 1000, 500);
  LinearClassifier c2;
  c2.fit(x2, y2, 3);
  for (size_t i = 0; i < xt.size(); ++i) {
    const auto p = c.probabilities(xt[i]), p2 = c2.probabilities(xt2[i]);
    for (size_t k = 0; k < 3; ++k) EXPECT_NEAR(p[k], p2[k], 1e-9);
  }
}

TEST(LinearClassifier, MissingValuesAndBadInput) {
  LinearClassifier c;
  // The second feature is never measured: it contributes nothing, the first decides.
  c.fit({{-1.0, NAN}, {1.0, NAN}}, {0, 1}, 2);
  EXPECT_EQ(c.predict({-0.5, NAN}), 0);
  EXPECT_EQ(c.predict({0.5, 7.0}), 1);
  EXPECT_THROW(c.predict({1.0}), ConfigError);
  LinearClassifier bad;
  EXPECT_THROW(bad.fit({}, {}, 2), ConfigError);
  EXPECT_THROW(bad.fit({{1.0}, {1.0, 2.0}}, {0, 1}, 2), ConfigError);
  EXPECT_THROW(bad.fit({{1.0}}, {3}, 2), ConfigError);
}

TEST(SerEval, ConfusionPlotShowsTheCounts) {
  EmotionScores s;
  s.add("sad", "sad");
  s.add("sad", "neutral");
  s.add("anger", "");
  const std::string svg = confusion_svg(s, "a <test>");
  EXPECT_NE(svg.find("a &lt;test&gt;"), std::string::npos);
  EXPECT_NE(svg.find(">none</text>"), std::string::npos);
  // Three non-zero cells, each with its count.
  size_t counts = 0;
  for (size_t at = 0; (at = svg.find("text-anchor=\"middle\" fill=\"", at)) != std::string::npos; ++at) {
    if (svg.compare(svg.find('>', at) + 1, 2, "1<") == 0) ++counts;
  }
  EXPECT_EQ(counts, 3u);
}

}  // namespace
}  // namespace attune::eval
