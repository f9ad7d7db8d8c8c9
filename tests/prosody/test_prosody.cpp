// Prosody functionals on signals with known answers, then on espeak-ng speech rendered with known
// pitch and rate settings (espeak-ng runs as a separate program; it is GPL and never linked).
#include "audio/prosody.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <numbers>
#include <random>

#include "attune/error.h"
#include "audio/audio_file.h"
#include "prosody/signals.h"
#include "support/test_support.h"

namespace attune::audio {
namespace {

using attune::testing::append;
using attune::testing::harmonic_tone;
using attune::testing::median;
using attune::testing::white_noise;

Prosody analyse(const std::vector<float>& x, int sr = 16000) { return analyse_prosody(x, sr); }

void print(const std::string& label, const Prosody& p) {
  std::cout << "  " << label << ":";
  const auto& names = prosody_feature_names();
  for (size_t i = 0; i < names.size(); ++i) std::cout << (i % 4 ? "  " : "\n    ") << names[i] << "=" << p.values[i];
  std::cout << "\n";
}

void expect_all_finite(const Prosody& p, const std::string& label) {
  ASSERT_EQ(p.values.size(), prosody_feature_names().size()) << label;
  for (size_t i = 0; i < p.values.size(); ++i)
    EXPECT_TRUE(std::isfinite(p.values[i])) << label << ": " << prosody_feature_names()[i] << " = " << p.values[i];
  for (float v : p.loudness_db) EXPECT_TRUE(std::isfinite(v)) << label;
}

void expect_f0_features_zero(const Prosody& p, const std::string& label) {
  for (const char* name : {"f0_mean_hz", "f0_std_hz", "f0_p20_hz", "f0_p50_hz", "f0_p80_hz", "f0_range_semitones",
                           "f0_slope_semitones_per_s", "voiced_fraction", "hnr_db", "jitter_local_pct",
                           "shimmer_local_db", "speaking_rate_syl_per_s"})
    EXPECT_EQ(p.get(name), 0.0) << label << ": " << name;
}

TEST(Prosody, SkippedGroupsReadNaNAndTheRestIsUnchanged) {
  std::vector<float> x = harmonic_tone(160, 1.5, 16000);
  Prosody full = analyse(x);
  ProsodyOptions options;
  options.spectral = options.hnr = false;
  Prosody part = analyse_prosody(x, 16000, options);
  const auto& names = prosody_feature_names();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "spectral_centroid_hz" || names[i] == "spectral_slope_db_per_khz" || names[i] == "hnr_db") {
      EXPECT_TRUE(std::isnan(part.values[i])) << names[i];
    } else {
      EXPECT_EQ(part.values[i], full.values[i]) << names[i];
    }
  }
}

TEST(Prosody, FeatureNamesAreFixedAndGetFindsThem) {
  const std::vector<std::string> expected = {"duration_s",
                                             "f0_mean_hz",
                                             "f0_std_hz",
                                             "f0_p20_hz",
                                             "f0_p50_hz",
                                             "f0_p80_hz",
                                             "f0_range_semitones",
                                             "f0_slope_semitones_per_s",
                                             "voiced_fraction",
                                             "loudness_db",
                                             "loudness_std_db",
                                             "loudness_p20_db",
                                             "loudness_p80_db",
                                             "loudness_slope_db_per_s",
                                             "spectral_centroid_hz",
                                             "spectral_slope_db_per_khz",
                                             "hnr_db",
                                             "jitter_local_pct",
                                             "shimmer_local_db",
                                             "pause_ratio",
                                             "speaking_rate_syl_per_s"};
  EXPECT_EQ(prosody_feature_names(), expected);
  const Prosody p = analyse(harmonic_tone(120.0, 0.5, 16000));
  EXPECT_DOUBLE_EQ(p.get("duration_s"), 0.5);
  EXPECT_THROW(p.get("f0_mean"), Error);
}

