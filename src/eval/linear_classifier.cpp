#include "eval/linear_classifier.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "attune/error.h"

namespace attune::eval {
namespace {

void softmax_in_place(std::vector<double>& z) {
  const double top = *std::max_element(z.begin(), z.end());
  double sum = 0;
  for (double& v : z) sum += (v = std::exp(v - top));
  for (double& v : z) v /= sum;
}

}  // namespace

void LinearClassifier::fit(const std::vector<std::vector<double>>& x, const std::vector<int>& y, int classes,
                           const FitOptions& options) {
  if (x.empty() || x.size() != y.size() || classes < 2)
    throw ConfigError(
        fmt::format("a classifier needs samples with one label each and >= 2 classes ({} samples, "
                    "{} labels, {} classes)",
                    x.size(), y.size(), classes));
  const size_t d = x[0].size();
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].size() != d) throw ConfigError(fmt::format("sample {} has {} features; expected {}", i, x[i].size(), d));
    if (y[i] < 0 || y[i] >= classes) throw ConfigError(fmt::format("sample {} has label {}", i, y[i]));
  }
  classes_ = classes;
  // Mean and standard deviation per feature over the values present.
  mean_.assign(d, 0);
  scale_.assign(d, 1);
  for (size_t j = 0; j < d; ++j) {
    double sum = 0, sq = 0;
    size_t n = 0;
    for (const auto& row : x) {
      if (std::isfinite(row[j])) {
        sum += row[j];
        sq += row[j] * row[j];
        ++n;
      }
    }
    if (n == 0) continue;  // never measured: contributes 0 after standardising
    mean_[j] = sum / static_cast<double>(n);
    const double var = sq / static_cast<double>(n) - mean_[j] * mean_[j];
    scale_[j] = var > 1e-12 ? std::sqrt(var) : 1.0;
  }
  std::vector<std::vector<double>> z;
  z.reserve(x.size());
  for (const auto& row : x) z.push_back(standardise(row));

  weights_.assign(static_cast<size_t>(classes), std::vector<double>(d, 0.0));
  bias_.assign(static_cast<size_t>(classes), 0.0);
  const double n = static_cast<double>(x.size());
  std::vector<std::vector<double>> gw(static_cast<size_t>(classes), std::vector<double>(d));
  std::vector<double> gb(static_cast<size_t>(classes)), p(static_cast<size_t>(classes));
  for (int it = 0; it < options.iterations; ++it) {
    for (auto& g : gw) std::fill(g.begin(), g.end(), 0.0);
    std::fill(gb.begin(), gb.end(), 0.0);
    for (size_t i = 0; i < z.size(); ++i) {
      for (size_t k = 0; k < p.size(); ++k) {
        double v = bias_[k];
        for (size_t j = 0; j < d; ++j) v += weights_[k][j] * z[i][j];
        p[k] = v;
      }
      softmax_in_place(p);
      p[static_cast<size_t>(y[i])] -= 1.0;  // d(cross-entropy)/d(logit)
      for (size_t k = 0; k < p.size(); ++k) {
        gb[k] += p[k];
        for (size_t j = 0; j < d; ++j) gw[k][j] += p[k] * z[i][j];
      }
    }
    for (size_t k = 0; k < p.size(); ++k) {
      bias_[k] -= options.learning_rate * gb[k] / n;
      for (size_t j = 0; j < d; ++j)
        weights_[k][j] -= options.learning_rate * (gw[k][j] / n + options.l2 * weights_[k][j]);
    }
  }
}

std::vector<double> LinearClassifier::standardise(const std::vector<double>& x) const {
  std::vector<double> z(mean_.size());
  for (size_t j = 0; j < z.size(); ++j) z[j] = std::isfinite(x[j]) ? (x[j] - mean_[j]) / scale_[j] : 0.0;
  return z;
}

std::vector<double> LinearClassifier::probabilities(const std::vector<double>& x) const {
  if (x.size() != mean_.size())
    throw ConfigError(fmt::format("{} features; the classifier was fitted on {}", x.size(), mean_.size()));
  const std::vector<double> z = standardise(x);
  std::vector<double> p(bias_);
  for (size_t k = 0; k < p.size(); ++k) {
    for (size_t j = 0; j < z.size(); ++j) p[k] += weights_[k][j] * z[j];
  }
  softmax_in_place(p);
  return p;
}

int LinearClassifier::predict(const std::vector<double>& x) const {
  const std::vector<double> p = probabilities(x);
  return static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
}

}  // namespace attune::eval
