// EmpatheticDialogues (valid.jsonl, the labelled split): {conv_id, emotion, situation, turns:
// [{speaker speaker|listener, text}]}. The user is the speaker, who describes a situation they feel
// the emotion about, so every speaker turn carries it. The one file is split by hash of conv_id.
#include <nlohmann/json.hpp>

#include "data/reader_util.h"
#include "data/readers.h"

namespace attune::data::detail {

std::vector<Dialogue> read_empathetic(ReadContext& ctx) {
  const fs::path path = ctx.file("text", "valid.jsonl");
  const std::string file = path.string();
  std::vector<Dialogue> out;
  for_each_jsonl(ctx, path, [&](const nlohmann::json& j, int64_t line) {
    auto id = str_field(j, "conv_id");
    if (!id || !j.contains("turns") || !j["turns"].is_array()) {
      ctx.report({file, line, ""}, "expected {conv_id, turns: [...]} (skipped)", "malformed line");
      return;
    }
    if (hash_split(*id) != ctx.split) return;
    const Where at{file, line, *id};
    Utterance label;
    if (auto e = str_field(j, "emotion")) ctx.set_label(label, *e, at);

    std::vector<Utterance> utts;
    for (size_t i = 0; i < j["turns"].size(); ++i) {
      const auto& t = j["turns"][i];
      const Where tat{file, line, *id + " utterance " + std::to_string(i + 1)};
      auto speaker = str_field(t, "speaker");
      auto text = str_field(t, "text");
      if (!speaker || !text) {
        ctx.report(tat, "expected {speaker, text} (skipped)", "malformed utterance");
        continue;
      }
      Utterance u;
      u.speaker = *speaker;
      u.text = *text;
      u.source_index = static_cast<int>(i) + 1;
      if (!ctx.check_text(u.text, tat, "utterance")) continue;
      if (u.speaker == "speaker") {
        u.emotion = label.emotion;
        u.source_emotion = label.source_emotion;
      }
      utts.push_back(std::move(u));
    }
    auto d = assemble(ctx, at, *id, utts, "speaker", /*multi_party=*/false);
    if (!d) return;
    d->meta.situation = str_field(j, "situation").value_or("");
    out.push_back(std::move(*d));
  });
  return out;
}

}  // namespace attune::data::detail
