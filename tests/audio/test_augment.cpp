// Augmentation, against hand-derived expectations: a sine of amplitude A has power A^2/2; +6.02 dB
// doubles the amplitude; playing 1.1x faster shortens by 1/1.1 and raises every frequency by 1.1x; a
// 4th-order Butterworth passes |H|^2 = 1 / (1 + (f / f_c)^8) (prewarped); a room whose energy decays by
// 60 dB in RT60 seconds has a Schroeder curve of slope -60 / RT60 dB/s.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

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
  EXPECT_NE(message([](AugmentOptions& o) {
              o.band_low_hz = 3400;
              o.band_high_hz = 300;
            }).find("band_low_hz"),
            std::string::npos);
  EXPECT_NE(message([](AugmentOptions& o) { o.band_high_hz = -1; }).find("band_high_hz"), std::string::npos);
  EXPECT_NE(message([](AugmentOptions& o) { o.reverb_rt60_s = 5; }).find("reverb_rt60_s"), std::string::npos);
  EXPECT_NE(message([](AugmentOptions& o) { o.reverb_wet = 3; }).find("reverb_wet"), std::string::npos);
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

// Level change from x to y in dB, over the samples from `skip` on (past a filter's start-up transient).
double level_change_db(const AudioBuffer& x, const AudioBuffer& y, size_t skip) {
  std::vector<float> a(x.samples.begin() + skip, x.samples.end()), b(y.samples.begin() + skip, y.samples.end());
  return 10 * std::log10(power(b) / power(a));
}

// Attenuation (dB, positive) of a 300-3400-style band limit at f: a 4th-order Butterworth has
// |H|^2 = 1 / (1 + (f / f_c)^8) for the low-pass and 1 / (1 + (f_c / f)^8) for the high-pass. The
// bilinear transform maps analog frequency to tan(pi f / rate), so those ratios hold for the prewarped
// frequencies. The warp matters near Nyquist: at 6 kHz (rate 16 kHz) against 3400 Hz the analog ratio
// gives 19.7 dB, the prewarped one 38.9 dB.
double butterworth_loss_db(double f, double low_hz, double high_hz, int rate) {
  auto warp = [rate](double hz) { return std::tan(std::numbers::pi * hz / rate); };
  return 10 * std::log10(1 + std::pow(warp(low_hz) / warp(f), 8)) +
         10 * std::log10(1 + std::pow(warp(f) / warp(high_hz), 8));
}

TEST(Augment, BandLimitPassesTheBandAndAttenuatesLikeAButterworth) {
  const size_t skip = static_cast<size_t>(0.2 * kRate);  // the transient has long died out by then
  AudioBuffer speech_band = tone(1000, 1.0);
  EXPECT_NEAR(level_change_db(speech_band, band_limit(speech_band, 300, 3400), skip), 0.0, 0.5);
  for (double hz : {100.0, 6000.0}) {
    AudioBuffer x = tone(hz, 1.0);
    double expected = butterworth_loss_db(hz, 300, 3400, kRate);
    EXPECT_NEAR(-level_change_db(x, band_limit(x, 300, 3400), skip), expected, 1.5) << hz << " Hz";
  }
  // Sanity of the expectations themselves: 100 Hz is ~38.2 dB down (10 log10(1 + 3^8) unwarped).
  EXPECT_NEAR(butterworth_loss_db(100, 300, 3400, kRate), 10 * std::log10(1 + std::pow(3.0, 8)), 0.1);
  // At the cut-off a Butterworth is 3 dB down.
  AudioBuffer edge = tone(3400, 1.0);
  EXPECT_NEAR(-level_change_db(edge, band_limit(edge, 300, 3400), skip), 10 * std::log10(2.0), 0.2);
}

