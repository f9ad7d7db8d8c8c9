// Log-mel against independent references: the Slaney mel formula and numpy computations of Whisper's
// published log-mel formula on committed speech (tests/fixtures/make_fresh_clone_references.py), and,
// with ../shared, Whisper's official filterbank and jfk-16k.flac (make_log_mel_reference.py).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "attune/error.h"
#include "audio/audio_file.h"
#include "audio/log_mel.h"
#include "io/npy.h"
#include "support/test_support.h"

namespace attune::audio {
namespace {

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - b[i]));
  return worst;
}

// The committed filters (tests/fixtures/make_fresh_clone_references.py) are librosa's Slaney formula
// written out in numpy; with ../shared, Whisper's official file is checked as well.
TEST(MelFilterbank, EqualsTheSlaneyFormulaAndWhispersOfficialFilters) {
  std::vector<std::pair<std::string, std::filesystem::path>> references = {
      {"the numpy Slaney formula", testing::fixtures_dir() / "mel_filters_slaney.npz"}};
  if (auto shared = testing::shared_dir()) {
    references.emplace_back("Whisper's official filters", *shared / "fixtures/whisper/mel_filters.npz");
  }
  for (const auto& [name, path] : references) {
    auto arrays = io::read_npz(path);
    for (int n_mels : {80, 128}) {
      const auto& ref = arrays.at("mel_" + std::to_string(n_mels));
      ASSERT_EQ(ref.shape, (std::vector<int64_t>{n_mels, 201}));
      std::vector<float> ours = mel_filterbank(n_mels);
      ASSERT_EQ(ours.size(), ref.values.size());
      double diff = max_abs_diff(ours, ref.values);
      std::cout << "mel_" << n_mels << ": max abs difference to " << name << " = " << diff << " (limit 1e-6)\n";
      EXPECT_LE(diff, 1e-6) << name;
    }
  }
}

// Speech (tests/fixtures/speech_16k.wav) against the numpy reference computed from the published
// formula; with ../shared, Whisper's jfk sample as well.
TEST(LogMel, MatchesNumpyReference) {
  struct Case {
    std::filesystem::path audio, reference;
  };
  std::vector<Case> cases = {
      {testing::fixtures_dir() / "speech_16k.wav", testing::fixtures_dir() / "speech_16k_log_mel_80.npy"}};
  if (auto shared = testing::shared_dir()) {
    cases.push_back({*shared / "fixtures/whisper/jfk-16k.flac", testing::fixtures_dir() / "jfk_log_mel_80.npy"});
  }
  for (const Case& c : cases) {
    AudioBuffer audio = load_mono(c.audio);
    LogMel mel = LogMelExtractor({.n_mels = 80}).compute(audio.samples);
    io::NpyArray ref = io::read_npy(c.reference);
    const int64_t frames = static_cast<int64_t>(audio.samples.size()) / 160;  // centred, minus the dropped last
    ASSERT_EQ(ref.shape, (std::vector<int64_t>{80, frames})) << c.reference;
    ASSERT_EQ(mel.n_mels, 80);
    ASSERT_EQ(mel.frames, frames);
    double diff = max_abs_diff(mel.data, ref.values);
    std::cout << c.audio.filename().string() << " log-mel: max abs difference to the numpy reference = " << diff
              << " (limit 1e-4)\n";
    EXPECT_LE(diff, 1e-4) << c.audio;
  }
}

TEST(LogMel, PaddedTo30sKeepsTheSpeechFramesAndFloorsTheRest) {
  AudioBuffer audio = load_mono(testing::fixtures_dir() / "speech_16k.wav");
  LogMel mel = LogMelExtractor({.n_mels = 80, .pad_to_30s = true}).compute(audio.samples);
  ASSERT_EQ(mel.frames, 3000);
  io::NpyArray ref = io::read_npy(testing::fixtures_dir() / "speech_16k_log_mel_80.npy");
  const int64_t frames = ref.shape.at(1);
  // Zero padding instead of reflection only changes the last two frames of the speech; the
  // global maximum (and so the floor) is the same, so earlier frames are equal.
  double diff = 0;
  for (int m = 0; m < 80; ++m) {
    for (int64_t t = 0; t < frames - 2; ++t) {
      diff = std::max(diff, std::abs(double(mel.at(m, t)) - ref.values[static_cast<size_t>(m * frames + t)]));
    }
  }
  EXPECT_LE(diff, 1e-4);
  float floor = mel.at(0, 2999);
  for (int m = 0; m < 80; ++m) EXPECT_FLOAT_EQ(mel.at(m, 2500), floor) << "mel " << m;
  float max_v = *std::max_element(mel.data.begin(), mel.data.end());
  EXPECT_NEAR(floor, max_v - 2.0f, 1e-5);  // (max - 8 + 4) / 4 = max' - 2 after scaling
}

TEST(LogMel, HandDerivedFrameCountsAndShortInputs) {
  LogMelExtractor extractor;
  for (int64_t n : {0, 1, 159, 160, 161, 250, 399, 400, 16000}) {
    std::vector<float> x(static_cast<size_t>(n), 0.1f);
    LogMel mel = extractor.compute(x);
    EXPECT_EQ(mel.frames, n / 160) << "n = " << n;
    for (float v : mel.data) EXPECT_TRUE(std::isfinite(v));
  }
}

TEST(LogMel, PureToneLandsInTheRightMelBin) {
  // A 1 kHz tone: the loudest mel bin is the one whose filter peaks nearest 1 kHz.
  std::vector<float> x(16000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.5f * std::sin(2 * M_PI * 1000.0 * i / 16000.0);
  LogMel mel = LogMelExtractor().compute(x);
  std::vector<float> filters = mel_filterbank(80);
  int want = 0;
  for (int m = 0; m < 80; ++m) {
    if (filters[m * 201 + 25] > filters[want * 201 + 25]) want = m;  // bin 25 = 1000 Hz
  }
  int got = 0;
  for (int m = 0; m < 80; ++m) {
    if (mel.at(m, 50) > mel.at(got, 50)) got = m;
  }
  EXPECT_EQ(got, want);
}

TEST(LogMel, RejectsNonWhisperMelSizes) { EXPECT_THROW(LogMelExtractor({.n_mels = 40}), ConfigError); }

}  // namespace
}  // namespace attune::audio
