// Emotion labels, the prosody profiles and the speech-style head's attributes (affect/speech_style.h).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "affect/emotions.h"
#include "affect/speech_style.h"
#include "attune/error.h"
#include "support/test_support.h"

namespace attune::affect {
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
}  // namespace attune::affect
