#include "eval/ser_manifest.h"

#include <fmt/format.h>

#include <algorithm>

#include "attune/error.h"
#include "data/csv.h"
#include "data/diagnostics.h"
#include "data/dialogue.h"
#include "data/labels.h"
#include "data/readers.h"

namespace fs = std::filesystem;

namespace attune::eval {
namespace {

// The seven labels as they are, else the first corpus table that knows the spelling.
std::string manifest_label(std::string raw) {
  std::transform(raw.begin(), raw.end(), raw.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (data::emotion_index(raw) >= 0) return raw;
  for (const char* corpus : {"ravdess", "emodb", "meld", "reccon", "ecf", "empatheticdialogues", "emocontext"}) {
    const auto label = data::normalise_emotion(corpus, raw);
    if (label && !label->empty()) return *label;
  }
  return "";
}

}  // namespace

SerManifest read_ser_manifest(const fs::path& csv) {
  const data::CsvTable table = data::read_csv(csv);
  for (const char* name : {"file", "emotion", "speaker"}) {
    if (table.column(name) < 0)
      throw InputError(csv.string(), fmt::format("no column '{}' (a manifest needs file, emotion, speaker)", name));
  }
  const int c_file = table.column("file"), c_emotion = table.column("emotion"), c_speaker = table.column("speaker");
  const fs::path dir = csv.parent_path();
  SerManifest m;
  m.source = csv.string();
  for (const data::CsvRecord& r : table.rows) {
    const std::string at = fmt::format("{}:{}", csv.string(), r.line);
    if (!r.error.empty() || r.fields.size() != table.header.size()) {
      m.skipped.push_back(fmt::format("{}: {}", at, r.error.empty() ? "wrong number of fields" : r.error));
      continue;
    }
    const fs::path file =
        fs::path(r.fields[c_file]).is_absolute() ? fs::path(r.fields[c_file]) : dir / r.fields[c_file];
    const std::string label = manifest_label(r.fields[c_emotion]);
    if (label.empty()) {
      m.skipped.push_back(fmt::format("{}: emotion '{}' is not one of the seven labels (nor a known spelling)", at,
                                      r.fields[c_emotion]));
    } else if (!fs::is_regular_file(file)) {
      m.skipped.push_back(fmt::format("{}: audio file {} is missing", at, file.string()));
    } else {
      m.clips.push_back({file, label, r.fields[c_speaker]});
    }
  }
  return m;
}

SerManifest corpus_manifest(const std::string& corpus, const std::string& split, const fs::path& data_root) {
  data::Diagnostics diag;
  const std::vector<data::Dialogue> dialogues = data::read_corpus(corpus, split, data_root, diag);
  SerManifest m;
  m.source = corpus + " " + split;
  for (const data::Dialogue& d : dialogues) {
    for (const data::Turn& t : d.turns) {
      if (t.split_audio_file.empty() || t.emotion.empty()) {
        m.skipped.push_back(fmt::format("{}: no audio or no label", d.dialogue_id));
        continue;
      }
      m.clips.push_back({t.split_audio_file, t.emotion, t.voice ? t.voice->speaker : ""});
    }
  }
  if (m.clips.empty()) throw InputError(data_root.string(), fmt::format("no {} clips in split '{}'", corpus, split));
  return m;
}

}  // namespace attune::eval
