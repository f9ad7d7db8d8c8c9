// HumDial's objective checks on hand-made texts and dialogues (answers worked out by hand), and the
// final-score arithmetic of docs/design.md.
#include <gtest/gtest.h>

#include "eval/humdial_report.h"
#include "eval/humdial_scores.h"

namespace attune::eval {
namespace {

TEST(HumdialScores, NamedEmotionsFollowTheWordsNotTheirParts) {
  EXPECT_EQ(named_emotions("You started out calm, then grew angry and finally sounded scared."),
            (std::set<std::string>{"neutral", "anger", "fear"}));
  EXPECT_EQ(named_emotions("I'm so sorry to hear that."),
            (std::set<std::string>{}));                             // "sorry" is empathy, not a label
  EXPECT_EQ(named_emotions("madness"), (std::set<std::string>{}));  // "mad" inside a word
  EXPECT_EQ(named_emotions("一开始你感到开心，后来你很难过。"), (std::set<std::string>{"happy", "sad"}));
}

TEST(HumdialScores, TurnsAndSets) {
  EXPECT_EQ(mentioned_turns("At turn 3 you felt sad because of what you said at turn 1."), (std::set<int>{1, 3}));
  EXPECT_EQ(mentioned_turns("Turns 2 and 4"), (std::set<int>{2}));
  EXPECT_EQ(mentioned_turns("你在第3轮感到难过"), (std::set<int>{3}));
  EXPECT_EQ(mentioned_turns("return 5"), (std::set<int>{}));  // "turn" inside a word
  const SetScore s = set_score({1, 2}, {2, 3, 4});
  EXPECT_DOUBLE_EQ(s.precision, 0.5);
  EXPECT_DOUBLE_EQ(s.recall, 1.0 / 3);
  EXPECT_DOUBLE_EQ(s.f1, 0.4);  // 2 * 0.5 * (1/3) / (0.5 + 1/3)
  EXPECT_DOUBLE_EQ(set_score({}, {}).f1, 1.0);
  EXPECT_DOUBLE_EQ(set_score({1}, {}).f1, 0.0);
  EXPECT_TRUE(same_emotions({"sad", "neutral"}, {"neutral", "sad"}));
  EXPECT_FALSE(same_emotions({"sad"}, {"neutral", "sad"}));                      // neutral left out
  EXPECT_FALSE(same_emotions({"sad", "anger", "neutral"}, {"neutral", "sad"}));  // an extra one
}

TEST(HumdialScores, DistinctNAndAcknowledgement) {
  // "i am fine" + "i am sad": unigrams i, am, fine, i, am, sad -> 4 distinct of 6;
  // bigrams (i am), (am fine), (i am), (am sad) -> 3 of 4.
  EXPECT_DOUBLE_EQ(distinct_n({"I am fine", "I am sad"}, 1), 4.0 / 6);
  EXPECT_DOUBLE_EQ(distinct_n({"I am fine", "I am sad"}, 2), 3.0 / 4);
  EXPECT_DOUBLE_EQ(distinct_n({""}, 2), 0.0);
  EXPECT_TRUE(acknowledges_emotion("That sounds like a really hard day."));
  EXPECT_TRUE(acknowledges_emotion("You must be so excited!"));
  EXPECT_FALSE(acknowledges_emotion("What time is it?"));
}

TEST(HumdialScores, GradedTurnIsTheSecondNonNeutralUserTurn) {
  data::Dialogue d;
  for (const char* e : {"neutral", "sad", "neutral", "anger", "happy"}) {
    data::Turn t;
    t.turn_id = static_cast<int>(d.turns.size()) + 1;
    t.emotion = e;
    d.turns.push_back(t);
  }
  EXPECT_EQ(graded_turn(d), 3);
  d.turns[3].task = "t1";  // a question turn does not count
  EXPECT_EQ(graded_turn(d), 4);
  d.turns[4].emotion = "neutral";
  EXPECT_EQ(graded_turn(d), -1);
}

TEST(HumdialScores, FinalScoreRenormalisesOverWhatIsPresent) {
  // All five: 0.2*0.5 + 0.2*0.5 + 0.1*1 + 0.25*0 + 0.25*1 = 0.55.
  const auto all =
      final_score({{"T1", 0.5}, {"T2", 0.5}, {"T3_text", 1.0}, {"T3_vocal", 0.0}, {"T3_naturalness", 1.0}});
  EXPECT_NEAR(all["score"].get<double>(), 0.55, 1e-12);
  // T1 and T3 text only: (0.2*0.5 + 0.1*1) / 0.3 = 2/3.
  EXPECT_NEAR(final_score({{"T1", 0.5}, {"T3_text", 1.0}})["score"].get<double>(), 2.0 / 3, 1e-12);
  EXPECT_TRUE(final_score(nlohmann::json::object())["score"].is_null());
  const nlohmann::json judged = {{"judged", 3},
                                 {"mean", {{"accuracy_completeness", 3.0}, {"depth", 5.0}, {"added_value", 1.0}}}};
  EXPECT_NEAR(score_components(judged, "t1")["T1"].get<double>(), 0.6, 1e-12);  // mean 3 of 5
}

}  // namespace
}  // namespace attune::eval
