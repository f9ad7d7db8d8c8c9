// The corpus readers (data/readers.h) on crafted corpus files: the first byte picks a reader, the
// rest is written where that reader looks for its file. Problems become diagnostics or
// attune::Error; the dialogues read must be well formed.
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "data/dialogue.h"
#include "data/readers.h"
#include "fuzz_util.h"

namespace {

struct Target {
  const char* corpus;
  const char* split;
  const char* file;  // under <scratch>/<corpus>/ ("" for humdial, which reads the file directly)
};

// One per reader (the file names are those the readers expect, as in tests/fixtures/data).
constexpr Target kTargets[] = {
    {"reccon", "train", "dailydialog_train.json"},
    {"ecf", "train", "Subtask_1_train.json"},
    {"esconv", "train", "train_with_scores.jsonl"},
    {"meld", "train", "train_sent_emo.csv"},
    {"empatheticdialogues", "valid", "valid.jsonl"},
    {"cped", "valid", "valid_split.csv"},
    {"dailydialog", "train", "train.jsonl"},
    {"counselchat", "train", "counselchat.jsonl"},
    {"annomi", "train", "annomi.jsonl"},
    {"emocontext", "train", "emocontext.jsonl"},
    {"swda", "train", "swda.jsonl"},
    {"smilechat_zh", "train", "smilechat.12k.jsonl.gz"},
    {"epitome", "train", "epitome_reddit.jsonl"},
    {"ravdess", "train", "metadata.csv"},
    {"emodb", "train", "metadata.csv"},
    {"humdial", "train", ""},
};
constexpr size_t kTargetCount = sizeof(kTargets) / sizeof(kTargets[0]);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Target& t = kTargets[data[0] % kTargetCount];
  const auto root = attune::fuzz::scratch_dir() / "corpora";
  const auto file = *t.file ? root / t.corpus / t.file : root / "humdial.jsonl";
  attune::fuzz::write_bytes(file, attune::fuzz::as_text(data + 1, size - 1));
  attune::data::Diagnostics diag;
  try {
    const auto dialogues = attune::data::read_corpus(t.corpus, t.split, *t.file ? root : file, diag);
    // What a reader returns goes into the JSONL shards: it must serialise (valid UTF-8) and read back.
    for (const auto& d : dialogues) {
      const std::string line = attune::data::to_json(d).dump();
      if (attune::data::dialogue_from_json(nlohmann::json::parse(line)).dialogue_id != d.dialogue_id) std::abort();
    }
    (void)diag.summary_lines();
  } catch (const attune::Error&) {
  }
  std::filesystem::remove(file);
  return 0;
}
