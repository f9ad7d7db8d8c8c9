// ESConv (*_with_scores.jsonl): {emotion_type, problem_type, situation, init_intensity,
// final_intensity, dialog: [{speaker usr|sys, text, strategy}]}. The user is the seeker (usr); the
// seeker's emotion type applies to the whole conversation, so every user turn carries it.
#include <nlohmann/json.hpp>

#include "data/reader_util.h"

namespace attune::data::detail {

namespace {

// Intensity 1-5 onto [0, 1].
std::optional<double> intensity(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  double x = it->get<double>();
  if (x < 1 || x > 5) return std::nullopt;
  return (x - 1) / 4;
}

}  // namespace

std::vector<Dialogue> read_esconv(ReadContext& ctx) {
  const fs::path path = ctx.file("text", ctx.split + "_with_scores.jsonl");
  const std::string file = path.string();
  std::vector<Dialogue> out;
  for_each_jsonl(ctx, path, [&](const nlohmann::json& j, int64_t line) {
    const std::string id = ctx.split + "_" + std::to_string(line - 1);
    const Where at{file, line, id};
    if (!j.contains("dialog") || !j["dialog"].is_array()) {
      ctx.report(at, "no dialog list (skipped)", "malformed line");
      return;
    }
    Utterance label;
    if (auto e = str_field(j, "emotion_type")) ctx.set_label(label, *e, at);

    std::vector<Utterance> utts;
    for (size_t i = 0; i < j["dialog"].size(); ++i) {
      const auto& t = j["dialog"][i];
      std::optional<Utterance> parsed = utterance_from_json(ctx, t, i, at);
      if (!parsed) continue;
      Utterance& u = *parsed;
      if (u.speaker == "usr") {
        u.emotion = label.emotion;
        u.source_emotion = label.source_emotion;
      } else if (auto s = str_field(t, "strategy")) {
        u.strategy = *s;
      }
      utts.push_back(std::move(u));
    }
    auto d = assemble(ctx, at, id, utts, "usr", /*multi_party=*/false);
    if (!d) return;
    d->meta.situation = str_field(j, "situation").value_or("");
    d->meta.problem = str_field(j, "problem_type").value_or("");
    d->meta.intensity_before = intensity(j, "init_intensity");
    d->meta.intensity_after = intensity(j, "final_intensity");
    // The scores rate the seeker before and after the conversation: the first and last user turns.
    if (!d->turns.front().emotion.empty()) d->turns.front().intensity = d->meta.intensity_before;
    if (d->turns.size() > 1 && !d->turns.back().emotion.empty()) d->turns.back().intensity = d->meta.intensity_after;
    out.push_back(std::move(*d));
  });
  return out;
}

}  // namespace attune::data::detail