TEST(Prosody, EmptySilenceAndTinyInputsGiveDefinedValues) {
  const Prosody empty = analyse_prosody(nullptr, 0, 16000);
  expect_all_finite(empty, "empty");
  expect_f0_features_zero(empty, "empty");
  EXPECT_EQ(empty.get("pause_ratio"), 1.0);
  EXPECT_EQ(empty.get("loudness_db"), -120.0);
  EXPECT_EQ(empty.loudness_db.size(), 0u);

  const Prosody silent = analyse(std::vector<float>(16000, 0.0f));
  print("1 s of zeros", silent);
  expect_all_finite(silent, "zeros");
  expect_f0_features_zero(silent, "zeros");
  EXPECT_EQ(silent.get("loudness_db"), -120.0);
  EXPECT_EQ(silent.get("pause_ratio"), 1.0);
  EXPECT_EQ(silent.loudness_db.size(), 100u);
  EXPECT_EQ(silent.pitch.frames(), 100);

  const Prosody tiny = analyse(std::vector<float>(7, 0.25f));
  expect_all_finite(tiny, "7 samples");
  EXPECT_EQ(tiny.loudness_db.size(), 1u);
  EXPECT_NEAR(tiny.get("loudness_db"), 20.0 * std::log10(0.25), 1e-3);
}

TEST(Prosody, LoudnessOfAToneAndOfAStepDown) {
  const int sr = 16000;
  // A sine of amplitude A has RMS A / sqrt(2): 0.5 -> -9.03 dB re full scale.
  const Prosody s = analyse(attune::testing::sine(440.0, 1.0, sr, 0.5));
  std::cout << "  sine 0.5: loudness " << s.get("loudness_db") << " dB (expected -9.031), std "
            << s.get("loudness_std_db") << ", slope " << s.get("loudness_slope_db_per_s") << " dB/s\n";
  EXPECT_NEAR(s.get("loudness_db"), -9.031, 0.05);
  EXPECT_NEAR(s.get("loudness_std_db"), 0.0, 0.05);
  EXPECT_NEAR(s.get("loudness_slope_db_per_s"), 0.0, 0.1);

  // Amplitude a, then a / 2: 20 log10(2) = 6.02 dB down, in the contour and across utterances.
  auto step = harmonic_tone(150.0, 1.0, sr, 0.4);
  append(step, harmonic_tone(150.0, 1.0, sr, 0.2));
  const Prosody p = analyse(step);
  std::vector<double> first, second;
  for (size_t f = 0; f < p.loudness_db.size(); ++f) {
    const double t = (f + 0.5) * p.hop_s;
    if (t > 0.1 && t < 0.9) first.push_back(p.loudness_db[f]);
    if (t > 1.1 && t < 1.9) second.push_back(p.loudness_db[f]);
  }
  const double contour_step = median(first) - median(second);
  const double utterance_step = analyse(harmonic_tone(150.0, 1.0, sr, 0.4)).get("loudness_db") -
                                analyse(harmonic_tone(150.0, 1.0, sr, 0.2)).get("loudness_db");
  std::cout << "  amplitude step 0.4 -> 0.2: contour " << contour_step << " dB, utterance means " << utterance_step
            << " dB (expected 6.02 +- 0.5); p80 - p20 " << p.get("loudness_p80_db") - p.get("loudness_p20_db")
            << " dB, slope " << p.get("loudness_slope_db_per_s") << " dB/s (expected < 0)\n";
  EXPECT_NEAR(contour_step, 6.0206, 0.5);
  EXPECT_NEAR(utterance_step, 6.0206, 0.5);
  EXPECT_NEAR(p.get("loudness_p80_db") - p.get("loudness_p20_db"), 6.0206, 0.5);
  EXPECT_LT(p.get("loudness_slope_db_per_s"), -3.0);
}

TEST(Prosody, HarmonicToneF0Functionals) {
  const int sr = 16000;
  for (double f0 : {80.0, 140.0, 220.0, 400.0}) {
    const Prosody p = analyse(harmonic_tone(f0, 1.5, sr));
    std::cout << "  tone " << f0 << " Hz: f0_mean " << p.get("f0_mean_hz") << ", p50 " << p.get("f0_p50_hz")
              << ", range " << p.get("f0_range_semitones") << " st, voiced_fraction " << p.get("voiced_fraction")
              << " (expected f0 +- 1 %, range ~0, voiced >= 0.95)\n";
    EXPECT_NEAR(p.get("f0_p50_hz"), f0, 0.01 * f0);
    EXPECT_NEAR(p.get("f0_mean_hz"), f0, 0.01 * f0);
    EXPECT_LT(p.get("f0_range_semitones"), 0.2);
    EXPECT_GE(p.get("voiced_fraction"), 0.95);
  }
  // A glide 100 -> 200 Hz over 2 s rises 12 semitones: slope 6 st/s.
  std::vector<float> x(2 * sr);
  double phase = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<float>(0.4 * (std::sin(phase) + 0.5 * std::sin(2 * phase) + 0.33 * std::sin(3 * phase)));
    phase += 2.0 * std::numbers::pi * 100.0 * std::pow(2.0, i / (2.0 * sr)) / sr;
  }
  const Prosody g = analyse(x);
  std::cout << "  glide 100->200 Hz in 2 s: f0 slope " << g.get("f0_slope_semitones_per_s")
            << " st/s (expected 6 +- 0.3), p50 " << g.get("f0_p50_hz") << " Hz (expected 141.4 +- 3)\n";
  EXPECT_NEAR(g.get("f0_slope_semitones_per_s"), 6.0, 0.3);
  EXPECT_NEAR(g.get("f0_p50_hz"), 141.42, 3.0);
}

