// Voices and the mapping onto espeak-ng's controls: no espeak-ng needed.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "attune/error.h"
#include "support/test_support.h"
#include "tts/espeak_talker.h"
#include "tts/talker.h"

namespace attune::tts {
namespace {

template <typename F>
std::string config_error_of(F&& f) {
  return testing::error_message_of<ConfigError>(std::forward<F>(f));
}

TEST(Voices, BuiltInVoicesCoverBothSexesInBothLanguages) {
  std::set<std::pair<std::string, std::string>> seen;
  std::set<std::string> names;
  for (const Voice& v : builtin_voices()) {
    EXPECT_NO_THROW(v.validate()) << v.name;
    seen.insert({v.lang, v.sex});
    EXPECT_TRUE(names.insert(v.name).second) << "duplicate " << v.name;
  }
  EXPECT_EQ(seen.size(), 4u);
  int english_male = 0, english_female = 0;
  for (const Voice& v : builtin_voices()) {
    english_male += v.lang == "en" && v.sex == "male";
    english_female += v.lang == "en" && v.sex == "female";
  }
  EXPECT_GE(english_male, 3);
  EXPECT_GE(english_female, 3);
  EXPECT_EQ(find_voice("en-female-1").engine_voice, "en-us+f2");
  EXPECT_NE(config_error_of([] { find_voice("nobody"); }).find("en-male-1"), std::string::npos);
}

TEST(Voices, RandomVoiceIsDeterministicForASeedAndVariesAcrossSeeds) {
  Voice a = random_voice(42, "en"), b = random_voice(42, "en");
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.engine_voice, b.engine_voice);
  EXPECT_EQ(a.base_pitch, b.base_pitch);
  EXPECT_EQ(a.base_rate_wpm, b.base_rate_wpm);
  std::set<std::string> engine_voices, sexes;
  std::set<double> pitches;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    Voice v = random_voice(seed, "en");
    EXPECT_NO_THROW(v.validate());
    EXPECT_LE(std::abs(v.base_pitch), 2.0);
    EXPECT_NEAR(v.base_rate_wpm, 175, 17.5 + 1e-9);
    engine_voices.insert(v.engine_voice);
    sexes.insert(v.sex);
    pitches.insert(v.base_pitch);
  }
  EXPECT_GE(engine_voices.size(), 6u);
  EXPECT_EQ(sexes.size(), 2u);
  EXPECT_EQ(pitches.size(), 64u);
  for (uint64_t seed = 0; seed < 16; ++seed) {
    EXPECT_EQ(random_voice(seed, "en", "female").sex, "female");
    Voice zh = random_voice(seed, "zh", "male");
    EXPECT_EQ(zh.sex, "male");
    EXPECT_EQ(zh.engine_voice.rfind("cmn", 0), 0u) << zh.engine_voice;
  }
  EXPECT_NE(config_error_of([] { random_voice(1, "fr"); }).find("fr"), std::string::npos);
  EXPECT_NE(config_error_of([] { random_voice(1, "en", "other"); }).find("other"), std::string::npos);
}

TEST(EspeakMapping, PitchCurveIsMonotoneCentredAndInvertible) {
  EXPECT_DOUBLE_EQ(espeak_pitch_for_semitones(0), 50);
  EXPECT_DOUBLE_EQ(semitones_for_espeak_pitch(50), 0);
  double previous = -1;
  for (double st = -6.9; st <= 9.0; st += 0.3) {  // inside the measured -6.95 .. +9.03
    double p = espeak_pitch_for_semitones(st);
    EXPECT_GT(p, previous);
    EXPECT_NEAR(semitones_for_espeak_pitch(p), st, 1e-9);
    previous = p;
  }
  EXPECT_EQ(espeak_pitch_for_semitones(-20), 0);
  EXPECT_EQ(espeak_pitch_for_semitones(20), 99);
}

TEST(EspeakMapping, StyleAndVoiceBecomeEspeakControlsWithinItsLimits) {
  Voice voice = find_voice("en-male-1");
  EspeakControls neutral = espeak_controls(SpeechStyle{}, voice);
  EXPECT_EQ(neutral.voice, "en-us+m3");
  EXPECT_EQ(neutral.pitch, 50);
  EXPECT_EQ(neutral.pitch_range_percent, 100);
  EXPECT_EQ(neutral.words_per_minute, 175);
  EXPECT_EQ(neutral.amplitude, 70);

  SpeechStyle s;
  s.energy_db = 6.0206;  // x2 in amplitude
  s.rate = 1.2;
  s.pitch_range = 1.5;
  s.pitch_semitones = 3.52;  // p = 70 on the measured curve
  EspeakControls c = espeak_controls(s, voice);
  EXPECT_EQ(c.amplitude, 140);
  EXPECT_EQ(c.words_per_minute, 210);
  EXPECT_EQ(c.pitch_range_percent, 150);
  EXPECT_EQ(c.pitch, 70);

  s.energy_db = 12;
  s.rate = 2;
  s.pitch_range = 3;
  s.pitch_semitones = 12;
  voice.base_rate_wpm = 400;
  c = espeak_controls(s, voice);
  EXPECT_EQ(c.amplitude, 200);
  EXPECT_EQ(c.words_per_minute, 450);
  EXPECT_EQ(c.pitch_range_percent, 200);
  EXPECT_EQ(c.pitch, 99);
}

TEST(EspeakMapping, TextNeverBecomesMarkupOrAnArgument) {
  EspeakControls c;
  c.voice = "en-us+f2";
  EXPECT_EQ(espeak_ssml("<break time=\"9s\"/> & 'x'", c),
            "<speak><prosody range=\"100%\">&lt;break time=&quot;9s&quot;/&gt; &amp; &apos;x&apos;</prosody></speak>");
  std::vector<std::string> argv = espeak_argv("espeak-ng", c);
  EXPECT_EQ(argv.front(), "espeak-ng");
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--stdin"), argv.end());
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--stdout"), argv.end());
  EXPECT_NE(std::find(argv.begin(), argv.end(), "-m"), argv.end());
}

TEST(EspeakMapping, VoiceNamesAreCheckedBeforeTheyReachEspeak) {
  Voice v = find_voice("en-male-1");
  v.engine_voice = "en-us; rm -rf /";
  EXPECT_NE(config_error_of([&] { v.validate(); }).find("engine_voice"), std::string::npos);
}

TEST(MakeTalker, KnowsBothEnginesAndNamesTheKnownBackEnds) {
  EXPECT_EQ(make_talker()->name(), "auto");
  EXPECT_EQ(make_talker("espeak")->name(), "espeak");
  EXPECT_EQ(make_talker("flite")->name(), "flite");
  EXPECT_EQ(make_talker("espeak")->sample_rate(), 16000);
  std::string message = config_error_of([] { make_talker("vits"); });
  EXPECT_NE(message.find("'vits'"), std::string::npos);
  EXPECT_NE(message.find("known: auto, espeak, flite"), std::string::npos) << message;
}

}  // namespace
}  // namespace attune::tts
