// Augmentation, against hand-derived expectations: a sine of amplitude A has power A^2/2; +6.02 dB
// doubles the amplitude; playing 1.1x faster shortens by 1/1.1 and raises every frequency by 1.1x.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "attune/error.h"
#include "audio/augment.h"

namespace attune::audio {
namespace {

constexpr int kRate = 16000;

AudioBuffer tone(double hz, double seconds, double amplitude = 0.5, int rate = kRate) {
  AudioBuffer a{std::vector<float>(static_cast<size_t>(seconds * rate)), rate, 1};
  for (size_t i = 0; i < a.samples.size(); ++i) {
    a.samples[i] = static_cast<float>(amplitude * std::sin(2 * std::numbers::pi * hz * double(i) / rate));
  }
  return a;
}

double power(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += double(v) * v;
  return s / double(x.size());
}

std::vector<float> difference(const AudioBuffer& a, const AudioBuffer& b) {
  std::vector<float> d(a.samples.size());
  for (size_t i = 0; i < d.size(); ++i) d[i] = a.samples[i] - b.samples[i];
  return d;
}

// Frequency from upward zero crossings with linear interpolation, over the middle 80% of `x`
// (away from the resampler's edges): independent of any FFT code.
double crossing_hz(const std::vector<float>& x, int rate) {
  size_t lo = x.size() / 10, hi = x.size() - x.size() / 10;
  double first = -1, last = -1;
  int count = 0;
  for (size_t i = lo + 1; i < hi; ++i) {
    if (x[i - 1] < 0 && x[i] >= 0) {
      double t = double(i - 1) + x[i - 1] / (x[i - 1] - x[i]);
      if (first < 0) first = t;
      last = t;
      ++count;
    }
  }
  return (count - 1) / ((last - first) / rate);
}

TEST(Augment, GainOf6Point02DbDoublesTheRms) {
  AudioBuffer x = tone(440, 0.5);
  AudioBuffer y = apply_gain(x, 6.02);
  EXPECT_NEAR(std::sqrt(power(y.samples) / power(x.samples)), 2.0, 1e-3);
  AudioBuffer z = apply_gain(x, -20);
  EXPECT_NEAR(std::sqrt(power(z.samples) / power(x.samples)), 0.1, 1e-5);
}

TEST(Augment, NoiseAtTenDbSnrMeasuresBackWithinHalfADecibel) {
  AudioBuffer x = tone(440, 2.0, 0.5);
  const double signal = 0.5 * 0.5 / 2;  // A^2 / 2
  for (NoiseColor color : {NoiseColor::kWhite, NoiseColor::kPink}) {
    AudioBuffer y = add_noise(x, 10, color, 7);
    double snr = 10 * std::log10(signal / power(difference(y, x)));
    EXPECT_NEAR(snr, 10.0, 0.5) << (color == NoiseColor::kPink ? "pink" : "white");
  }
}

TEST(Augment, SnrCountsOnlyTheActivePart) {
  // One second of tone, one second of digital silence: the active level is still A^2/2, not A^2/4.
  AudioBuffer x = tone(440, 2.0, 0.5);
  std::fill(x.samples.begin() + kRate, x.samples.end(), 0.0f);
  EXPECT_NEAR(active_power(x), 0.125, 0.125 * 0.01);
  AudioBuffer y = add_noise(x, 10, NoiseColor::kWhite, 3);
  double snr = 10 * std::log10(0.125 / power(difference(y, x)));
  EXPECT_NEAR(snr, 10.0, 0.5);
}

TEST(Augment, WhiteAndPinkNoiseHaveTheirSpectra) {
  // For white noise E[(n[t] - n[t-1])^2] = 2 sigma^2; pink noise has most power at low frequencies,
  // so neighbouring samples are strongly correlated and the ratio is far below 2.
  AudioBuffer x = tone(440, 2.0, 0.5);
  auto diff_ratio = [&](NoiseColor color) {
    std::vector<float> n = difference(add_noise(x, 0, color, 5), x);
    std::vector<float> d(n.size() - 1);
    for (size_t i = 1; i < n.size(); ++i) d[i - 1] = n[i] - n[i - 1];
    return power(d) / power(n);
  };
  EXPECT_NEAR(diff_ratio(NoiseColor::kWhite), 2.0, 0.05);
  EXPECT_LT(diff_ratio(NoiseColor::kPink), 0.6);
}

// Power of `x` between lo and hi Hz: Hann-windowed DFT (direct sums, no FFT library) over
// consecutive 4096-sample segments, averaged.
double band_power(const std::vector<float>& x, int rate, double lo, double hi) {
  const size_t n = 4096;
  std::vector<double> window(n), cosine(n), sine(n);
  for (size_t i = 0; i < n; ++i) {
    window[i] = 0.5 - 0.5 * std::cos(2 * std::numbers::pi * double(i) / n);
    cosine[i] = std::cos(2 * std::numbers::pi * double(i) / n);
    sine[i] = std::sin(2 * std::numbers::pi * double(i) / n);
  }
  double total = 0;
  for (size_t start = 0; start + n <= x.size(); start += n) {
    for (size_t k = static_cast<size_t>(std::ceil(lo * n / rate)); k * rate < hi * n; ++k) {
      double re = 0, im = 0;
      for (size_t i = 0; i < n; ++i) {
        double v = window[i] * x[start + i];
        re += v * cosine[k * i % n];
        im -= v * sine[k * i % n];
      }
      total += re * re + im * im;
    }
  }
  return total;
}

TEST(Augment, PinkNoiseHasEqualPowerPerOctaveWhiteNoiseDoublesPerOctave) {
  AudioBuffer silence_with_click{std::vector<float>(4 * 4096, 0.0f), kRate, 1};
  silence_with_click.samples[0] = 0.5f;  // an active frame, so there is a level to add noise to
  for (NoiseColor color : {NoiseColor::kWhite, NoiseColor::kPink}) {
    std::vector<float> n = difference(add_noise(silence_with_click, 0, color, 11), silence_with_click);
    double low = band_power(n, kRate, 250, 500), high = band_power(n, kRate, 2000, 4000);
    double db = 10 * std::log10(high / low);  // three octaves apart
    if (color == NoiseColor::kWhite) {
      EXPECT_NEAR(db, 10 * std::log10(8.0), 1.0) << "white: power proportional to bandwidth";
    } else {
      EXPECT_NEAR(db, 0.0, 1.0) << "pink: the same power in every octave";
    }
  }
}

TEST(Augment, SameSeedSameNoiseOtherSeedOtherNoise) {
  AudioBuffer x = tone(300, 0.5);
  AugmentOptions o{.gain_db = -2, .snr_db = 15, .noise = NoiseColor::kPink, .speed = 1.05};
  AudioBuffer a = augment(x, o, 1), b = augment(x, o, 1), c = augment(x, o, 2);
  EXPECT_EQ(a.samples, b.samples);
  ASSERT_EQ(a.samples.size(), c.samples.size());
  EXPECT_NE(a.samples, c.samples);
  // Different noise, not a shifted copy: the two noise signals are nearly uncorrelated.
  AudioBuffer clean = apply_gain(change_speed(x, 1.05), -2);
  std::vector<float> na = difference(a, clean), nc = difference(c, clean);
  double cross = 0;
  for (size_t i = 0; i < na.size(); ++i) cross += double(na[i]) * nc[i];
  EXPECT_LT(std::abs(cross / na.size()) / power(na), 0.3);
}

TEST(Augment, SpeedUpShortensByTheFactorAndRaisesFrequencies) {
  AudioBuffer x = tone(440, 1.0);
  for (double speed : {1.1, 0.9}) {
    AudioBuffer y = change_speed(x, speed);
    EXPECT_EQ(y.sample_rate, kRate);
    EXPECT_NEAR(double(y.frames()), kRate / speed, 2.0) << speed;
    EXPECT_NEAR(crossing_hz(y.samples, kRate), 440 * speed, 0.5) << speed;
  }
  EXPECT_EQ(change_speed(x, 1.0).samples, x.samples);
}

TEST(Augment, SpeedKeepsStereoChannelsApart) {
  AudioBuffer left = tone(440, 1.0), right = tone(880, 1.0);
  AudioBuffer stereo{std::vector<float>(left.samples.size() * 2), kRate, 2};
  for (size_t i = 0; i < left.samples.size(); ++i) {
    stereo.samples[2 * i] = left.samples[i];
    stereo.samples[2 * i + 1] = right.samples[i];
  }
  AudioBuffer y = change_speed(stereo, 1.1);
  ASSERT_EQ(y.channels, 2);
  std::vector<float> l(y.frames()), r(y.frames());
  for (int64_t i = 0; i < y.frames(); ++i) {
    l[i] = y.samples[2 * i];
    r[i] = y.samples[2 * i + 1];
  }
  EXPECT_NEAR(crossing_hz(l, kRate), 484, 0.5);
  EXPECT_NEAR(crossing_hz(r, kRate), 968, 1.0);
}

TEST(Augment, SnrHoldsForTheLevelAfterGain) {
  AudioBuffer x = tone(440, 1.0, 0.5);
  AudioBuffer y = augment(x, {.gain_db = -6.02, .snr_db = 20}, 9);
  const double signal = 0.25 * 0.25 / 2;  // amplitude halved
  double snr = 10 * std::log10(signal / power(difference(y, apply_gain(x, -6.02))));
  EXPECT_NEAR(snr, 20.0, 0.5);
}

TEST(Augment, SilenceGetsNoNoiseAndBadOptionsNameTheField) {
  AudioBuffer silence{std::vector<float>(1000, 0.0f), kRate, 1};
  EXPECT_EQ(add_noise(silence, 10, NoiseColor::kWhite, 1).samples, silence.samples);
  AudioBuffer empty{{}, kRate, 1};
  EXPECT_TRUE(augment(empty, {.gain_db = 3, .snr_db = 10, .speed = 1.1}, 1).samples.empty());
  auto message = [](void (*mutate)(AugmentOptions&)) {
    AugmentOptions o;
    mutate(o);
    try {
      augment(tone(440, 0.1), o, 1);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(no ConfigError)");
  };
  EXPECT_NE(message([](AugmentOptions& o) { o.speed = 3; }).find("speed"), std::string::npos);
  EXPECT_NE(message([](AugmentOptions& o) { o.snr_db = NAN; }).find("snr_db"), std::string::npos);
  EXPECT_NE(message([](AugmentOptions& o) { o.gain_db = 100; }).find("gain_db"), std::string::npos);
  EXPECT_THROW(augment(AudioBuffer{{0.1f}, 0, 1}, {}, 1), InputError);
}

TEST(Augment, SampledOptionsAreDeterministicAndWithinRanges) {
  AugmentRanges ranges;
  int noisy = 0, pink = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    AugmentOptions o = sample_augment_options(ranges, seed);
    AugmentOptions again = sample_augment_options(ranges, seed);
    EXPECT_EQ(o.to_string(), again.to_string());
    EXPECT_GE(o.gain_db, ranges.gain_db_min);
    EXPECT_LE(o.gain_db, ranges.gain_db_max);
    EXPECT_GE(o.speed, ranges.speed_min);
    EXPECT_LE(o.speed, ranges.speed_max);
    if (o.snr_db) {
      ++noisy;
      pink += o.noise == NoiseColor::kPink;
      EXPECT_GE(*o.snr_db, ranges.snr_db_min);
      EXPECT_LE(*o.snr_db, ranges.snr_db_max);
    }
  }
  EXPECT_GT(noisy, 60);  // about half of 200
  EXPECT_LT(noisy, 140);
  EXPECT_GT(pink, noisy / 4);
  EXPECT_THROW(sample_augment_options({.speed_min = 1.2, .speed_max = 1.1}, 1), ConfigError);
}

}  // namespace
}  // namespace attune::audio
