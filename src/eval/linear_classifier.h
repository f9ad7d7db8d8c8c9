// A multinomial logistic-regression classifier over standardised features: the textbook baseline
// for speech emotion (prosody functionals in, one of K labels out). Full-batch gradient descent
// from zero weights with L2, so a fit is deterministic. Torch-free.
#pragma once

#include <vector>

namespace attune::eval {

struct FitOptions {
  int iterations = 1500;
  double learning_rate = 0.5;
  double l2 = 1e-3;  // on the weights, not the biases
};

class LinearClassifier {
 public:
  // x: samples x features (NaN means missing: the training mean is used); y: class in [0, classes).
  // Throws ConfigError for empty input, ragged rows or labels out of range.
  void fit(const std::vector<std::vector<double>>& x, const std::vector<int>& y, int classes,
           const FitOptions& options = {});
  std::vector<double> probabilities(const std::vector<double>& x) const;
  int predict(const std::vector<double>& x) const;
  int classes() const { return classes_; }

 private:
  std::vector<double> standardise(const std::vector<double>& x) const;
  int classes_ = 0;
  std::vector<double> mean_, scale_;
  std::vector<std::vector<double>> weights_;  // classes x features
  std::vector<double> bias_;
};

}  // namespace attune::eval
