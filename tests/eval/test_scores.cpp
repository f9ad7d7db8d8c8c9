// Emotion scores and the cause overlap on hand-counted cases.
#include <gtest/gtest.h>

#include "eval/cause_score.h"
#include "eval/emotion_scores.h"

namespace attune::eval {
namespace {

TEST(EmotionScores, HandCountedConfusion) {
  EmotionScores s;
  // sad: 3 clips, 2 heard sad, 1 heard neutral; neutral: 2 clips, both neutral; anger: 1 clip, no label.
  s.add("sad", "sad");
  s.add("sad", "sad");
  s.add("sad", "neutral");
  s.add("neutral", "neutral");
  s.add("neutral", "neutral");
  s.add("anger", "");
  s.add("bored", "sad");  // not a label: ignored
  EXPECT_EQ(s.count(), 6);
  EXPECT_DOUBLE_EQ(s.accuracy(), 4.0 / 6.0);
  const size_t sad = label_index("sad"), neutral = label_index("neutral"), anger = label_index("anger");
  EXPECT_DOUBLE_EQ(s.recall(sad), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.recall(neutral), 1.0);
  EXPECT_DOUBLE_EQ(s.recall(anger), 0.0);
  // UAR over the three labels present: (2/3 + 1 + 0) / 3.
  EXPECT_DOUBLE_EQ(s.unweighted_average_recall(), (2.0 / 3.0 + 1.0) / 3.0);
  // F1 sad: tp 2, predicted 2, actual 3 -> 4/5; neutral: tp 2, predicted 3, actual 2 -> 4/5; anger 0.
  EXPECT_DOUBLE_EQ(s.f1(sad), 0.8);
  EXPECT_DOUBLE_EQ(s.f1(neutral), 0.8);
  EXPECT_DOUBLE_EQ(s.macro_f1(), 1.6 / 3.0);
  EXPECT_EQ(s.confusion()[anger][7], 1);  // the "none" column
  EXPECT_NE(s.markdown().find("| sad | 0 | 2 |"), std::string::npos) << s.markdown();
}

TEST(CauseScore, QuotesAndWordF1) {
  const std::string thinking = "I think it's about their words at turn 2: “My dog ran away too”. Comfort them.";
  ASSERT_EQ(quoted_spans(thinking).size(), 1u);
  EXPECT_EQ(quoted_spans(thinking)[0], "My dog ran away too");
  EXPECT_EQ(quoted_spans("He said \"it broke\" and \"then\" left").size(), 2u);
  // 4 of 5 quoted words in a 6-word reference: P 4/5, R 4/6 -> F1 = 8/11.
  EXPECT_NEAR(word_f1("My dog ran away too", "my dog ran away last night"), 8.0 / 11.0, 1e-12);
  EXPECT_DOUBLE_EQ(cause_f1(thinking, {"unrelated words", "My dog ran away too!"}), 1.0);
  EXPECT_DOUBLE_EQ(cause_f1("No quote here.", {"anything"}), 0.0);
  // Chinese: every character is a word; punctuation is not.
  EXPECT_NEAR(word_f1("经理说要裁员", "经理说要裁员，名单里有我"), 2.0 * 6 / (6 + 11), 1e-12);
}

}  // namespace
}  // namespace attune::eval
