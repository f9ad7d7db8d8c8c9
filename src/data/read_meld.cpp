// MELD ({train,dev}_sent_emo.csv): one utterance per row with Speaker, Emotion, Dialogue_ID. Dev is
// our valid split. Multi-party: the user is the speaker with the most non-neutral utterances.
#include <map>

#include "attune/error.h"
#include "data/csv.h"
#include "data/reader_util.h"

namespace attune::data::detail {

std::vector<Dialogue> read_multiparty_csv(ReadContext& ctx, const fs::path& path, const MultiPartyColumns& cols,
                                          const std::string& id_prefix,
                                          const std::function<bool(const std::string&)>& keep) {
  const std::string file = path.string();
  const CsvTable table = read_csv(path);
  const int c_dialogue = table.column(cols.dialogue), c_speaker = table.column(cols.speaker),
            c_text = table.column(cols.text), c_emotion = table.column(cols.emotion);
  for (const char* name : {cols.dialogue, cols.speaker, cols.text, cols.emotion}) {
    if (table.column(name) < 0) throw InputError(file, std::string("no column '") + name + "' in the header");
  }

  struct Group {
    int64_t line = 0;
    std::vector<Utterance> utts;
  };
  std::vector<std::string> order;
  std::map<std::string, Group> groups;
  for (const CsvRecord& rec : table.rows) {
    if (!rec.error.empty() || rec.fields.size() != table.header.size()) {
      ctx.report({file, rec.line, ""},
                 !rec.error.empty() ? rec.error + " (row skipped)"
                                    : std::to_string(rec.fields.size()) + " fields, expected " +
                                          std::to_string(table.header.size()) + " (row skipped)",
                 "malformed line");
      continue;
    }
    const std::string& dialogue = rec.fields[c_dialogue];
    if (!keep(dialogue)) continue;
    const Where at{file, rec.line, id_prefix + dialogue};
    Utterance u;
    u.speaker = rec.fields[c_speaker];
    u.text = rec.fields[c_text];
    if (!ctx.check_text(u.text, at, "utterance")) continue;
    ctx.set_label(u, rec.fields[c_emotion], at);
    auto [it, inserted] = groups.try_emplace(dialogue);
    if (inserted) {
      order.push_back(dialogue);
      it->second.line = rec.line;
    }
    u.source_index = static_cast<int>(it->second.utts.size()) + 1;
    it->second.utts.push_back(std::move(u));
  }

  std::vector<Dialogue> out;
  for (const std::string& dialogue : order) {
    const Group& g = groups[dialogue];
    const std::string id = id_prefix + dialogue;
    if (auto d = assemble(ctx, {file, g.line, id}, id, g.utts, pick_user(g.utts), /*multi_party=*/true)) {
      out.push_back(std::move(*d));
    }
  }
  return out;
}

std::vector<Dialogue> read_meld(ReadContext& ctx) {
  ctx.tokenised_english = true;  // typographic quotes and double spaces ("My duties?  All right.")
  const std::string name = ctx.split == "train" ? "train" : "dev";
  const fs::path path = ctx.file("text", name + "_sent_emo.csv");
  // Dialogue ids restart in each file: the file name keeps them unique.
  return read_multiparty_csv(ctx, path, {"Dialogue_ID", "Speaker", "Utterance", "Emotion"}, name + "_",
                             [](const std::string&) { return true; });
}

}  // namespace attune::data::detail
