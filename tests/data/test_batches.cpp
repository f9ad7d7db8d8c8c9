// Batch planning over shard records: every record once per epoch, the token budget kept, a seeded
// order, and an exact resume from a saved state.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "data/batches.h"

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

}  // namespace
}  // namespace attune::data
