// Synthetic test signals whose prosodic answers are known by construction.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <vector>

namespace attune::testing {

// sum_{k=first..last} sin(2 pi k f0 t) / k, scaled to peak amplitude about `amp`.
inline std::vector<float> harmonic_tone(double f0, double seconds, int sr, double amp = 0.5, int first = 1,
                                        int last = 5) {
  const int64_t n = static_cast<int64_t>(seconds * sr);
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) {
    double s = 0.0;
    for (int k = first; k <= last; ++k) s += std::sin(2.0 * std::numbers::pi * k * f0 * i / sr) / k;
    x[i] = static_cast<float>(amp * s);
  }
  return x;
}

inline std::vector<float> sine(double hz, double seconds, int sr, double amp) {
  std::vector<float> x(static_cast<int64_t>(seconds * sr));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(amp * std::sin(2.0 * std::numbers::pi * hz * i / sr));
  return x;
}

// Gaussian white noise with standard deviation `rms`, seeded for repeatability.
inline std::vector<float> white_noise(double seconds, int sr, double rms, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> dist(0.0, rms);
  std::vector<float> x(static_cast<int64_t>(seconds * sr));
  for (float& v : x) v = static_cast<float>(dist(rng));
  return x;
}

// A harmonic "voice" built cycle by cycle: cycle k lasts periods[k] samples (fractional) and has
// peak scale amps[k]; within a cycle the phase runs linearly from 0 to 2 pi.
inline std::vector<float> cycle_tone(const std::vector<double>& periods, const std::vector<double>& amps,
                                     int harmonics = 5) {
  double total = 0.0;
  for (double p : periods) total += p;
  std::vector<float> x(static_cast<int64_t>(total));
  double start = 0.0;
  for (size_t k = 0; k < periods.size(); ++k) {
    const double end = start + periods[k];
    for (int64_t i = static_cast<int64_t>(std::ceil(start));
         i < static_cast<int64_t>(std::ceil(end)) && i < static_cast<int64_t>(x.size()); ++i) {
      const double phase = 2.0 * std::numbers::pi * (i - start) / periods[k];
      double s = 0.0;
      for (int h = 1; h <= harmonics; ++h) s += std::sin(h * phase) / h;
      x[i] = static_cast<float>(0.4 * amps[k] * s);
    }
    start = end;
  }
  return x;
}

inline void append(std::vector<float>& a, const std::vector<float>& b) { a.insert(a.end(), b.begin(), b.end()); }

inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

}  // namespace attune::testing
