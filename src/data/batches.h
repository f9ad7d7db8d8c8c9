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
#include <map>
#include <string>
#include <string_view>
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

// How often each corpus's records are drawn per epoch (a recipe's data.corpus_weights): a record of
// weight 2.5 is planned twice every epoch and a third time in half of them (seeded by the epoch), a
// record of weight 0 never. Corpora not named have weight `rest` ("*" in JSON, default 1).
struct CorpusWeights {
  std::map<std::string, double> weights;
  double rest = 1;

  // {"empatheticdialogues": 4, "dailydialog": 0.3, "*": 1}; throws ConfigError naming `field` for a
  // corpus that no reader has, a weight that is negative or not finite, or a non-object.
  static CorpusWeights from_json(const nlohmann::json& j, std::string_view field);
  bool uniform() const;
  double of(std::string_view corpus) const;
  // One weight per record, from the corpus that starts each dialogue id (corpus_of_dialogue()).
  std::vector<double> per_record(const std::vector<std::string>& dialogue_ids) const;
};

// What each corpus contributes to a view: its records and tokens, and its share of all tokens before
// and after weighting (what an epoch of weighted batches holds, in expectation).
struct CorpusShare {
  int64_t records = 0, tokens = 0;
  double weight = 1, share = 0, weighted_share = 0;
};
std::map<std::string, CorpusShare> corpus_shares(const std::vector<std::string>& dialogue_ids,
                                                 const std::vector<int64_t>& lengths, const CorpusWeights& weights);

class BatchPlanner {
 public:
  // `weights`: one per record (CorpusWeights::per_record), or empty for one draw of each per epoch.
  BatchPlanner(std::vector<int64_t> lengths, BatchOptions options, std::vector<double> weights = {});

  // The next batch; at the end of an epoch the next one starts. Never empty unless every record
  // has length 0 (then ConfigError).
  std::vector<int64_t> next();
  int64_t epoch() const { return epoch_; }
  // Batches in one epoch (the same for every epoch's shuffle only up to packing; this is the count
  // of the current epoch).
  int64_t batches_in_epoch() const { return static_cast<int64_t>(plan_.size()); }

  // {"epoch", "batch", "seed", "records"} (and "weights", a fingerprint, when weighted): enough to
  // resume at the same next batch.
  nlohmann::json state() const;
  // Throws InputError when the state belongs to another seed or record count.
  void restore(const nlohmann::json& state);

 private:
  void plan_epoch();
  uint64_t weights_fingerprint() const;

  std::vector<int64_t> lengths_;
  BatchOptions options_;
  std::vector<double> weights_;
  int64_t epoch_ = 0, batch_ = 0;
  std::vector<std::vector<int64_t>> plan_;
};

}  // namespace attune::data
