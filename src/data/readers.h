// Corpus readers: every corpus in ../shared/data (DATA README) mapped onto the one dialogue schema
// (dialogue.h) with emotions normalised onto HumDial's seven (labels.h). docs/data.md documents the
// corpora, the label tables and the role mapping (who is the user, whose lines become
// response_text) of each reader.
//
//   Diagnostics diag;
//   auto train = read_corpus("reccon", "train", shared / "data", diag);   // 834 dialogues
//   for (auto& line : diag.summary_lines()) spdlog::warn("{}", line);
//
// Problems in the data (malformed lines, empty utterances, unknown labels, causes out of range)
// are reported to `diag` with file and line and the rest is still read; a missing corpus file is
// fatal for that corpus (InputError naming the path).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "data/diagnostics.h"
#include "data/dialogue.h"

namespace attune::data {

struct CorpusInfo {
  std::string name;         // reader name: "reccon", "meld", ...
  std::string lang;         // "en", "zh" or "de"
  std::string description;  // one line
  bool emotions = false;    // user turns carry emotion labels
  bool causes = false;      // user turns carry cause annotations
  bool audio = false;       // user turns carry recorded audio
};

// Every reader, in the order of docs/data.md: the text corpora, the speech corpora, "humdial".
const std::vector<CorpusInfo>& corpora();

// Reads `split` ("train" or "valid") of corpus `name`. `data_root` is the shared data folder (the
// one holding text/ and speech/; a folder holding <name>/ directly works too, as the test fixtures
// do). For "humdial" it is a JSONL file, or a folder holding <split>.jsonl.
// Throws ConfigError for an unknown corpus or split, InputError for a missing corpus file.
std::vector<Dialogue> read_corpus(std::string_view name, std::string_view split, const std::filesystem::path& data_root,
                                  Diagnostics& diag);

// The split a corpus that ships one file only puts `source_id` in: "valid" for 10% of ids chosen
// by FNV-1a (stable across machines and runs), else "train".
std::string hash_split(std::string_view source_id);

// "<corpus>_<source id>" with every character outside [A-Za-z0-9_-] replaced by '_'; the corpus
// prefix is not doubled when the source id already starts with it ("swda_2005").
std::string make_dialogue_id(std::string_view corpus, std::string_view source_id);

// The corpus a dialogue id of make_dialogue_id() belongs to (the longest reader name it starts
// with, followed by '_'), or "" when none.
std::string corpus_of_dialogue(std::string_view dialogue_id);

}  // namespace attune::data
