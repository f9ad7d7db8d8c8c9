// Internal to the corpus readers (read_*.cpp): the per-call context that reports problems, the
// source-utterance form every reader fills, and the role mapping that turns utterances into user
// turns (docs/data.md, "Role mapping").
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/diagnostics.h"
#include "data/dialogue.h"

namespace attune::data::detail {

namespace fs = std::filesystem;

// One line of a source conversation, before the role mapping.
struct Utterance {
  std::string speaker;
  std::string text;
  std::string emotion;         // normalised: one of emotion_labels(), or "" (none, dropped or unknown)
  std::string source_emotion;  // the corpus label
  int source_index = 0;        // the corpus's utterance number, which causes refer to
  std::vector<int> causes;     // source_index of the utterances that caused the emotion
  std::vector<std::string> cause_span;
  std::vector<std::string> cause_type;
  std::string strategy;  // ESConv supporter strategy
  std::optional<double> intensity;
};

// Where a problem is: the file, its line (0 for JSON files) and the source id.
struct Where {
  std::string file;
  int64_t line = 0;
  std::string id;
};

class ReadContext {
 public:
  ReadContext(std::string corpus, std::string split, fs::path root, Diagnostics& diag)
      : corpus(std::move(corpus)), split(std::move(split)), root(std::move(root)), diag(diag) {}

  const std::string corpus;
  const std::string split;
  const fs::path root;
  Diagnostics& diag;
  // The corpus stores English split into tokens ("Don ' t", "there ."): check_text() detokenises
  // every line (data/detokenize.h); the reader passes its cause spans through the same function.
  bool tokenised_english = false;

  // The corpus folder: root/<kind>/<corpus>, or root/<corpus> when only that exists.
  fs::path dir(std::string_view kind) const;
  // `dir(kind) / name`; throws InputError naming the path when it is not a regular file.
  fs::path file(std::string_view kind, std::string_view name) const;

  void report(const Where& at, const std::string& what, const std::string& kind) const;
  // Sets u.emotion / u.source_emotion from the corpus label; reports "unknown label" (emotion "")
  // and "dropped label".
  void set_label(Utterance& u, std::string_view label, const Where& at) const;
  // Trims `text` (and detokenises it when tokenised_english); reports and returns false when it is
  // empty or not UTF-8.
  bool check_text(std::string& text, const Where& at, std::string_view what) const;
  // make_dialogue_id, made unique within this read ("duplicate id" reported, "_2" appended).
  std::string unique_id(std::string_view source_id, const Where& at);

 private:
  std::set<std::string> ids_;
};

// Whole file (".gz": inflated), throwing InputError naming the path.
std::string read_text_file(const fs::path& path);

// Calls fn(json, line) for every non-blank line of a JSONL file (".gz" too); lines that are not
// UTF-8 or not JSON objects are reported ("invalid utf-8", "malformed line") and skipped.
void for_each_jsonl(const ReadContext& ctx, const fs::path& path,
                    const std::function<void(const nlohmann::json&, int64_t line)>& fn);
// Parses a whole JSON file; throws InputError naming the path when it is not JSON.
nlohmann::json read_json_file(const fs::path& path);

// A string field, or nullopt when missing or not a string.
std::optional<std::string> str_field(const nlohmann::json& j, const char* key);

// The `index`-th (0-based) {speaker, text} object of a conversation as an Utterance (source_index
// index + 1); reports "malformed utterance" or bad text at `dialogue` and returns nullopt.
std::optional<Utterance> utterance_from_json(const ReadContext& ctx, const nlohmann::json& t, size_t index,
                                             const Where& dialogue);

// The speaker with the most non-neutral (labelled, not "neutral") utterances; ties go to the
// speaker who spoke first.
std::string pick_user(const std::vector<Utterance>& utts);

// Maps utterances onto user turns (docs/data.md, "Role mapping"): consecutive lines of one side are
// joined, the responder's lines before the user's first form meta.opening, the responder lines
// after a user turn its response_text ("Name: text" for each line when `multi_party` and more than
// one other speaker talked). Causes are mapped from source_index to turn ids, out-of-range ones
// reported. Returns nullopt (reported "no user turn") when the user never speaks.
std::optional<Dialogue> assemble(ReadContext& ctx, const Where& at, const std::string& source_id,
                                 const std::vector<Utterance>& utts, const std::string& user, bool multi_party);

}  // namespace attune::data::detail

namespace attune::data::detail {

// One function per corpus family (read_<family>.cpp); ctx.corpus names the corpus.
std::vector<Dialogue> read_reccon(ReadContext& ctx);
std::vector<Dialogue> read_ecf(ReadContext& ctx);
std::vector<Dialogue> read_esconv(ReadContext& ctx);
std::vector<Dialogue> read_meld(ReadContext& ctx);
std::vector<Dialogue> read_empathetic(ReadContext& ctx);
std::vector<Dialogue> read_cped(ReadContext& ctx);
// dailydialog, counselchat, annomi, emocontext, swda, smilechat_zh, epitome
std::vector<Dialogue> read_simple_jsonl(ReadContext& ctx);
// ravdess, emodb
std::vector<Dialogue> read_speech(ReadContext& ctx);
std::vector<Dialogue> read_humdial(ReadContext& ctx);

}  // namespace attune::data::detail

namespace attune::data::detail {

// A multi-party CSV with one utterance per row (MELD, CPED): rows are grouped by `dialogue_col`
// in file order; `keep(dialogue id)` chooses the dialogues of the split.
struct MultiPartyColumns {
  const char* dialogue;
  const char* speaker;
  const char* text;
  const char* emotion;
};
std::vector<Dialogue> read_multiparty_csv(ReadContext& ctx, const fs::path& path, const MultiPartyColumns& cols,
                                          const std::string& id_prefix,
                                          const std::function<bool(const std::string&)>& keep);

}  // namespace attune::data::detail
