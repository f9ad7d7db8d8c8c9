// Batches of shard records under a token budget, in a seeded order that a training run can save and
// restore exactly (the training issue's data-loader state).
//
//   BatchPlanner planner(shards.lengths("audio"), {.max_tokens = 8192, .seed = 7});
//   std::vector<int64_t> batch = planner.next();   // record indices
//   nlohmann::json state = planner.state();        // into the checkpoint; restore() resumes there
//
// Each epoch shuffles the records with the seed and the epoch number, then sorts windows of
// `window` records by length so that a batch pads little, and packs them greedily: a batch holds
// as many records as fit when each is padded to the longest (count x longest <= max_tokens).
// Batches within a window are shuffled too. Records of length 0 (no such view) are skipped; a
// record longer than max_tokens is a batch of its own.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace attune::data {

struct BatchOptions {
  int64_t max_tokens = 8192;  // per batch, counting padding
  uint64_t seed = 0;
  bool shuffle = true;   // false: records in order (evaluation)
  int64_t window = 512;  // records sorted by length together

  // Throws ConfigError naming the bad field.
  void validate() const;
};

class BatchPlanner {
 public:
  BatchPlanner(std::vector<int64_t> lengths, BatchOptions options);

  // The next batch; at the end of an epoch the next one starts. Never empty unless every record
  // has length 0 (then ConfigError).
  std::vector<int64_t> next();
  int64_t epoch() const { return epoch_; }
  // Batches in one epoch (the same for every epoch's shuffle only up to packing; this is the count
  // of the current epoch).
  int64_t batches_in_epoch() const { return static_cast<int64_t>(plan_.size()); }

  // {"epoch", "batch", "seed", "records"}: enough to resume at the same next batch.
  nlohmann::json state() const;
  // Throws InputError when the state belongs to another seed or record count.
  void restore(const nlohmann::json& state);

 private:
  void plan_epoch();

  std::vector<int64_t> lengths_;
  BatchOptions options_;
  int64_t epoch_ = 0, batch_ = 0;
  std::vector<std::vector<int64_t>> plan_;
};

}  // namespace attune::data
