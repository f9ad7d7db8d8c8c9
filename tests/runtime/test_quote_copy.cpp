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

}  // namespace
}  // namespace attune::runtime
