// `attune data stats` counts where the traces' quotes come from, by hand-made dialogues: each quote
// is counted at the newest user turn holding it (case and white space aside), quotes of no user turn
// apart, and the prior is the add-one smoothed share of each age.
#include <gtest/gtest.h>

#include "data/dialogue.h"
#include "data/stats.h"
#include "support/test_support.h"

namespace attune::data {
namespace {

Turn turn(int id, const std::string& text, const std::string& thinking = "") {
  Turn t;
  t.turn_id = id;
  t.text = text;
  t.emotion = "sad";
  t.response_text = "I see.";
  t.thinking = thinking;
  return t;
}

TEST(DataStats, CountsEachQuoteAtTheNewestUserTurnHoldingIt) {
  Dialogue d;
  d.dialogue_id = "reccon_tr_1";
  d.lang = "en";
  d.meta.corpus = "reccon";
  d.meta.split = "train";
  d.turns = {turn(1, "My dog died last week."), turn(2, "I miss   him so much.", "Sad. It comes from \"I miss him\"."),
             turn(3, "The house is quiet.",
                  "They said \"my dog died\" and \"The house is quiet\"; before: \"a walk in the park\"."),
             turn(4, "I keep thinking of him.", "Here \"house is quiet\", \"I miss him so much\" and \"word\"."),
             turn(5, "Sorry, I am rambling.", "It goes back to \"My dog died last week.\"")};
  testing::TempDir dir;
  write_dialogues((dir / "dialogues.jsonl").string(), {d});
  const DataStats s = compute_stats(dir.path());
  // Turn 2 quotes itself; turn 3 two back, itself, and a phrase no user said; turn 4 one and two
  // back ("word" is one word, not a quote); turn 5 four back, counted with the oldest.
  EXPECT_EQ(s.total.quote_source_ages, (std::vector<int64_t>{2, 1, 2, 1}));
  EXPECT_EQ(s.total.quotes_elsewhere, 1);
  const std::vector<double> prior = quote_source_prior(s.total.quote_source_ages);
  ASSERT_EQ(prior.size(), 4u);
  EXPECT_DOUBLE_EQ(prior[0], 3.0 / 10);
  EXPECT_DOUBLE_EQ(prior[1], 2.0 / 10);
  EXPECT_DOUBLE_EQ(prior[3], 2.0 / 10);
  // Lengths 3, 3, 4, 3, 5, 5 words: from 2 words, [0, 3, 1, 2, 0, ...].
  EXPECT_EQ(s.total.quote_lengths, (std::vector<int64_t>{0, 3, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  const std::vector<double> hazard = quote_length_hazard(s.total.quote_lengths);
  EXPECT_DOUBLE_EQ(hazard[0], 1.0 / 8);  // none of six ended at 2 words (add-one: 1 / 8)
  EXPECT_DOUBLE_EQ(hazard[1], 4.0 / 8);  // three of the six at 3
  EXPECT_DOUBLE_EQ(hazard[2], 2.0 / 5);  // one of the three left at 4
  EXPECT_DOUBLE_EQ(hazard[3], 3.0 / 4);  // both left at 5
  EXPECT_DOUBLE_EQ(hazard[4], 1.0 / 2);  // none left: no evidence either way
  EXPECT_NE(stats_table(s).find("thinking quotes by the user turn they copy (6 quotes"), std::string::npos);
}

}  // namespace
}  // namespace attune::data
