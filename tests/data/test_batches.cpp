// Batch planning over shard records: every record once per epoch, the token budget kept, a seeded
// order, and an exact resume from a saved state; corpus weights reach the batches in their
// proportions.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "data/batches.h"
#include "data/readers.h"

namespace attune::data {
namespace {

std::vector<int64_t> lengths(size_t n) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<int64_t>((i * 37) % 500));  // some zeros
  return out;
}

TEST(Batches, EveryRecordOncePerEpochWithinTheBudget) {
  const auto lens = lengths(1000);
  BatchPlanner planner(lens, {.max_tokens = 2000, .seed = 3, .window = 64});
  std::map<int64_t, int> seen;
  const int64_t batches = planner.batches_in_epoch();
  for (int64_t b = 0; b < batches; ++b) {
    auto batch = planner.next();
    ASSERT_FALSE(batch.empty());
    int64_t longest = 0;
    for (int64_t r : batch) {
      ++seen[r];
      longest = std::max(longest, lens[size_t(r)]);
    }
    if (batch.size() > 1) {
      EXPECT_LE(longest * static_cast<int64_t>(batch.size()), 2000);
    }
  }
  EXPECT_EQ(planner.epoch(), 0);
  for (size_t i = 0; i < lens.size(); ++i) EXPECT_EQ(seen[int64_t(i)], lens[i] > 0 ? 1 : 0) << i;
  planner.next();
  EXPECT_EQ(planner.epoch(), 1);
}

TEST(Batches, SeededOrderThatChangesPerEpochAndSeed) {
  const auto lens = lengths(300);
  BatchPlanner a(lens, {.max_tokens = 1500, .seed = 1}), b(lens, {.max_tokens = 1500, .seed = 1}),
      c(lens, {.max_tokens = 1500, .seed = 2});
  std::vector<std::vector<int64_t>> first_epoch;
  for (int64_t i = 0; i < a.batches_in_epoch(); ++i) {
    auto x = a.next();
    EXPECT_EQ(x, b.next());
    first_epoch.push_back(x);
  }
  EXPECT_NE(first_epoch[0], c.next());
  EXPECT_NE(first_epoch[0], a.next()) << "the second epoch has another order";
}

TEST(Batches, ResumesAtTheSameNextBatch) {
  const auto lens = lengths(500);
  BatchOptions options{.max_tokens = 1200, .seed = 9};
  BatchPlanner run(lens, options);
  for (int i = 0; i < 123; ++i) run.next();  // past the first epoch's end
  nlohmann::json saved = run.state();
  std::vector<std::vector<int64_t>> expected;
  for (int i = 0; i < 50; ++i) expected.push_back(run.next());

  BatchPlanner resumed(lens, options);
  resumed.restore(nlohmann::json::parse(saved.dump()));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(resumed.next(), expected[size_t(i)]) << i;

  BatchPlanner other_seed(lens, {.max_tokens = 1200, .seed = 10});
  EXPECT_THROW(other_seed.restore(saved), InputError);
  EXPECT_THROW(resumed.restore(nlohmann::json{{"epoch", 0}}), InputError);
}

