// HumDial JSONL: already our schema (dialogue.h). Read line by line so that one bad line is reported
// and skipped instead of stopping the read (read_dialogues throws on the first).
#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "data/labels.h"
#include "data/reader_util.h"

namespace attune::data::detail {

std::vector<Dialogue> read_humdial(ReadContext& ctx) {
  fs::path path = ctx.root;
  if (fs::is_directory(path)) path /= ctx.split + ".jsonl";
  if (!fs::exists(path)) throw InputError(path.string(), "missing humdial JSONL file");
  const std::string file = path.string();
  std::set<std::string> ids;
  std::vector<Dialogue> out;
  for_each_jsonl(ctx, path, [&](const nlohmann::json& j, int64_t line) {
    Dialogue d;
    try {
      d = dialogue_from_json(j);
    } catch (const std::exception& e) {
      ctx.report({file, line, ""}, std::string(e.what()) + " (skipped)", "malformed line");
      return;
    }
    const Where at{file, line, d.dialogue_id};
    if (!ids.insert(d.dialogue_id).second) {
      ctx.report(at, "dialogue id seen before (skipped)", "duplicate id");
      return;
    }
    for (Turn& t : d.turns) {
      if (t.emotion.empty() || emotion_index(t.emotion) >= 0) {
        if (t.source_emotion.empty()) t.source_emotion = t.emotion;
        continue;
      }
      ctx.report(
          at, "turn " + std::to_string(t.turn_id) + ": unknown emotion label '" + t.emotion + "' (emotion left empty)",
          "unknown label");
      if (t.source_emotion.empty()) t.source_emotion = t.emotion;
      t.emotion.clear();
    }
    if (d.meta.corpus.empty()) d.meta.corpus = "humdial";
    if (d.meta.split.empty()) d.meta.split = ctx.split;
    out.push_back(std::move(d));
  });
  return out;
}

}  // namespace attune::data::detail
