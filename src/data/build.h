// `attune data build`: corpora -> one schema -> voices -> IEAT thinking -> training shards.
//
// Output directory:
//   dialogues.jsonl     the normalised dialogues with thinking, styles and T1/T2 questions
//   audio/*.flac        the synthetic user turns (recorded corpora are referenced in place)
//   shards/             training records (shards.h) when a tokenizer is given
//   build.json          what was built: counts, times, options and every problem by kind
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "data/diagnostics.h"
#include "data/ieat.h"
#include "data/shards.h"
#include "data/voicing.h"

namespace attune::data {

struct BuildOptions {
  std::vector<std::string> corpora;    // reader names (readers.h); "humdial" needs humdial_path
  std::string split = "train";         // "train" or "valid"
  std::filesystem::path data_root;     // ../shared/data
  std::filesystem::path humdial_path;  // a HumDial JSONL file for corpus "humdial"
  std::filesystem::path out;
  // Instead of reading corpora: the dialogues.jsonl of an earlier build, whose voices (audio and
  // measures) are kept and whose thinking is rebuilt, e.g. for the ablation variants.
  std::filesystem::path reuse_voices;
  bool voices = false;     // synthesise the user turns that have no recording (corpora with emotions)
  bool voice_all = false;  // with voices: also the text-teacher corpora (no emotion labels)
  VoicingOptions voicing;
  IeatOptions ieat;
  std::optional<std::filesystem::path> tokenizer;  // tokenizer.json or a model directory; none: no shards
  ShardOptions shards;
  // Train builds leave out dialogues whose lines are in any corpus's validation split (held_out.h).
  bool exclude_held_out = true;
  int64_t limit = 0;  // at most this many dialogues per corpus (0: all), for quick builds
  int threads = 0;    // 0: all cores
  bool progress = true;
};

struct BuildResult {
  int64_t dialogues = 0, turns = 0, voiced_turns = 0, records = 0;
  double seconds = 0;
  std::filesystem::path report;  // build.json
};

// Runs the whole build. Problems in the data are reported to `diag` and in build.json, and the
// build goes on; bad options and unusable inputs (a missing corpus file, a bad tokenizer) throw.
BuildResult build_dataset(const BuildOptions& options, Diagnostics& diag);

// Step 4 alone: renders `dialogues` (audio resolved against `out`) into out/shards with `chat`, and
// returns the index. `info` goes into the index. Used by build_dataset and `attune data shards`.
nlohmann::json write_shards(const std::vector<Dialogue>& dialogues, const std::filesystem::path& out,
                            const std::filesystem::path& tokenizer_path, const text::ChatTemplate& chat,
                            const ShardOptions& options, nlohmann::json info, int threads, bool progress,
                            Diagnostics& diag);

}  // namespace attune::data
