// F0 tracker checks on signals whose F0 is known by construction.
#include "audio/pitch.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <limits>
#include <numbers>

#include "attune/error.h"
#include "prosody/signals.h"

namespace attune::audio {
namespace {

using attune::testing::harmonic_tone;
using attune::testing::median;

struct TrackSummary {
  double voiced_fraction = 0.0;
  double median_f0 = 0.0;
  double median_rel_error = 0.0;  // median over voiced frames of |f0 - truth| / truth
};

TrackSummary summarise(const PitchTrack& track, double truth) {
  std::vector<double> f0, err;
  for (float v : track.f0_hz) {
    if (v <= 0.0f) continue;
    f0.push_back(v);
    err.push_back(std::fabs(v - truth) / truth);
  }
  TrackSummary s;
  s.voiced_fraction = track.frames() ? static_cast<double>(f0.size()) / track.frames() : 0.0;
  s.median_f0 = median(f0);
  s.median_rel_error = median(err);
  return s;
}

TEST(Pitch, HarmonicTonesFrom80To400Hz) {
  for (int sr : {16000, 8000, 22050}) {
    for (double f0 : {80.0, 100.0, 123.4, 150.0, 200.0, 261.6, 300.0, 347.3, 400.0}) {
      const auto x = harmonic_tone(f0, 1.0, sr);
      const PitchTrack track = track_pitch(x.data(), static_cast<int64_t>(x.size()), sr);
      const TrackSummary s = summarise(track, f0);
      std::cout << "  sr " << sr << " f0 " << f0 << " Hz: median " << s.median_f0 << " Hz, median error "
                << 100.0 * s.median_rel_error << " % (limit 1 %), voiced " << s.voiced_fraction
                << " (expected >= 0.95)\n";
      EXPECT_LE(s.median_rel_error, 0.01) << "sr " << sr << " f0 " << f0;
      EXPECT_GE(s.voiced_fraction, 0.95) << "sr " << sr << " f0 " << f0;
    }
  }
}

TEST(Pitch, MissingFundamentalAndStrongSecondHarmonicKeepTheTrueF0) {
  const int sr = 16000;
  // Harmonics 2..6 only: the period is still 1 / f0.
  const auto missing = harmonic_tone(150.0, 1.0, sr, 0.5, 2, 6);
  const TrackSummary a = summarise(track_pitch(missing.data(), static_cast<int64_t>(missing.size()), sr), 150.0);
  std::cout << "  harmonics 2-6 of 150 Hz: median " << a.median_f0 << " Hz (expected 150 +- 1 %)\n";
  EXPECT_LE(a.median_rel_error, 0.01);
  // Second harmonic three times the fundamental: a classic octave-up trap.
  std::vector<float> strong(sr);
  for (int i = 0; i < sr; ++i)
    strong[i] = static_cast<float>(0.1 * std::sin(2 * std::numbers::pi * 110.0 * i / sr) +
                                   0.3 * std::sin(2 * std::numbers::pi * 220.0 * i / sr) +
                                   0.1 * std::sin(2 * std::numbers::pi * 330.0 * i / sr));
  const TrackSummary b = summarise(track_pitch(strong.data(), sr, sr), 110.0);
  std::cout << "  110 Hz with a 3x stronger 2nd harmonic: median " << b.median_f0 << " Hz (expected 110 +- 1 %)\n";
  EXPECT_LE(b.median_rel_error, 0.01);
}

TEST(Pitch, FollowsAGlide) {
  // 100 -> 200 Hz exponential glide over 1 s: truth at time t is 100 * 2^t.
  const int sr = 16000;
  std::vector<float> x(sr);
  double phase = 0.0;
  for (int i = 0; i < sr; ++i) {
    const double f = 100.0 * std::pow(2.0, static_cast<double>(i) / sr);
    double s = 0.0;
    for (int k = 1; k <= 5; ++k) s += std::sin(k * phase) / k;
    x[i] = static_cast<float>(0.4 * s);
    phase += 2.0 * std::numbers::pi * f / sr;
  }
  const PitchTrack track = track_pitch(x.data(), sr, sr);
  std::vector<double> err;
  int voiced = 0;
  for (int64_t f = 0; f < track.frames(); ++f) {
    const double t = (f + 0.5) * track.hop_s;
    if (t < 0.05 || t > 0.95) continue;  // away from the edges
    if (track.f0_hz[f] > 0.0f) ++voiced;
    const double truth = 100.0 * std::pow(2.0, t);
    err.push_back(std::fabs(track.f0_hz[f] - truth) / truth);
  }
  const double worst = *std::max_element(err.begin(), err.end());
  std::cout << "  glide 100->200 Hz: median error " << 100 * median(err) << " %, worst " << 100 * worst
            << " % (limit 2 %), voiced " << voiced << "/" << err.size() << "\n";
  EXPECT_LE(worst, 0.02);
  EXPECT_EQ(voiced, static_cast<int>(err.size()));
}

TEST(Pitch, SilenceAndWhiteNoiseAreUnvoiced) {
  const int sr = 16000;
  const std::vector<float> zeros(sr, 0.0f);
  const PitchTrack silent = track_pitch(zeros.data(), sr, sr);
  EXPECT_EQ(silent.frames(), 100);
  for (int64_t f = 0; f < silent.frames(); ++f) {
    EXPECT_EQ(silent.f0_hz[f], 0.0f);
    EXPECT_EQ(silent.periodicity[f], 0.0f);
  }
  for (unsigned seed : {1u, 2u, 3u}) {
    const auto noise = attune::testing::white_noise(2.0, sr, 0.1, seed);
    const TrackSummary s = summarise(track_pitch(noise.data(), static_cast<int64_t>(noise.size()), sr), 1.0);
    std::cout << "  white noise seed " << seed << ": voiced fraction " << s.voiced_fraction << " (expected <= 0.02)\n";
    EXPECT_LE(s.voiced_fraction, 0.02);
  }
}

TEST(Pitch, PeriodicityIsHighForTonesAndFallsWithNoise) {
  const int sr = 16000;
  auto x = harmonic_tone(200.0, 1.0, sr);
  const PitchTrack clean = track_pitch(x.data(), sr, sr);
  const auto noise = attune::testing::white_noise(1.0, sr, 0.2);
  for (int i = 0; i < sr; ++i) x[i] += noise[i];
  const PitchTrack noisy = track_pitch(x.data(), sr, sr);
  std::vector<double> pc(clean.periodicity.begin(), clean.periodicity.end());
  std::vector<double> pn(noisy.periodicity.begin(), noisy.periodicity.end());
  std::cout << "  median periodicity: clean " << median(pc) << " (expected > 0.99), noisy " << median(pn) << "\n";
  EXPECT_GT(median(pc), 0.99);
  EXPECT_LT(median(pn), median(pc));
}

TEST(Pitch, DegenerateInputsDoNotCrash) {
  const int sr = 16000;
  EXPECT_EQ(track_pitch(nullptr, 0, sr).frames(), 0);
  const std::vector<float> tiny(10, 0.3f);
  const PitchTrack t = track_pitch(tiny.data(), 10, sr);
  EXPECT_EQ(t.frames(), 1);
  EXPECT_EQ(t.f0_hz[0], 0.0f);
  // Clipped, absurdly loud, and NaN-riddled input: finishes and gives finite values.
  auto loud = harmonic_tone(150.0, 1.0, sr, 20.0);
  auto clipped = loud;
  for (float& v : clipped) v = std::clamp(v, -1.0f, 1.0f);
  auto huge = harmonic_tone(150.0, 1.0, sr, 1e6);
  auto nans = harmonic_tone(150.0, 1.0, sr);
  for (size_t i = 0; i < nans.size(); i += 97) nans[i] = std::numeric_limits<float>::quiet_NaN();
  nans[5] = std::numeric_limits<float>::infinity();
  for (const auto* sig : {&clipped, &huge, &nans}) {
    const PitchTrack p = track_pitch(sig->data(), static_cast<int64_t>(sig->size()), sr);
    for (int64_t f = 0; f < p.frames(); ++f) {
      ASSERT_TRUE(std::isfinite(p.f0_hz[f]));
      ASSERT_TRUE(p.periodicity[f] >= 0.0f && p.periodicity[f] <= 1.0f);
    }
    std::cout << "  degenerate input: median f0 " << summarise(p, 150.0).median_f0 << " Hz\n";
  }
  EXPECT_NEAR(summarise(track_pitch(clipped.data(), sr, sr), 150.0).median_f0, 150.0, 1.5);
}

TEST(Pitch, RejectsBadOptions) {
  const std::vector<float> x(100, 0.0f);
  PitchOptions o;
  o.min_f0_hz = 300.0;
  o.max_f0_hz = 200.0;
  EXPECT_THROW(track_pitch(x.data(), 100, 16000, o), ConfigError);
  EXPECT_THROW(track_pitch(x.data(), 100, 0), ConfigError);
  EXPECT_THROW(track_pitch(x.data(), -1, 16000), InputError);
  o = {};
  o.hop_s = 0.0;
  EXPECT_THROW(track_pitch(x.data(), 100, 16000, o), ConfigError);
}

}  // namespace
}  // namespace attune::audio