TEST(Prosody, WhiteNoiseIsUnvoicedWithFlatSpectrum) {
  const Prosody p = analyse(white_noise(2.0, 16000, 0.1));
  print("white noise", p);
  expect_f0_features_zero(p, "white noise");
  // Flat spectrum over 0..8 kHz: centroid 4 kHz, slope 0.
  std::cout << "  white noise: centroid " << p.get("spectral_centroid_hz") << " Hz (expected 4000 +- 150), slope "
            << p.get("spectral_slope_db_per_khz") << " dB/kHz (expected 0 +- 0.3)\n";
  EXPECT_NEAR(p.get("spectral_centroid_hz"), 4000.0, 150.0);
  EXPECT_NEAR(p.get("spectral_slope_db_per_khz"), 0.0, 0.3);
  EXPECT_EQ(p.get("pause_ratio"), 0.0);
}

TEST(Prosody, SpectralCentroidAndSlopeOfKnownSpectra) {
  const int sr = 16000;
  const Prosody s = analyse(attune::testing::sine(1000.0, 1.0, sr, 0.3));
  std::cout << "  1 kHz sine: centroid " << s.get("spectral_centroid_hz") << " Hz (expected 1000 +- 20)\n";
  EXPECT_NEAR(s.get("spectral_centroid_hz"), 1000.0, 20.0);
  // First-differenced white noise: power 2 - 2 cos(w) rises with frequency (positive slope, centroid
  // above 4 kHz); 1/k harmonics fall (negative slope).
  const auto w = white_noise(2.0, sr, 0.1);
  std::vector<float> diff(w.size());
  for (size_t i = 1; i < w.size(); ++i) diff[i] = w[i] - w[i - 1];
  const Prosody d = analyse(diff);
  const Prosody h = analyse(harmonic_tone(200.0, 1.0, sr, 0.5, 1, 20));
  std::cout << "  differenced noise: centroid " << d.get("spectral_centroid_hz") << " Hz, slope "
            << d.get("spectral_slope_db_per_khz") << " dB/kHz (expected > 0); 1/k harmonics: slope "
            << h.get("spectral_slope_db_per_khz") << " dB/kHz (expected < 0)\n";
  EXPECT_GT(d.get("spectral_centroid_hz"), 4500.0);
  EXPECT_GT(d.get("spectral_slope_db_per_khz"), 1.0);
  EXPECT_LT(h.get("spectral_slope_db_per_khz"), -1.0);
}

TEST(Prosody, HnrFollowsTheSignalToNoiseRatio) {
  const int sr = 16000;
  const auto tone = harmonic_tone(160.0, 2.0, sr, 0.5);
  double tone_power = 0.0;
  for (float v : tone) tone_power += v * v;
  tone_power /= tone.size();
  const Prosody clean = analyse(tone);
  std::cout << "  clean tone: HNR " << clean.get("hnr_db") << " dB (expected > 30)\n";
  EXPECT_GT(clean.get("hnr_db"), 30.0);
  // Boersma: r = P_h / (P_h + P_n), so HNR = 10 log10(P_h / P_n) = the SNR of tone vs white noise.
  double previous = clean.get("hnr_db");
  for (double snr_db : {20.0, 10.0, 5.0}) {
    const double rms = std::sqrt(tone_power / std::pow(10.0, snr_db / 10.0));
    auto x = tone;
    const auto noise = white_noise(2.0, sr, rms, 7);
    for (size_t i = 0; i < x.size(); ++i) x[i] += noise[i];
    const Prosody p = analyse(x);
    std::cout << "  tone + noise at SNR " << snr_db << " dB: HNR " << p.get("hnr_db") << " dB (expected " << snr_db
              << " +- 2), voiced_fraction " << p.get("voiced_fraction") << "\n";
    EXPECT_NEAR(p.get("hnr_db"), snr_db, 2.0);
    EXPECT_LT(p.get("hnr_db"), previous);
    previous = p.get("hnr_db");
  }
}

