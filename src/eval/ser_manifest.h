// The clips a speech-emotion evaluation scores: a manifest CSV a user brings (columns file, emotion,
// speaker at least; file relative to the CSV's folder) or a speech corpus's split from ../shared/data
// (RAVDESS, EmoDB). Rows that cannot be used are skipped with a reason, never fatal.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace attune::eval {

struct SerClip {
  std::filesystem::path file;
  std::string emotion;  // one of the seven HumDial labels
  std::string speaker;
};

struct SerManifest {
  std::string source;  // the CSV path, or "ravdess valid"
  std::vector<SerClip> clips;
  std::vector<std::string> skipped;  // "metadata.csv:12: unknown emotion 'bored'"
};

// Throws InputError when the file is missing or lacks a required column. Emotion names may be the
// seven labels or a corpus spelling attune's label tables know (angry, happiness, fearful, ...).
SerManifest read_ser_manifest(const std::filesystem::path& csv);

// One clip per labelled recording of `corpus` ("ravdess", "emodb") in `split`.
SerManifest corpus_manifest(const std::string& corpus, const std::string& split,
                            const std::filesystem::path& data_root);

}  // namespace attune::eval
