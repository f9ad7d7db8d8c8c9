// The reply rules against hand-made cases: the end is banned until the minimum length, n-grams do
// not repeat, guidance moves the row as worked by hand, and a reply cut by the budget ends at its
// last full sentence.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "runtime/reply_rules.h"

namespace attune::runtime {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(ReplyRules, MinimumLengthBansTheStopTokensUntilReached) {
  const std::unordered_set<int32_t> stop = {5, 6};
  const ReplyRules rules{.min_tokens = 2};
  std::vector<float> row(7, 1.0f);
  constrain_reply(row, std::vector<int32_t>{3}, rules, stop);  // one token so far
  EXPECT_EQ(row, (std::vector<float>{1, 1, 1, 1, 1, -kInf, -kInf}));
  row.assign(7, 1.0f);
  constrain_reply(row, std::vector<int32_t>{3, 4}, rules, stop);  // two: the reply may end
  EXPECT_EQ(row, (std::vector<float>(7, 1.0f)));
}

TEST(ReplyRules, NgramsAndPenaltyLookAtTheReplyOnly) {
  const ReplyRules rules{.no_repeat_ngram = 2, .repetition_penalty = 2.0};
  std::vector<float> row = {2.0f, 2.0f, 2.0f, -1.0f};
  // The reply "0 1 3 0": "0" was followed by 1, so 1 is banned; 0, 1 and 3 are penalised.
  constrain_reply(row, std::vector<int32_t>{0, 1, 3, 0}, rules, {});
  EXPECT_EQ(row, (std::vector<float>{1.0f, -kInf, 2.0f, -2.0f}));
}

TEST(ReplyRules, GuidanceMovesAwayFromTheUnguidedLine) {
  // Guided p = (1/2, 1/4, 1/4), unguided (1/4, 1/4, 1/2), weight 1: l + (l - u) in log space is
  // ln(1/2) + ln 2 = 0, ln(1/4) + 0 and ln(1/4) - ln 2 (worked by hand). The logits' offsets (+3, -1)
  // must not matter: both rows are normalised first.
  std::vector<float> row = {std::log(0.5f) + 3, std::log(0.25f) + 3, std::log(0.25f) + 3};
  const std::vector<float> unguided = {std::log(0.25f) - 1, std::log(0.25f) - 1, std::log(0.5f) - 1};
  guide_logits(row, unguided, 1.0);
  EXPECT_NEAR(row[0], 0.0, 1e-5);
  EXPECT_NEAR(row[1], std::log(0.25), 1e-5);
  EXPECT_NEAR(row[2], std::log(0.125), 1e-5);
  // Weight 0 leaves the row alone; a banned token stays banned; a token the unguided line rules out
  // gains against ln 1e-9, not without bound.
  std::vector<float> same = {1, 2, 3};
  guide_logits(same, unguided, 0.0);
  EXPECT_EQ(same, (std::vector<float>{1, 2, 3}));
  std::vector<float> banned = {0, -kInf, 0};
  guide_logits(banned, std::vector<float>{-kInf, 0, 0}, 0.5);
  EXPECT_EQ(banned[1], -kInf);
  EXPECT_NEAR(banned[0], 1.5 * std::log(0.5) - 0.5 * std::log(1e-9), 1e-4);
  EXPECT_NEAR(banned[2], 1.5 * std::log(0.5) - 0.5 * std::log(0.5), 1e-5);
}

TEST(ReplyRules, BudgetCutEndsAtTheLastFullSentence) {
  EXPECT_EQ(end_at_sentence("I'm sorry to hear that. Do you want to talk about"), "I'm sorry to hear that.");
  EXPECT_EQ(end_at_sentence("That sounds hard! What happened? I think that"), "That sounds hard! What happened?");
  EXPECT_EQ(end_at_sentence("I'm sorry. I'm sorry. I'm"), "I'm sorry. I'm sorry.");
  EXPECT_EQ(end_at_sentence("It said \"go home.\" And then"), "It said \"go home.\"");
  // Nothing complete to fall back to, or already complete: unchanged.
  EXPECT_EQ(end_at_sentence("I'm not sure what you"), "I'm not sure what you");
  EXPECT_EQ(end_at_sentence("All done. Really."), "All done. Really.");
  EXPECT_EQ(end_at_sentence(""), "");
  EXPECT_EQ(end_at_sentence("\xE6\x88\x91\xE6\x87\x82\xE3\x80\x82\xE4\xBD\xA0"),
            "\xE6\x88\x91\xE6\x87\x82\xE3\x80\x82");  // 我懂。你
}

}  // namespace
}  // namespace attune::runtime