// Jitter (%) and shimmer (dB) of the cycle sequence a cycle_tone was built from: the reference.
struct CycleTruth {
  double jitter_pct = 0.0, shimmer_db = 0.0;
};
CycleTruth cycle_truth(const std::vector<double>& periods, const std::vector<double>& amps) {
  double dt = 0.0, t = 0.0, da = 0.0;
  for (size_t k = 0; k < periods.size(); ++k) {
    t += periods[k];
    if (k == 0) continue;
    dt += std::fabs(periods[k] - periods[k - 1]);
    da += std::fabs(20.0 * std::log10(amps[k] / amps[k - 1]));
  }
  const double pairs = static_cast<double>(periods.size() - 1);
  return {100.0 * (dt / pairs) / (t / periods.size()), da / pairs};
}

TEST(Prosody, JitterAndShimmerMatchThePerturbationsBuiltIn) {
  const int sr = 16000;
  const double period = sr / 125.0;
  const int cycles = 250;  // 2 s
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> steady(cycles, period), ones(cycles, 1.0), jittered(cycles), shimmered(cycles);
  for (int k = 0; k < cycles; ++k) jittered[k] = period * (1.0 + 0.02 * u(rng));
  for (int k = 0; k < cycles; ++k) shimmered[k] = 1.0 + 0.15 * u(rng);

  const Prosody clean = analyse(attune::testing::cycle_tone(steady, ones));
  std::cout << "  periodic: jitter " << clean.get("jitter_local_pct") << " % (expected < 0.05), shimmer "
            << clean.get("shimmer_local_db") << " dB (expected < 0.05), HNR " << clean.get("hnr_db") << " dB\n";
  EXPECT_LT(clean.get("jitter_local_pct"), 0.05);
  EXPECT_LT(clean.get("shimmer_local_db"), 0.05);

  const CycleTruth tj = cycle_truth(jittered, ones);
  const Prosody j = analyse(attune::testing::cycle_tone(jittered, ones));
  std::cout << "  period jitter +-2 %: jitter " << j.get("jitter_local_pct") << " % (built in " << tj.jitter_pct
            << " %, limit +-25 %), shimmer " << j.get("shimmer_local_db") << " dB, median f0 " << j.get("f0_p50_hz")
            << " Hz\n";
  EXPECT_NEAR(j.get("jitter_local_pct"), tj.jitter_pct, 0.25 * tj.jitter_pct);

  const CycleTruth ts = cycle_truth(steady, shimmered);
  const Prosody s = analyse(attune::testing::cycle_tone(steady, shimmered));
  std::cout << "  amplitude shimmer +-15 %: shimmer " << s.get("shimmer_local_db") << " dB (built in " << ts.shimmer_db
            << " dB, limit +-25 %), jitter " << s.get("jitter_local_pct") << " %\n";
  EXPECT_NEAR(s.get("shimmer_local_db"), ts.shimmer_db, 0.25 * ts.shimmer_db);
  EXPECT_LT(s.get("jitter_local_pct"), 0.3 * tj.jitter_pct);
}

TEST(Prosody, PausesCountOnlyLongSilencesInsideTheSpeech) {
  const int sr = 16000;
  const auto tone = harmonic_tone(150.0, 1.0, sr, 0.4);
  auto silence = [&](double s) { return std::vector<float>(static_cast<size_t>(s * sr), 0.0f); };
  std::vector<float> a = tone;  // 1 s tone, 0.5 s silence, 1 s tone: 0.5 / 2.5
  append(a, silence(0.5));
  append(a, tone);
  std::vector<float> b = tone;  // a 100 ms gap is not a pause
  append(b, silence(0.1));
  append(b, tone);
  std::vector<float> c = silence(0.5);  // leading and trailing silence are not pauses
  append(c, tone);
  append(c, silence(0.5));
  const double pa = analyse(a).get("pause_ratio"), pb = analyse(b).get("pause_ratio"),
               pc = analyse(c).get("pause_ratio");
  std::cout << "  pause ratio: 0.5 s gap " << pa << " (expected 0.2 +- 0.01), 0.1 s gap " << pb
            << " (expected 0), edges only " << pc << " (expected 0)\n";
  EXPECT_NEAR(pa, 0.2, 0.01);
  EXPECT_EQ(pb, 0.0);
  EXPECT_EQ(pc, 0.0);
}

