// The heard emotion and trajectory read back from thinking traces written as docs/ieat.md shows.
#include "affect/trace.h"

#include <gtest/gtest.h>

namespace attune::affect {
namespace {

TEST(ThinkingReader, EnglishOpeningWithIntensity) {
  const std::string t =
      "I hear someone fairly surprised (0.6). What the voice adds: much higher pitch. So far: calm -> surprised; it "
      "shifted to surprised at turn 2. Nothing so far tells me why.\nstyle: surprise 0.28";
  const ThinkingEmotion e = read_heard_emotion(t);
  EXPECT_EQ(e.label, "surprise");
  EXPECT_DOUBLE_EQ(e.intensity, 0.6);
  EXPECT_EQ(e.word, "surprised");
  EXPECT_EQ(t.substr(e.word_offset, e.word.size()), "surprised");
  EXPECT_EQ(read_trajectory_sentence(t), "So far: calm -> surprised; it shifted to surprised at turn 2.");
}

TEST(ThinkingReader, TheLastEmotionWordBeforeTheIntensityWins) {
  // "calm" appears in "Against a calm voice" only after the intensity, so "sad" is the heard one.
  const ThinkingEmotion e =
      read_heard_emotion("The main feeling here: very sad (0.7). Against a calm voice, theirs is lower.");
  EXPECT_EQ(e.label, "sad");
  EXPECT_DOUBLE_EQ(e.intensity, 0.7);
}

TEST(ThinkingReader, NeutralIsCalm) {
  const ThinkingEmotion e = read_heard_emotion("They sound calm right now (0.2). Nothing stands out.");
  EXPECT_EQ(e.label, "neutral");
  EXPECT_DOUBLE_EQ(e.intensity, 0.2);
}

TEST(ThinkingReader, WordsInsideOtherWordsDoNotCount) {
  // "sadness" and "calmly" are not the adjectives; "angry" is.
  const ThinkingEmotion e = read_heard_emotion("No sadness, said calmly? No: quite angry (0.5).");
  EXPECT_EQ(e.label, "anger");
}

TEST(ThinkingReader, NoIntensityUsesTheFirstSentenceAndTheDefault) {
  const ThinkingEmotion e = read_heard_emotion("They seem afraid. Later they were happy (0.9).");
  // The intensity belongs to "happy", which comes after "afraid": the last word before it is happy.
  EXPECT_EQ(e.label, "happy");
  const ThinkingEmotion f = read_heard_emotion("They seem afraid of something. More later");
  EXPECT_EQ(f.label, "fear");
  EXPECT_DOUBLE_EQ(f.intensity, 0.6);  // docs/ieat.md: 0.6 for a non-neutral label without one
}

TEST(ThinkingReader, UnclearFeelingGivesNoLabel) {
  const ThinkingEmotion e = read_heard_emotion("How they feel is unclear. I should check in.");
  EXPECT_EQ(e.label, "");
  EXPECT_EQ(e.word_offset, std::string::npos);
  EXPECT_EQ(read_trajectory_sentence("No arrows here."), "");
}

TEST(ThinkingReader, ChineseTrace) {
  const std::string t =
      "从这一轮来看，对方挺害怕（0.6）。语音里的线索：音调更高。对方的情绪经历了开心 → 害怕；从第2轮起是害怕。";
  const ThinkingEmotion e = read_heard_emotion(t);
  EXPECT_EQ(e.label, "fear");
  EXPECT_DOUBLE_EQ(e.intensity, 0.6);
  EXPECT_EQ(e.word, "害怕");
  EXPECT_EQ(read_trajectory_sentence(t), "对方的情绪经历了开心 → 害怕；从第2轮起是害怕。");
}

TEST(ThinkingReader, EveryLabelHasEnglishAndChineseWords) {
  for (const char* label : {"happy", "sad", "anger", "fear", "neutral", "surprise", "disgust"}) {
    EXPECT_EQ(trace_emotion_words(label).size(), 2u) << label;
  }
  EXPECT_TRUE(trace_emotion_words("bored").empty());
}

}  // namespace
}  // namespace attune::affect
