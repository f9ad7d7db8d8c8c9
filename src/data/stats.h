// `attune data stats DIR`: what a built data directory holds, for people and for machines.
// Prints a table and writes DIR/stats.json, DIR/stats.md and DIR/label_distribution.svg.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "data/batches.h"

namespace attune::data {

struct CorpusStats {
  int64_t dialogues = 0, user_turns = 0, reply_turns = 0, t1_questions = 0, t2_questions = 0;
  int64_t recorded_turns = 0, synthetic_turns = 0, mismatched_turns = 0, with_cause = 0, with_thinking = 0;
  // Turns with an annotated cause span and a thinking, and those whose thinking quotes the span.
  int64_t with_cause_span = 0, quoting_cause = 0;
  // The thinking's quotes by the user turn they copy: [a] = a turns back from the replied-to turn
  // (the last entry: that many or more); quotes_elsewhere: in no user turn so far (a situation, the
  // other side's words). Their shares are the runtime's quote source prior (io::QuotesConfig).
  static constexpr size_t kQuoteAges = 4;
  std::vector<int64_t> quote_source_ages = std::vector<int64_t>(kQuoteAges, 0);
  int64_t quotes_elsewhere = 0;
  // The same quotes by length: [i] = i + 2 words (the last entry: that many or more; traces clip at 14).
  static constexpr size_t kQuoteLengths = 13;
  std::vector<int64_t> quote_lengths = std::vector<int64_t>(kQuoteLengths, 0);
  double audio_seconds = 0;
  std::map<std::string, int64_t> synthetic_by_engine;  // synthetic turns per talker engine (espeak, flite)
  std::vector<int64_t> emotion_counts;                 // per emotion_labels(), then one for unlabelled turns
  std::vector<int64_t> turns_per_dialogue;
};

// One dialogue picked for people to read and listen to (samples.html).
struct SampleDialogue {
  std::string corpus, json;  // the dialogue as one JSONL line
};

struct DataStats {
  std::map<std::string, CorpusStats> corpora;
  CorpusStats total;
  int64_t records = 0, text_tokens = 0, audio_tokens = 0, target_tokens = 0;
  bool has_shards = false;
  // Per corpus, its share of the text-view tokens of the shards, before and after `weights`.
  std::map<std::string, CorpusShare> shares;
  bool weighted = false;
  std::vector<SampleDialogue> samples;  // the first few voiced dialogues with thinking of each corpus
};

// The quote source prior from counts by age: add-one smoothed shares, summing to 1.
std::vector<double> quote_source_prior(const std::vector<int64_t>& counts);
// The quote length hazard from counts by length: [i] = (n_i + 1) / (n_i + n_longer + 2), the
// add-one smoothed probability that a quote of i + 2 words ends there once it reached them.
std::vector<double> quote_length_hazard(const std::vector<int64_t>& lengths);

// Reads DIR/dialogues.jsonl (and DIR/shards/index.json when present). Audio durations come from the
// files' headers. `weights` (a recipe's data.corpus_weights) are applied to the shards' corpus
// shares. Throws InputError naming the file that is missing or malformed.
DataStats compute_stats(const std::filesystem::path& dir, const CorpusWeights& weights = {});

nlohmann::json stats_to_json(const DataStats& stats);
// A plain-text table for the terminal.
std::string stats_table(const DataStats& stats);
// Markdown report that embeds the plot.
std::string stats_markdown(const DataStats& stats, const std::string& plot_file);
// A page with the sample dialogues: per turn the user's words, emotion and audio (an <audio> player;
// `dir` resolves relative paths), the thinking and the reply. Open it in a browser.
std::string samples_html(const DataStats& stats, const std::filesystem::path& dir);
// A stacked horizontal bar per corpus: the share of each emotion label (SVG text).
std::string label_distribution_svg(const DataStats& stats);

}  // namespace attune::data