TEST(Augment, BandLimitSkipsUnsetEdgesAndKeepsStereoChannelsApart) {
  AudioBuffer x = tone(6000, 0.5);
  EXPECT_EQ(band_limit(x, 0, 0).samples, x.samples);
  EXPECT_EQ(band_limit(x, 0, 8000).samples, x.samples);  // at Nyquist: nothing to cut
  const size_t skip = static_cast<size_t>(0.2 * kRate);
  EXPECT_NEAR(level_change_db(x, band_limit(x, 150, 0), skip), 0.0, 0.05);  // high-pass only
  AudioBuffer low = tone(100, 0.5);
  EXPECT_NEAR(level_change_db(low, band_limit(low, 0, 3400), skip), 0.0, 0.05);  // low-pass only

  AudioBuffer left = tone(1000, 1.0), right = tone(100, 1.0);
  AudioBuffer stereo{std::vector<float>(left.samples.size() * 2), kRate, 2};
  for (size_t i = 0; i < left.samples.size(); ++i) {
    stereo.samples[2 * i] = left.samples[i];
    stereo.samples[2 * i + 1] = right.samples[i];
  }
  AudioBuffer y = band_limit(stereo, 300, 3400);
  ASSERT_EQ(y.samples.size(), stereo.samples.size());
  AudioBuffer l{{}, kRate, 1}, r{{}, kRate, 1};
  for (int64_t i = 0; i < y.frames(); ++i) {
    l.samples.push_back(y.samples[2 * i]);
    r.samples.push_back(y.samples[2 * i + 1]);
  }
  EXPECT_NEAR(level_change_db(left, l, skip), 0.0, 0.5);
  EXPECT_NEAR(-level_change_db(right, r, skip), butterworth_loss_db(100, 300, 3400, kRate), 1.5);
}

TEST(Augment, BandLimitRejectsBadBands) {
  AudioBuffer x = tone(440, 0.1);
  EXPECT_THROW(band_limit(x, 3400, 300), ConfigError);
  EXPECT_THROW(band_limit(x, 300, 300), ConfigError);
  EXPECT_THROW(band_limit(x, -1, 3400), ConfigError);
  EXPECT_THROW(band_limit(x, 300, -1), ConfigError);
  EXPECT_THROW(band_limit(x, NAN, 3400), ConfigError);
  EXPECT_THROW(band_limit(x, 9000, 0), ConfigError);  // above Nyquist
  EXPECT_THROW(band_limit(AudioBuffer{{0.1f}, 0, 1}, 300, 3400), InputError);
}

TEST(Augment, RoomImpulseResponseIsADirectPathThenATailOfEnergyWetSquared) {
  for (double wet : {0.0, 0.5, 2.0}) {
    std::vector<float> h = room_impulse_response(kRate, 0.3, wet, 1);
    const size_t onset = 40;            // 2.5 ms at 16 kHz
    ASSERT_EQ(h.size(), onset + 4800);  // + 0.3 s
    EXPECT_EQ(h[0], 1.0f);
    for (size_t i = 1; i < onset; ++i) EXPECT_EQ(h[i], 0.0f) << i;
    double tail = 0;
    for (size_t i = onset; i < h.size(); ++i) tail += double(h[i]) * h[i];
    EXPECT_NEAR(tail, wet * wet, 1e-5 * (1 + wet * wet)) << wet;
  }
  // Tails are cut at 1 s.
  EXPECT_EQ(room_impulse_response(kRate, 2.5, 0.5, 1).size(), 40u + kRate);
}