TEST(Prosody, SpeakingRateCountsVoicedIntensityPeaks) {
  // 12 "syllables": voiced bursts with a raised-cosine envelope (floor -14 dB below the peaks, so
  // nothing is a pause), one every 1 / rate seconds. Phonation time is the whole signal.
  const int sr = 16000;
  constexpr int kBursts = 12;
  for (double rate : {2.5, 4.0, 6.0}) {
    const double spacing = 1.0 / rate, seconds = kBursts * spacing;
    const auto base = harmonic_tone(130.0, seconds, sr, 1.0);
    std::vector<float> x(base.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const double local = std::fmod(static_cast<double>(i) / sr, spacing) / spacing;  // place in the syllable
      x[i] = static_cast<float>((0.1 + 0.4 * std::pow(std::sin(std::numbers::pi * local), 2)) * base[i]);
    }
    const Prosody p = analyse(x);
    std::cout << "  " << kBursts << " bursts in " << seconds << " s: speaking rate " << p.get("speaking_rate_syl_per_s")
              << " syl/s (expected " << rate << " +- 5 %)\n";
    EXPECT_NEAR(p.get("speaking_rate_syl_per_s"), rate, 0.05 * rate);
  }
}

TEST(Prosody, ExtremeInputsStayFinite) {
  const int sr = 16000;
  auto clipped = harmonic_tone(150.0, 1.0, sr, 20.0);
  for (float& v : clipped) v = std::clamp(v, -1.0f, 1.0f);
  auto huge = harmonic_tone(150.0, 1.0, sr, 1e6);
  auto nans = harmonic_tone(150.0, 1.0, sr);
  for (size_t i = 0; i < nans.size(); i += 101) nans[i] = std::numeric_limits<float>::quiet_NaN();
  nans[3] = -std::numeric_limits<float>::infinity();
  auto dc = std::vector<float>(sr, 0.5f);
  const Prosody pc = analyse(clipped);
  print("clipped tone", pc);
  expect_all_finite(pc, "clipped");
  EXPECT_NEAR(pc.get("f0_p50_hz"), 150.0, 1.5);
  EXPECT_GT(pc.get("loudness_db"), -1.0);
  expect_all_finite(analyse(huge), "amplitude 1e6");
  expect_all_finite(analyse(nans), "NaN samples");
  expect_all_finite(analyse(dc), "DC");
  for (int rate : {8000, 44100, 48000}) {
    const Prosody p = analyse(harmonic_tone(180.0, 1.0, rate), rate);
    std::cout << "  tone 180 Hz at " << rate << " Hz: f0 p50 " << p.get("f0_p50_hz") << ", loudness "
              << p.get("loudness_db") << " dB\n";
    expect_all_finite(p, "rate " + std::to_string(rate));
    EXPECT_NEAR(p.get("f0_p50_hz"), 180.0, 1.8);
  }
  ProsodyOptions bad;
  bad.frame_s = 0.0;
  EXPECT_THROW(analyse_prosody(clipped, sr, bad), ConfigError);
  EXPECT_THROW(analyse_prosody(clipped, 0), ConfigError);
}

// ---- espeak-ng speech ---------------------------------------------------------------------------

constexpr const char* kSentence =
    "The quick brown fox jumps over the lazy dog, and then it runs far away into the quiet forest.";
constexpr int kSentenceSyllables = 26;

bool have_espeak() { return std::system("command -v espeak-ng >/dev/null 2>&1") == 0; }

Prosody speak(const attune::testing::TempDir& dir, const std::string& args) {
  const auto wav = dir / ("speech_" + std::to_string(std::hash<std::string>{}(args)) + ".wav");
  const std::string cmd = "espeak-ng -v en-us " + args + " -w '" + wav.string() + "' \"" + kSentence + "\"";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("espeak-ng failed: " + cmd);
  const AudioBuffer audio = load_mono(wav);
  return analyse_prosody(audio.samples, audio.sample_rate);
}

