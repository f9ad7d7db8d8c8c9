// The thinking's quotes against hand-made cases on the shipped tokenizer: inside a quote a piece must
// extend a span of the user's words in their case (the first letter aside; white space runs and
// typographic apostrophes match one space and '), a quote closes only after two whole words, and the
// row always keeps a way on.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "runtime/quote_copy.h"
#include "support/test_support.h"
#include "text/tokenizer.h"

namespace attune::runtime {
namespace {

const text::Tokenizer& tokenizer() {
  static const text::Tokenizer t =
      text::Tokenizer::load(testing::source_dir() / "models" / "attune-small" / "tokenizer.json");
  return t;
}

QuoteCopy quotes_of(std::initializer_list<const char*> turns) {
  QuoteCopy q(tokenizer());
  for (const char* t : turns) q.add_source(t);
  return q;
}

TEST(QuoteCopy, OutsideAQuoteAnythingGoes) {
  const QuoteCopy q = quotes_of({"I lost my job today."});
  EXPECT_TRUE(q.allows("They sound sad.", " It comes"));
  EXPECT_TRUE(q.allows("They sound sad.", " \""));             // opening a quote
  EXPECT_TRUE(q.allows("They said \"I lost\" and", " then"));  // a closed quote is behind
}

TEST(QuoteCopy, AnOpenQuoteOnlyGrowsAlongTheUsersWords) {
  const QuoteCopy q = quotes_of({"Well, I LOST   my job today.", "It\xE2\x80\x99s been hard"});
  EXPECT_TRUE(q.allows("what they said: \"", "I"));
  EXPECT_TRUE(q.allows("what they said: \"I", " LOST"));
  EXPECT_FALSE(q.allows("what they said: \"I", " lost"));  // the user's case, past the first letter
  EXPECT_FALSE(q.allows("what they said: \"I", " LoST"));
  EXPECT_TRUE(q.allows("what they said: \"", "i"));              // the first letter in either case
  EXPECT_TRUE(q.allows("what they said: \"I LOST", " my job"));  // three spaces in the source match one
  EXPECT_FALSE(q.allows("what they said: \"I LOST", " the"));
  EXPECT_FALSE(q.allows("what they said: \"", "They"));
  EXPECT_TRUE(q.allows("what they said: \"it", "'s been"));                   // the source's typographic apostrophe
  EXPECT_FALSE(q.allows("what they said: \"I lost my job today. It", "'s"));  // spans do not cross turns
  EXPECT_TRUE(q.allows("said \"a\" and \"", "well"));                         // the second quote of a thinking
  EXPECT_FALSE(q.allows("what they said: \"I lost ", " "));                   // no second space: a quote cannot idle
  EXPECT_FALSE(q.allows("what they said: \"I lost", "  my"));
  // A quote stays on one line: a source's space is matched by ' ' alone (greedy thinking had quoted
  // "Id\ng" for the heard words "id g").
  EXPECT_FALSE(q.allows("what they said: \"I LOST", "\nmy"));
  EXPECT_FALSE(q.allows("what they said: \"I LOST", "\tmy"));
}

TEST(QuoteCopy, AQuoteClosesAfterTwoWholeWords) {
  const QuoteCopy q = quotes_of({"I lost my job today."});
  EXPECT_TRUE(q.allows("said \"I lost my job", "\""));
  EXPECT_TRUE(q.allows("said \"I lost my job today.", "\"."));
  EXPECT_FALSE(q.allows("said \"I lost my jo", "\""));  // inside a word
  EXPECT_FALSE(q.allows("said \"", "\""));              // empty
  EXPECT_FALSE(q.allows("said \"I", "\""));             // one word is not a phrase
  EXPECT_FALSE(q.allows("said ", " \"They"));           // opens with words that are not the user's
  EXPECT_TRUE(q.allows("said ", " \"I"));
}

TEST(QuoteCopy, ConstrainKeepsTheAllowedTokensWithTheirScores) {
  const QuoteCopy q = quotes_of({"My dog died last week"});
  const std::string thinking = "It comes from what they said: \"my";
  std::vector<float> row(static_cast<size_t>(tokenizer().vocab_size()), 0.0f);
  const int32_t dog = tokenizer().encode(" dog")[0];
  const int32_t cat = tokenizer().encode(" cat")[0];
  row[static_cast<size_t>(dog)] = 1.0f;
  row[static_cast<size_t>(cat)] = 5.0f;
  q.constrain(row, thinking);
  EXPECT_EQ(row[static_cast<size_t>(dog)], 1.0f);
  EXPECT_TRUE(std::isinf(row[static_cast<size_t>(cat)]));
  size_t allowed = 0;
  for (size_t id = 0; id < row.size(); ++id) {
    if (std::isfinite(row[id])) {
      ++allowed;
      EXPECT_TRUE(q.allows(thinking, tokenizer().token_bytes(static_cast<int32_t>(id)))) << id;
    }
  }
  EXPECT_GE(allowed, 1u);
}

TEST(QuoteCopy, ClearedSourcesConstrainNothing) {
  QuoteCopy q = quotes_of({"I lost my job today."});
  EXPECT_TRUE(q.has_sources());
  EXPECT_FALSE(q.allows("said \"", "They"));
  q.clear_sources();
  EXPECT_FALSE(q.has_sources());
  std::vector<float> row(static_cast<size_t>(tokenizer().vocab_size()), 0.5f);
  q.constrain(row, "said \"They");
  EXPECT_EQ(row, std::vector<float>(row.size(), 0.5f));
}

TEST(QuoteCopy, WithoutSourcesOrOutsideAQuoteTheRowStaysAsItIs) {
  const QuoteCopy none(tokenizer());
  std::vector<float> row(static_cast<size_t>(tokenizer().vocab_size()), 0.5f);
  none.constrain(row, "said \"any");
  EXPECT_EQ(row, std::vector<float>(row.size(), 0.5f));
  const QuoteCopy q = quotes_of({"hello there"});
  q.constrain(row, "They sound calm.");
  for (size_t id = 0; id < row.size(); ++id) {
    if (tokenizer().is_special(static_cast<int32_t>(id))) continue;
    const bool opens_badly = !q.allows("They sound calm.", tokenizer().token_bytes(static_cast<int32_t>(id)));
    EXPECT_EQ(std::isinf(row[id]), opens_badly) << id;
  }
}

// The source prior by hand: with log prior [ln 0.6, ln 0.3, ln 0.1] at weight 2, a token continuing
// the newest turn gains 2 ln 0.6, one continuing the turn before 2 ln 0.3, and one found in both the
// better of the two; closing the quote keeps the bonus of the turn the quote is in.
TEST(QuoteCopy, TheSourcePriorFavoursTheTurnsItLearntToQuote) {
  QuoteCopy q = quotes_of({"My dog died", "The cat is gone", "My car broke down"});
  q.set_source_prior({std::log(0.6f), std::log(0.3f), std::log(0.1f)}, 2.0f);
  auto scored = [&](const std::string& thinking, const std::string& piece) {
    std::vector<float> row(static_cast<size_t>(tokenizer().vocab_size()), 0.0f);
    q.constrain(row, thinking);
    return row[static_cast<size_t>(tokenizer().encode(piece)[0])];
  };
  EXPECT_NEAR(scored("said: \"", "My"), 2 * std::log(0.6f), 1e-5);      // in turns 3 and 1: the newest
  EXPECT_NEAR(scored("said: \"", "The"), 2 * std::log(0.3f), 1e-5);     // turn 2 only
  EXPECT_NEAR(scored("said: \"My", " dog"), 2 * std::log(0.1f), 1e-5);  // two back and older
  EXPECT_NEAR(scored("said: \"My", " car"), 2 * std::log(0.6f), 1e-5);
  EXPECT_NEAR(scored("said: \"My dog died", "\""), 2 * std::log(0.1f), 1e-5);
  EXPECT_TRUE(std::isinf(scored("said: \"My", " cat")));
  // Outside a quote, and at weight 0, the row is left as it is.
  EXPECT_EQ(scored("They sound sad.", " It"), 0.0f);
  q.set_source_prior({std::log(0.6f), std::log(0.3f), std::log(0.1f)}, 0.0f);
  EXPECT_EQ(scored("said: \"", "The"), 0.0f);
}

// The length hazard by hand: at 2 words closing gains ln 0.1 and going on ln 0.9; at 3 or more
// words the last entry (0.5) holds; inside a word, or before 2 words, nothing changes.
TEST(QuoteCopy, TheLengthHazardWeighsClosingAgainstGoingOn) {
  QuoteCopy q = quotes_of({"My old dog died last week"});
  q.set_length_hazard({0.1f, 0.5f}, 1.0f);
  auto scored = [&](const std::string& thinking, const std::string& piece) {
    std::vector<float> row(static_cast<size_t>(tokenizer().vocab_size()), 0.0f);
    q.constrain(row, thinking);
    return row[static_cast<size_t>(tokenizer().encode(piece)[0])];
  };
  EXPECT_EQ(scored("said: \"My", " old"), 0.0f);
  EXPECT_NEAR(scored("said: \"My old", "\""), std::log(0.1f), 1e-5);
  EXPECT_NEAR(scored("said: \"My old", " dog"), std::log(0.9f), 1e-5);
  EXPECT_NEAR(scored("said: \"My old dog died", "\""), std::log(0.5f), 1e-5);
  EXPECT_NEAR(scored("said: \"My old dog died", " last"), std::log(0.5f), 1e-5);
}

}  // namespace
}  // namespace attune::runtime