// RT60 by Schroeder backward integration (Schroeder 1965): E(t) = sum of h^2 from t to the end, in dB
// re its start; a line fitted between -5 and -25 dB, extrapolated to -60 dB (T20). The direct path is
// left out: one sample holding most of the energy would make the first dB a step, not a slope.
double schroeder_rt60(const std::vector<float>& h, int rate) {
  std::vector<double> energy(h.size() + 1, 0.0);
  for (size_t i = h.size(); i-- > 1;) energy[i] = energy[i + 1] + double(h[i]) * h[i];
  double n = 0, sum_t = 0, sum_db = 0, sum_tt = 0, sum_tdb = 0;
  for (size_t i = 1; i < h.size(); ++i) {
    double db = 10 * std::log10(energy[i] / energy[1]);
    if (db > -5 || db < -25) continue;
    double t = double(i) / rate;
    n += 1;
    sum_t += t;
    sum_db += db;
    sum_tt += t * t;
    sum_tdb += t * db;
  }
  double slope = (n * sum_tdb - sum_t * sum_db) / (n * sum_tt - sum_t * sum_t);  // dB per second
  return -60.0 / slope;
}

TEST(Augment, RoomImpulseResponseDecaysInItsRt60) {
  for (double rt60 : {0.3, 0.6}) {
    for (uint64_t seed : {1, 2, 3}) {
      double measured = schroeder_rt60(room_impulse_response(kRate, rt60, 0.5, seed), kRate);
      EXPECT_NEAR(measured, rt60, 0.15 * rt60) << "seed " << seed;
    }
  }
}

TEST(Augment, ReverbKeepsLengthAndActiveLevelAndFollowsTheSeed) {
  // Speech-like: tone, pause, tone; the room fills the pause.
  AudioBuffer x = tone(440, 1.5, 0.3);
  std::fill(x.samples.begin() + kRate / 2, x.samples.begin() + kRate, 0.0f);
  AudioBuffer a = add_reverb(x, 0.5, 0.7, 4), b = add_reverb(x, 0.5, 0.7, 4), c = add_reverb(x, 0.5, 0.7, 5);
  ASSERT_EQ(a.samples.size(), x.samples.size());
  EXPECT_EQ(a.sample_rate, kRate);
  EXPECT_NEAR(10 * std::log10(active_power(a) / active_power(x)), 0.0, 0.1);
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_NE(a.samples, c.samples);
  // 50-60 ms into the pause the tail is still there (RT60 0.5 s: about -6 dB by then).
  std::vector<float> pause(a.samples.begin() + kRate / 2 + 800, a.samples.begin() + kRate / 2 + 960);
  EXPECT_GT(power(pause), 1e-3 * active_power(a));
  EXPECT_EQ(add_reverb(x, 0.5, 0.0, 4).samples, x.samples);  // dry: the direct path alone
  AudioBuffer silence{std::vector<float>(1000, 0.0f), kRate, 1};
  EXPECT_EQ(add_reverb(silence, 0.5, 0.5, 1).samples, silence.samples);
}

TEST(Augment, ReverbOfAClickIsTheImpulseResponseCutAtTheEnd) {
  // A click 1000 samples before the end: the output is the response (scaled) from there on, nothing
  // before it (a too-short circular convolution would wrap the tail to the start), cut at the end.
  AudioBuffer click{std::vector<float>(kRate, 0.0f), kRate, 1};
  const size_t at = kRate - 1000;
  click.samples[at] = 0.5f;
  std::vector<float> h = room_impulse_response(kRate, 0.3, 0.8, 6);
  AudioBuffer y = add_reverb(click, 0.3, 0.8, 6);
  ASSERT_EQ(y.samples.size(), click.samples.size());
  const double peak = y.samples[at];
  ASSERT_GT(peak, 0);
  double worst_before = 0, worst_after = 0;
  for (size_t i = 0; i < at; ++i) worst_before = std::max(worst_before, std::abs(y.samples[i] / peak));
  for (size_t k = 0; at + k < y.samples.size(); ++k) {
    worst_after = std::max(worst_after, std::abs(y.samples[at + k] / peak - h[k]));
  }
  EXPECT_LT(worst_before, 1e-5);
  EXPECT_LT(worst_after, 1e-5);
}

