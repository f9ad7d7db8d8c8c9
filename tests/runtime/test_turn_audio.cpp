// Unusual user audio is made usable and named in a warning; unusable audio is an InputError.
#include "runtime/turn_audio.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "attune/error.h"

namespace attune::runtime {
namespace {

// A voiced, speech-like signal: a 150 Hz harmonic tone with a slow loudness contour.
AudioBuffer voiced(double seconds, int rate = 16000, float amplitude = 0.3f) {
  AudioBuffer a;
  a.sample_rate = rate;
  const auto n = static_cast<size_t>(seconds * rate);
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / rate;
    const double x =
        std::sin(2 * M_PI * 150 * t) + 0.5 * std::sin(2 * M_PI * 300 * t) + 0.25 * std::sin(2 * M_PI * 450 * t);
    a.samples.push_back(static_cast<float>(amplitude * x / 1.75 * (0.6 + 0.4 * std::sin(2 * M_PI * 2 * t))));
  }
  return a;
}

bool has_warning(const TurnAudio& t, const std::string& words) {
  for (const auto& w : t.warnings) {
    if (w.find(words) != std::string::npos) return true;
  }
  return false;
}

TEST(TurnAudio, OrdinarySpeechHasNoWarnings) {
  const TurnAudio t = prepare_turn_audio(voiced(2.0), "turn 1");
  EXPECT_TRUE(t.warnings.empty()) << t.warnings.front();
  EXPECT_EQ(t.samples.size(), 32000u);
  EXPECT_DOUBLE_EQ(t.duration_s, 2.0);
}

TEST(TurnAudio, StereoAt44kIsMixedAndResampled) {
  const AudioBuffer mono = voiced(1.0, 44100);
  AudioBuffer stereo;
  stereo.sample_rate = 44100;
  stereo.channels = 2;
  for (float x : mono.samples) {
    stereo.samples.push_back(x);
    stereo.samples.push_back(x);
  }
  const TurnAudio t = prepare_turn_audio(stereo, "turn 1");
  EXPECT_NEAR(static_cast<double>(t.samples.size()), 16000.0, 2.0);
  EXPECT_TRUE(t.warnings.empty());
}

TEST(TurnAudio, SilenceIsNamed) {
  AudioBuffer a;
  a.sample_rate = 16000;
  a.samples.assign(16000, 0.0f);
  const TurnAudio t = prepare_turn_audio(a, "turn 1");
  EXPECT_TRUE(has_warning(t, "silent")) << (t.warnings.empty() ? "" : t.warnings.front());
}

TEST(TurnAudio, VeryShortIsPaddedAndNamed) {
  AudioBuffer a = voiced(0.02);
  const TurnAudio t = prepare_turn_audio(a, "turn 1");
  EXPECT_TRUE(has_warning(t, "very short"));
  EXPECT_EQ(t.samples.size(), 1600u);  // padded to 0.1 s, enough for one audio token
}

TEST(TurnAudio, VeryLongKeepsTheLast30Seconds) {
  AudioBuffer a = voiced(31.0, 8000);
  a.samples.back() = 0.123f;
  const TurnAudio t = prepare_turn_audio(a, "turn 1");
  EXPECT_TRUE(has_warning(t, "only its last 30 s"));
  EXPECT_NEAR(static_cast<double>(t.samples.size()), 30.0 * 16000, 2.0);
}

TEST(TurnAudio, ClippingIsNamed) {
  AudioBuffer a = voiced(1.0, 16000, 3.0f);
  for (float& x : a.samples) x = std::clamp(x, -1.0f, 1.0f);
  const TurnAudio t = prepare_turn_audio(a, "turn 1");
  EXPECT_TRUE(has_warning(t, "clipped"));
}

TEST(TurnAudio, NoiseIsNotSpeech) {
  AudioBuffer a;
  a.sample_rate = 16000;
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  for (int i = 0; i < 32000; ++i) a.samples.push_back(noise(rng));
  const TurnAudio t = prepare_turn_audio(a, "turn 1");
  EXPECT_TRUE(has_warning(t, "little voiced speech")) << (t.warnings.empty() ? "none" : t.warnings.front());
}

TEST(TurnAudio, UnusableAudioIsAnInputErrorNamingTheTurn) {
  AudioBuffer empty;
  empty.sample_rate = 16000;
  EXPECT_THROW(prepare_turn_audio(empty, "turn 3"), InputError);
  AudioBuffer nan = voiced(0.5);
  nan.samples[100] = std::nanf("");
  try {
    prepare_turn_audio(nan, "turn 3");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("turn 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("non-finite"), std::string::npos) << e.what();
  }
  AudioBuffer no_rate = voiced(0.5);
  no_rate.sample_rate = 0;
  EXPECT_THROW(prepare_turn_audio(no_rate, "turn 1"), InputError);
}

}  // namespace
}  // namespace attune::runtime
