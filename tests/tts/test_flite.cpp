// The Flite talker, closed loop like the espeak one: synthesise with a style, measure the audio with
// attune's own prosody analysis, and check that it moved the way the emotion profiles say, for each
// of Flite's four voices. Also: the control mapping (hand-derived), bad voices, and a hung or crashing
// server bounded by the timeout. Skipped when attune-flite is not built (needs flite1-dev).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "affect/speech_style.h"
#include "attune/error.h"
#include "audio/prosody.h"
#include "support/test_support.h"
#include "tts/espeak_talker.h"
#include "tts/flite_talker.h"
#include "tts/talker.h"

namespace attune::tts {
namespace {

#define REQUIRE_FLITE() \
  if (!flite_available()) GTEST_SKIP() << "attune-flite not built (install flite1-dev, rebuild); skipping"

constexpr const char* kText = "The weather was fine, and we walked to the station together.";

struct Measured {
  double f0_hz, loudness_db, duration_s;
};

Measured measure(const AudioBuffer& a) {
  const audio::Prosody p = audio::analyse_prosody(a.samples, a.sample_rate);
  return {p.get("f0_p50_hz"), p.get("loudness_db"), a.duration_s()};
}

using testing::error_message_of;

TEST(FliteControls, FollowTheStyleRelativeToTheVoice) {
  Voice v = find_voice("en-flite-rms");
  SpeechStyle s;
  s.pitch_semitones = 12;  // one octave: twice the voice's mean F0
  s.pitch_range = 0.5;
  s.rate = 1.25;
  s.energy_db = 6.0206;  // x2 in amplitude over the neutral 0.5
  FliteControls c = flite_controls(s, v);
  EXPECT_EQ(c.voice, "rms");
  EXPECT_NEAR(c.f0_ratio, 2.0, 1e-9);
  EXPECT_NEAR(c.range_ratio, 0.5, 1e-9);
  EXPECT_NEAR(c.rate_ratio, 1.25, 1e-9);
  EXPECT_NEAR(c.gain, 1.0, 1e-4);
  v.base_pitch = -12;  // the voice's own shift adds to the style's
  v.base_rate_wpm = 87.5;
  c = flite_controls(s, v);
  EXPECT_NEAR(c.f0_ratio, 1.0, 1e-9);
  EXPECT_NEAR(c.rate_ratio, 0.625, 1e-9);
}

TEST(FliteVoices, AreBuiltInWithTheirEngine) {
  for (const std::string name : {"slt", "rms", "awb", "kal16"}) {
    const Voice& v = find_voice("en-flite-" + name);
    EXPECT_EQ(v.engine, "flite");
    EXPECT_EQ(v.engine_voice, name);
    EXPECT_EQ(v.lang, "en");
    EXPECT_EQ(voice_engine(v.name + "~7"), "flite");
  }
  EXPECT_EQ(find_voice("en-flite-slt").sex, "female");
  EXPECT_EQ(voice_engine("en-female-1"), "espeak");
  EXPECT_EQ(voice_engine("nobody"), "");
  // Seeded Flite speakers: English only, both sexes, the same for the same seed.
  EXPECT_EQ(random_voice(5, "en", "female", "flite").engine_voice, "slt");
  EXPECT_EQ(random_voice(9, "en", "male", "flite").to_string(), random_voice(9, "en", "male", "flite").to_string());
  EXPECT_NE(error_message_of([] { random_voice(1, "zh", std::nullopt, "flite"); }).find("no flite voice speaks 'zh'"),
            std::string::npos);
  EXPECT_NE(error_message_of([] { random_voice(1, "en", std::nullopt, "piper"); }).find("piper"), std::string::npos);
  // Without an engine, random_voice keeps to espeak-ng, so earlier data builds stay the same.
  for (uint64_t seed = 0; seed < 50; ++seed) EXPECT_EQ(random_voice(seed, "en").engine, "espeak");
}

TEST(FliteTalker, EachVoiceSpeaks16kAudioSadLowerAndSofterThanAnger) {
  REQUIRE_FLITE();
  FliteTalker talker;
  for (const std::string name : {"en-flite-slt", "en-flite-rms", "en-flite-awb", "en-flite-kal16"}) {
    const Voice& voice = find_voice(name);
    const AudioBuffer sad = talker.synthesize(kText, affect::emotion_style("sad", 0.8), voice);
    const AudioBuffer anger = talker.synthesize(kText, affect::emotion_style("anger", 0.8), voice);
    ASSERT_EQ(sad.sample_rate, 16000);
    ASSERT_GT(sad.duration_s(), 2.0) << name;
    const Measured s = measure(sad), a = measure(anger);
    std::cout << name << ": sad f0 " << s.f0_hz << " Hz " << s.loudness_db << " dB " << s.duration_s << " s; anger f0 "
              << a.f0_hz << " Hz " << a.loudness_db << " dB " << a.duration_s << " s\n";
    // Profiles at 0.8: sad -2.4 st, -4.8 dB, rate x0.84; anger +1.6 st, +4.8 dB, rate x1.09.
    EXPECT_LT(s.f0_hz, a.f0_hz * std::exp2(-2.0 / 12)) << name;
    EXPECT_LT(s.loudness_db, a.loudness_db - 6) << name;
    EXPECT_GT(s.duration_s, a.duration_s * 1.15) << name;
  }
}

TEST(FliteTalker, PitchFollowsSemitonesOnEveryVoiceAndResetRepeats) {
  REQUIRE_FLITE();
  FliteTalker talker;
  SpeechStyle up;
  up.pitch_semitones = 4;
  for (const std::string name : {"en-flite-slt", "en-flite-rms", "en-flite-awb", "en-flite-kal16"}) {
    const Voice& voice = find_voice(name);
    talker.reset();
    const AudioBuffer neutral = talker.synthesize(kText, SpeechStyle{}, voice);
    const AudioBuffer higher = talker.synthesize(kText, up, voice);
    EXPECT_NEAR(12 * std::log2(measure(higher).f0_hz / measure(neutral).f0_hz), 4.0, 1.0) << name;
    // Flite's excitation noise moves on from one utterance to the next; a fresh server starts over.
    talker.reset();
    EXPECT_EQ(talker.synthesize(kText, SpeechStyle{}, voice).samples, neutral.samples) << name;
  }
}

TEST(FliteTalker, BadVoicesAreOneLineConfigErrorsAndEmptyTextIsEmptyAudio) {
  FliteTalker talker;
  Voice v = find_voice("en-flite-slt");
  v.engine_voice = "nobody";
  std::string message = error_message_of([&] { talker.synthesize("Hi.", SpeechStyle{}, v); });
  EXPECT_NE(message.find("flite has no voice 'nobody'; known: slt, rms, awb, kal16"), std::string::npos) << message;
  message = error_message_of([&] { talker.synthesize("Hi.", SpeechStyle{}, find_voice("en-female-1")); });
  EXPECT_NE(message.find("belongs to espeak; this talker speaks flite voices"), std::string::npos) << message;
  message = error_message_of([&] { EspeakTalker().synthesize("Hi.", SpeechStyle{}, find_voice("en-flite-awb")); });
  EXPECT_NE(message.find("belongs to flite; this talker speaks espeak voices"), std::string::npos) << message;
  message = error_message_of([] { find_voice("en-flite-bob"); });
  EXPECT_NE(message.find("en-flite-kal16"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  v.engine = "piper";
  EXPECT_NE(error_message_of([&] { v.validate(); }).find("engine = 'piper'"), std::string::npos);
  REQUIRE_FLITE();
  EXPECT_EQ(talker.synthesize(" ... ", SpeechStyle{}, find_voice("en-flite-slt")).frames(), 0);
  EXPECT_EQ(talker.synthesize("", SpeechStyle{}, find_voice("en-flite-slt")).frames(), 0);
}

// A stand-in server: a shell script that reads the request and then misbehaves.
std::string fake_server(const testing::TempDir& dir, const std::string& name, const std::string& body) {
  const std::string path = (dir / name).string();
  std::ofstream(path) << "#!/bin/sh\nread line\n" << body << "\n";
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

TEST(FliteTalker, AHungOrCrashingServerIsBoundedByTheTimeout) {
  testing::TempDir dir;
  const Voice& voice = find_voice("en-flite-slt");
  for (const auto& [name, body] : std::vector<std::pair<std::string, std::string>>{
           {"hang.sh", "sleep 30"}, {"crash.sh", "kill -SEGV $$"}, {"garble.sh", "echo 'OK lots'"}}) {
    FliteTalker talker({.timeout_s = 0.5, .server = fake_server(dir, name, body)});
    const auto t0 = std::chrono::steady_clock::now();
    const std::string message = error_message_of([&] { talker.synthesize("Hello there.", SpeechStyle{}, voice); });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_NE(message.find("failed twice"), std::string::npos) << name << ": " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_LT(s, 10.0) << name;  // two attempts of 0.5 s each, not the 30 s the script would hang
  }
  FliteTalker missing({.server = (dir / "no-such-server").string()});
  EXPECT_NE(
      error_message_of([&] { missing.synthesize("Hello.", SpeechStyle{}, voice); }).find("attune-flite not found"),
      std::string::npos);
}

TEST(AutoTalker, SpeaksEachVoiceWithItsOwnEngine) {
  REQUIRE_FLITE();
  if (!espeak_available()) GTEST_SKIP() << "espeak-ng not installed; skipping";
  auto talker = make_talker();
  EXPECT_EQ(talker->name(), "auto");
  const AudioBuffer f = talker->synthesize("Hello there.", SpeechStyle{}, find_voice("en-flite-rms"));
  const AudioBuffer e = talker->synthesize("Hello there.", SpeechStyle{}, find_voice("en-male-1"));
  EXPECT_EQ(f.samples, FliteTalker().synthesize("Hello there.", SpeechStyle{}, find_voice("en-flite-rms")).samples);
  EXPECT_EQ(e.samples, EspeakTalker().synthesize("Hello there.", SpeechStyle{}, find_voice("en-male-1")).samples);
  std::vector<size_t> chunks;
  talker->synthesize_stream("One sentence here. And another one.", SpeechStyle{}, find_voice("en-flite-slt"),
                            [&](const AudioBuffer& a, size_t i) {
                              EXPECT_GT(a.duration_s(), 0.5);
                              chunks.push_back(i);
                            });
  EXPECT_EQ(chunks, (std::vector<size_t>{0, 1}));
}

}  // namespace
}  // namespace attune::tts
