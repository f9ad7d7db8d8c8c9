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
      std::optional<Utterance> parsed = utterance_from_json(ctx, t, i, at);
      if (!parsed) continue;
      Utterance& u = *parsed;
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