// espeak-ng's -p 20 voice falls below 60 Hz (the default min_f0_hz) at phrase ends, so the rate
// pair uses the default pitch (-p 50), where voicing is reliable.
TEST(ProsodySpeech, EspeakPitchMovesF0) {
  if (!have_espeak()) GTEST_SKIP() << "espeak-ng is not installed (apt-get install espeak-ng); skipping speech checks";
  const attune::testing::TempDir dir;
  const Prosody low = speak(dir, "-p 20 -s 130");
  const Prosody high = speak(dir, "-p 80 -s 130");
  print("espeak -p 20 -s 130", low);
  print("espeak -p 80 -s 130", high);
  const double ratio = high.get("f0_mean_hz") / low.get("f0_mean_hz");
  std::cout << "  f0_mean: -p 20 " << low.get("f0_mean_hz") << " Hz, -p 80 " << high.get("f0_mean_hz") << " Hz, ratio "
            << ratio << " (expected 1.2 .. 2.5)\n";
  RecordProperty("f0_mean_hz_p20", std::to_string(low.get("f0_mean_hz")));
  RecordProperty("f0_mean_hz_p80", std::to_string(high.get("f0_mean_hz")));
  EXPECT_GT(ratio, 1.2);
  EXPECT_LT(ratio, 2.5);
  EXPECT_GT(high.get("f0_p20_hz"), low.get("f0_p80_hz"));
  for (const Prosody* p : {&low, &high}) {
    expect_all_finite(*p, "espeak");
    EXPECT_GT(p->get("voiced_fraction"), 0.3);
    EXPECT_LT(p->get("voiced_fraction"), 0.9);
    EXPECT_GT(p->get("hnr_db"), 0.0);
    EXPECT_LT(p->get("pause_ratio"), 0.5);
  }
  // Pitch alone leaves the rate roughly where it was.
  EXPECT_NEAR(high.get("speaking_rate_syl_per_s") / low.get("speaking_rate_syl_per_s"), 1.0, 0.25);
}

TEST(ProsodySpeech, EspeakRateMovesSpeakingRate) {
  if (!have_espeak()) GTEST_SKIP() << "espeak-ng is not installed (apt-get install espeak-ng); skipping speech checks";
  const attune::testing::TempDir dir;
  const Prosody slow = speak(dir, "-p 50 -s 130");
  const Prosody fast = speak(dir, "-p 50 -s 220");
  print("espeak -p 50 -s 130", slow);
  print("espeak -p 50 -s 220", fast);
  const double ratio = fast.get("speaking_rate_syl_per_s") / slow.get("speaking_rate_syl_per_s");
  std::cout << "  speaking rate: -s 130 " << slow.get("speaking_rate_syl_per_s") << " syl/s, -s 220 "
            << fast.get("speaking_rate_syl_per_s") << " syl/s, ratio " << ratio
            << " (expected 2 .. 8 syl/s and ratio > 1.15; espeak's words-per-minute ratio is 1.69)\n"
            << "  reference: " << kSentenceSyllables
            << " syllables / total duration = " << kSentenceSyllables / slow.get("duration_s") << " and "
            << kSentenceSyllables / fast.get("duration_s")
            << " syl/s (edges and pauses included, so below the articulation rate)\n";
  RecordProperty("rate_s130", std::to_string(slow.get("speaking_rate_syl_per_s")));
  RecordProperty("rate_s220", std::to_string(fast.get("speaking_rate_syl_per_s")));
  for (const Prosody* p : {&slow, &fast}) {
    expect_all_finite(*p, "espeak");
    EXPECT_GT(p->get("speaking_rate_syl_per_s"), 2.0);
    EXPECT_LT(p->get("speaking_rate_syl_per_s"), 8.0);
    EXPECT_GT(p->get("voiced_fraction"), 0.3);
    EXPECT_LT(p->get("voiced_fraction"), 0.9);
  }
  EXPECT_GT(ratio, 1.15);
  EXPECT_LT(ratio, 2.2);
  // Rate alone leaves F0 roughly where it was.
  EXPECT_NEAR(fast.get("f0_mean_hz") / slow.get("f0_mean_hz"), 1.0, 0.15);
  EXPECT_LT(fast.get("duration_s"), slow.get("duration_s"));
}

}  // namespace
}  // namespace attune::audio