TEST(Batches, InOrderForEvaluationAndBadOptions) {
  BatchPlanner planner({10, 10, 10, 0, 10}, {.max_tokens = 20, .shuffle = false});
  EXPECT_EQ(planner.next(), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(planner.next(), (std::vector<int64_t>{2, 4}));
  EXPECT_THROW(BatchPlanner({0, 0}, {}), ConfigError);
  EXPECT_THROW(BatchPlanner({5}, {.max_tokens = 0}), ConfigError);
  // A record longer than the budget is a batch of its own.
  BatchPlanner big({5000, 10}, {.max_tokens = 100, .shuffle = false});
  EXPECT_EQ(big.next(), (std::vector<int64_t>{0}));
}

// Three corpora of 400 records each, weighted 3 : 1 : 0.5 (and one of weight 0): over 20 epochs the
// batches hold each corpus's records in those proportions, and a weighted run resumes exactly.
TEST(CorpusWeightsTest, BatchesDrawCorporaInTheSetProportions) {
  std::vector<std::string> ids;
  std::vector<int64_t> lens;
  for (const char* corpus : {"empatheticdialogues", "dailydialog", "meld", "swda"}) {
    for (int i = 0; i < 400; ++i) {
      ids.push_back(std::string(corpus) + "_" + std::to_string(i));
      lens.push_back(50 + (i * 13) % 150);
    }
  }
  const CorpusWeights w = CorpusWeights::from_json(
      nlohmann::json{{"empatheticdialogues", 3}, {"dailydialog", 1}, {"meld", 0.5}, {"swda", 0}},
      "data.corpus_weights");
  EXPECT_FALSE(w.uniform());
  BatchOptions options{.max_tokens = 2000, .seed = 5};
  BatchPlanner planner(lens, options, w.per_record(ids));
  std::map<std::string, double> drawn;
  for (;;) {
    const std::vector<int64_t> batch = planner.next();
    if (planner.epoch() == 20) break;
    for (int64_t r : batch) drawn[corpus_of_dialogue(ids[size_t(r)])] += 1;
  }
  const double per_epoch = 400.0;                                       // records of one corpus at weight 1
  EXPECT_NEAR(drawn["empatheticdialogues"] / 20, 3 * per_epoch, 1e-9);  // whole weights are exact
  EXPECT_NEAR(drawn["dailydialog"] / 20, per_epoch, 1e-9);
  EXPECT_NEAR(drawn["meld"] / 20, 0.5 * per_epoch, 0.05 * per_epoch);  // a seeded coin per record and epoch
  EXPECT_EQ(drawn.count("swda"), 0u);

  // The shares the trainer and `data stats` report agree with the weights.
  const auto shares = corpus_shares(ids, lens, w);
  EXPECT_NEAR(shares.at("empatheticdialogues").weighted_share, 3 / 4.5, 1e-9);
  EXPECT_NEAR(shares.at("meld").weighted_share, 0.5 / 4.5, 1e-9);
  EXPECT_NEAR(shares.at("swda").share, 0.25, 1e-9);

  // Resume: the same next batches; other weights refuse the state.
  BatchPlanner run(lens, options, w.per_record(ids));
  for (int i = 0; i < 77; ++i) run.next();
  const nlohmann::json saved = run.state();
  std::vector<std::vector<int64_t>> expected;
  for (int i = 0; i < 30; ++i) expected.push_back(run.next());
  BatchPlanner resumed(lens, options, w.per_record(ids));
  resumed.restore(saved);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(resumed.next(), expected[size_t(i)]) << i;
  BatchPlanner unweighted(lens, options);
  EXPECT_THROW(unweighted.restore(saved), InputError);
}

TEST(CorpusWeightsTest, BadWeightsNameTheField) {
  auto message = [](const nlohmann::json& j) {
    try {
      CorpusWeights::from_json(j, "r.json: data.corpus_weights");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({{"nosuchcorpus", 1}}).find("no corpus 'nosuchcorpus'"), std::string::npos);
  EXPECT_NE(message({{"meld", -1}}).find("data.corpus_weights.meld: expected a number >= 0"), std::string::npos);
  EXPECT_NE(message({{"meld", "2"}}).find("data.corpus_weights.meld"), std::string::npos);
  EXPECT_NE(message(nlohmann::json::array()).find("expected an object"), std::string::npos);
  EXPECT_EQ(CorpusWeights::from_json({{"*", 0.5}}, "w").of("swda"), 0.5);
  EXPECT_TRUE(CorpusWeights::from_json(nullptr, "w").uniform());
  EXPECT_EQ(corpus_of_dialogue("smilechat_zh_12"), "smilechat_zh");
  EXPECT_EQ(corpus_of_dialogue("emocontext_ec_train_0"), "emocontext");
  EXPECT_EQ(corpus_of_dialogue("nothing"), "");
  EXPECT_THROW(BatchPlanner({5, 5}, {}, {1.0}), ConfigError);
  EXPECT_THROW(BatchPlanner({5, 5}, {}, {0.0, 0.0}), ConfigError);
}

}  // namespace
}  // namespace attune::data
