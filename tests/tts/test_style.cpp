// Speech styles, emotion profiles, voices and the mapping onto espeak-ng's controls: no espeak-ng needed.
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

TEST(EmotionStyle, CoversHumDialsSevenLabels) {
  EXPECT_EQ(emotion_labels(),
            (std::vector<std::string>{"happy", "sad", "anger", "fear", "neutral", "surprise", "disgust"}));
  for (const auto& e : emotion_labels()) {
    SpeechStyle s = emotion_style(e, 1.0);
    EXPECT_EQ(s.emotion, e);
    EXPECT_NO_THROW(s.validate()) << e;
  }
}

TEST(EmotionStyle, DirectionsFollowTheVocalEmotionLiterature) {
  SpeechStyle neutral = emotion_style("neutral", 1.0), happy = emotion_style("happy", 1.0),
              sad = emotion_style("sad", 1.0), anger = emotion_style("anger", 1.0), fear = emotion_style("fear", 1.0),
              surprise = emotion_style("surprise", 1.0), disgust = emotion_style("disgust", 1.0);
  EXPECT_EQ(neutral.pitch_semitones, 0);
  EXPECT_EQ(neutral.pitch_range, 1);
  EXPECT_EQ(neutral.rate, 1);
  EXPECT_EQ(neutral.energy_db, 0);
  // Anger, happiness, fear: higher and faster; anger loudest.
  for (const auto* s : {&anger, &happy, &fear}) {
    EXPECT_GT(s->pitch_semitones, 0) << s->emotion;
    EXPECT_GT(s->rate, 1) << s->emotion;
  }
  for (const auto* s : {&happy, &sad, &fear, &surprise, &disgust}) EXPECT_GT(anger.energy_db, s->energy_db);
  // Sadness: low, narrow, slow, soft.
  EXPECT_LT(sad.pitch_semitones, 0);
  EXPECT_LT(sad.pitch_range, 1);
  EXPECT_LT(sad.rate, 1);
  EXPECT_LT(sad.energy_db, 0);
  // Surprise: high with the widest range.
  EXPECT_GT(surprise.pitch_semitones, 0);
  for (const auto* s : {&happy, &sad, &anger, &fear, &disgust}) EXPECT_GT(surprise.pitch_range, s->pitch_range);
  // Disgust: low and slow.
  EXPECT_LT(disgust.pitch_semitones, 0);
  EXPECT_LT(disgust.rate, 1);
}

TEST(EmotionStyle, IntensityScalesLinearlyInSemitonesAndDecibelsGeometricallyInMultipliers) {
  SpeechStyle full = emotion_style("anger", 1.0), half = emotion_style("anger", 0.5), none = emotion_style("anger", 0);
  EXPECT_DOUBLE_EQ(half.pitch_semitones, full.pitch_semitones / 2);
  EXPECT_DOUBLE_EQ(half.energy_db, full.energy_db / 2);
  EXPECT_NEAR(half.pitch_range * half.pitch_range, full.pitch_range, 1e-12);
  EXPECT_NEAR(half.rate * half.rate, full.rate, 1e-12);
  EXPECT_EQ(none.pitch_semitones, 0);
  EXPECT_EQ(none.pitch_range, 1);
  EXPECT_EQ(none.rate, 1);
  EXPECT_EQ(none.energy_db, 0);
  EXPECT_EQ(half.intensity, 0.5);
}

TEST(EmotionStyle, AcceptsCommonFormsAndRejectsUnknownEmotionsByName) {
  EXPECT_EQ(emotion_style("Angry", 0.5).emotion, "anger");
  EXPECT_EQ(emotion_style(" HAPPINESS ", 0.5).emotion, "happy");
  EXPECT_EQ(emotion_style("surprised", 0.5).emotion, "surprise");
  std::string message = config_error_of([] { emotion_style("bored", 0.5); });
  EXPECT_NE(message.find("'bored'"), std::string::npos) << message;
  EXPECT_NE(message.find("disgust"), std::string::npos) << message;
  EXPECT_NE(config_error_of([] { emotion_style("sad", 1.5); }).find("intensity"), std::string::npos);
  EXPECT_NE(config_error_of([] { emotion_style("sad", NAN); }).find("intensity"), std::string::npos);
}

TEST(SpeechStyle, ValidateNamesTheBadField) {
  auto message_for = [](auto mutate) {
    SpeechStyle s;
    mutate(s);
    return config_error_of([&] { s.validate(); });
  };
  EXPECT_NO_THROW(SpeechStyle{}.validate());
  EXPECT_NE(message_for([](SpeechStyle& s) { s.emotion = "meh"; }).find("emotion"), std::string::npos);
  EXPECT_NE(message_for([](SpeechStyle& s) { s.intensity = -0.1; }).find("intensity"), std::string::npos);
  EXPECT_NE(message_for([](SpeechStyle& s) { s.pitch_semitones = 13; }).find("pitch_semitones"), std::string::npos);
  EXPECT_NE(message_for([](SpeechStyle& s) { s.pitch_range = -1; }).find("pitch_range"), std::string::npos);
  EXPECT_NE(message_for([](SpeechStyle& s) { s.rate = 0.1; }).find("rate = 0.1"), std::string::npos);
  EXPECT_NE(message_for([](SpeechStyle& s) { s.energy_db = INFINITY; }).find("energy_db"), std::string::npos);
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

TEST(StyleAttributes, HandDerivedValuesAndTheInverse) {
  SpeechStyle s;
  s.emotion = "sad";
  s.intensity = 0.5;
  s.pitch_semitones = -3;
  s.rate = 0.8;
  s.energy_db = -6;
  s.pitch_range = 0.7;
  const std::vector<std::string> names = {"intensity", "pitch", "pace", "energy", "range"};
  const std::vector<float> v = style_to_attributes(s, names);
  ASSERT_EQ(v.size(), 5u);
  EXPECT_FLOAT_EQ(v[0], 0.5f);
  EXPECT_FLOAT_EQ(v[1], -0.25f);          // -3 st / 12
  EXPECT_FLOAT_EQ(v[2], std::log(0.8f));  // ln(rate)
  EXPECT_FLOAT_EQ(v[3], -0.5f);           // -6 dB / 12
  EXPECT_FLOAT_EQ(v[4], std::log(0.7f));  // ln(range)
  const SpeechStyle back = style_from_attributes("sad", v, names);
  EXPECT_EQ(back.emotion, "sad");
  EXPECT_NEAR(back.intensity, 0.5, 1e-6);
  EXPECT_NEAR(back.pitch_semitones, -3, 1e-5);
  EXPECT_NEAR(back.rate, 0.8, 1e-6);
  EXPECT_NEAR(back.energy_db, -6, 1e-5);
  EXPECT_NEAR(back.pitch_range, 0.7, 1e-6);
}

TEST(StyleAttributes, MissingAttributesComeFromTheProfileAndValuesAreClamped) {
  // Only intensity and an absurd pitch: the rest is emotion_style's, pitch is clamped to +12 st.
  const SpeechStyle s = style_from_attributes("anger", {0.8f, 5.0f}, {"intensity", "pitch"});
  const SpeechStyle profile = emotion_style("anger", 0.8);
  EXPECT_DOUBLE_EQ(s.pitch_semitones, 12.0);
  EXPECT_NEAR(s.rate, profile.rate, 1e-6);  // 0.8f vs 0.8
  EXPECT_NEAR(s.energy_db, profile.energy_db, 1e-5);
  EXPECT_NO_THROW(s.validate());
  EXPECT_THROW(style_to_attributes(s, {"loudness"}), ConfigError);
}

}  // namespace
}  // namespace attune::tts