TEST(Augment, ReverbRejectsBadSettings) {
  AudioBuffer x = tone(440, 0.1);
  EXPECT_THROW(add_reverb(x, 0.01, 0.5, 1), ConfigError);
  EXPECT_THROW(add_reverb(x, 4, 0.5, 1), ConfigError);
  EXPECT_THROW(add_reverb(x, NAN, 0.5, 1), ConfigError);
  EXPECT_THROW(add_reverb(x, 0.5, -0.1, 1), ConfigError);
  EXPECT_THROW(add_reverb(x, 0.5, 2.5, 1), ConfigError);
  EXPECT_THROW(room_impulse_response(0, 0.5, 0.5, 1), ConfigError);
  EXPECT_THROW(add_reverb(AudioBuffer{{0.1f}, 0, 1}, 0.5, 0.5, 1), InputError);
}

TEST(Augment, NewFieldsAtTheirDefaultsLeaveTheOldChainAndApplyInOrderWhenSet) {
  AudioBuffer x = tone(300, 0.5);
  AugmentOptions o{.gain_db = -3, .snr_db = 12, .noise = NoiseColor::kPink};
  EXPECT_EQ(augment(x, o, 5).samples, add_noise(apply_gain(x, -3), 12, NoiseColor::kPink, 5).samples);
  EXPECT_EQ(o.to_string(), "gain -3.0 dB, pink noise at 12.0 dB SNR, speed x1.000");
  o.speed = 1.05;
  o.reverb_rt60_s = 0.4;
  o.reverb_wet = 0.3;
  o.band_low_hz = 300;
  o.band_high_hz = 3400;
  AudioBuffer room = add_reverb(change_speed(x, 1.05), 0.4, 0.3, 5);
  AudioBuffer expected = add_noise(apply_gain(band_limit(room, 300, 3400), -3), 12, NoiseColor::kPink, 5);
  EXPECT_EQ(augment(x, o, 5).samples, expected.samples);
  EXPECT_EQ(o.to_string(),
            "gain -3.0 dB, pink noise at 12.0 dB SNR, speed x1.050, band 300-3400 Hz, reverb RT60 0.40 s wet 0.30");
}

TEST(Augment, SampledBandAndReverbArePresetsDrawnAfterTheOtherFields) {
  AugmentRanges plain, rich{.band_probability = 1, .reverb_probability = 1};
  int telephone = 0, laptop = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    AugmentOptions base = sample_augment_options(plain, seed), o = sample_augment_options(rich, seed);
    EXPECT_EQ(o.to_string(), sample_augment_options(rich, seed).to_string());
    // The earlier fields draw exactly what they draw without band and reverb.
    EXPECT_EQ(o.gain_db, base.gain_db);
    EXPECT_EQ(o.snr_db, base.snr_db);
    EXPECT_EQ(o.noise, base.noise);
    EXPECT_EQ(o.speed, base.speed);
    EXPECT_EQ(base.band_low_hz, 0);
    EXPECT_EQ(base.band_high_hz, 0);
    EXPECT_EQ(base.reverb_rt60_s, 0);
    telephone += o.band_low_hz == 300 && o.band_high_hz == 3400;
    laptop += o.band_low_hz == 150 && o.band_high_hz == 7000;
    EXPECT_GE(o.reverb_rt60_s, rich.rt60_min);
    EXPECT_LE(o.reverb_rt60_s, rich.rt60_max);
    EXPECT_GE(o.reverb_wet, rich.reverb_wet_min);
    EXPECT_LE(o.reverb_wet, rich.reverb_wet_max);
  }
  EXPECT_EQ(telephone + laptop, 200);
  EXPECT_GT(telephone, 60);  // about half of 200
  EXPECT_GT(laptop, 60);
  EXPECT_THROW(sample_augment_options({.band_probability = 1.5}, 1), ConfigError);
  EXPECT_THROW(sample_augment_options({.rt60_min = 0.7, .rt60_max = 0.2}, 1), ConfigError);
  EXPECT_THROW(sample_augment_options({.reverb_wet_min = -1}, 1), ConfigError);
}

}  // namespace
}  // namespace attune::audio
