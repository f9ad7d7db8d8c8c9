// RECCON (DailyDialog subset): {dialog_id: [[{turn, speaker, utterance, emotion, "expanded emotion
// cause evidence", "expanded emotion cause span", type}, ...]]}. Two speakers; the user is the one
// with more non-neutral utterances.
#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "common/file_util.h"
#include "common/json_brief.h"
#include "data/detokenize.h"
#include "data/reader_util.h"

namespace attune::data::detail {

std::vector<Dialogue> read_reccon(ReadContext& ctx) {
  ctx.tokenised_english = true;  // "It ' s going to be a good game ."
  const fs::path path = ctx.file("text", ctx.split == "train" ? "dailydialog_train.json" : "dailydialog_valid.json");
  const std::string file = path.string();
  // ordered_json keeps the file's order of dialogues.
  auto root = nlohmann::ordered_json::parse(common::read_file(path), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) throw InputError(file, "expected a JSON object of dialogues");

  std::vector<Dialogue> out;
  for (const auto& [id, value] : root.items()) {
    // The utterances are wrapped in one extra list.
    const auto* list = &value;
    if (list->is_array() && list->size() == 1 && (*list)[0].is_array()) list = &(*list)[0];
    if (!list->is_array()) {
      ctx.report({file, 0, id}, "expected a list of utterances (dialogue skipped)", "malformed dialogue");
      continue;
    }
    std::vector<Utterance> utts;
    for (size_t i = 0; i < list->size(); ++i) {
      const auto& j = (*list)[i];
      Where at{file, 0, id + " utterance " + std::to_string(i + 1)};
      if (!j.is_object() || !j.contains("speaker") || !j["speaker"].is_string() || !j.contains("utterance") ||
          !j["utterance"].is_string()) {
        ctx.report(at, "expected an object with speaker and utterance (skipped)", "malformed utterance");
        continue;
      }
      Utterance u;
      u.speaker = j["speaker"].get<std::string>();
      u.text = j["utterance"].get<std::string>();
      u.source_index = j.contains("turn") && j["turn"].is_number_integer() ? j["turn"].get<int>() : int(i) + 1;
      if (!ctx.check_text(u.text, at, "utterance")) continue;
      if (j.contains("emotion") && j["emotion"].is_string()) ctx.set_label(u, j["emotion"].get<std::string>(), at);
      // Evidence and span lists are parallel; evidence "b" is background knowledge (no utterance,
      // the type says "latent") and its span is the placeholder "b".
      const auto* evidence =
          j.contains("expanded emotion cause evidence") ? &j["expanded emotion cause evidence"] : nullptr;
      const auto* spans = j.contains("expanded emotion cause span") ? &j["expanded emotion cause span"] : nullptr;
      if (evidence && evidence->is_array()) {
        for (const auto& c : *evidence) {
          if (c.is_number_integer()) {
            u.causes.push_back(c.get<int>());
          } else if (!(c.is_string() && c.get<std::string>() == "b")) {
            ctx.report(at, "cause evidence " + common::json_brief(c) + " is neither a turn number nor \"b\" (ignored)",
                       "malformed cause");
          }
        }
      }
      if (spans && spans->is_array()) {
        for (const auto& span : *spans) {
          if (span.is_string() && !span.get<std::string>().empty() && span.get<std::string>() != "b") {
            u.cause_span.push_back(detokenize_english(span.get<std::string>()));
          }
        }
      }
      if (auto it = j.find("type"); it != j.end()) {
        if (it->is_string()) u.cause_type.push_back(it->get<std::string>());
        if (it->is_array()) {
          for (const auto& s : *it) {
            if (s.is_string()) u.cause_type.push_back(s.get<std::string>());
          }
        }
      }
      utts.push_back(std::move(u));
    }
    if (utts.empty()) {
      ctx.report({file, 0, id}, "no usable utterance (dialogue skipped)", "empty dialogue");
      continue;
    }
    if (auto d = assemble(ctx, {file, 0, id}, id, utts, pick_user(utts), /*multi_party=*/false)) {
      out.push_back(std::move(*d));
    }
  }
  return out;
}

}  // namespace attune::data::detail
