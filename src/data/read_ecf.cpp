// ECF 1.0 (SemEval-2024 Task 3, subtask 1 train): [{conversation_ID, conversation: [{utterance_ID,
// text, speaker, emotion}], "emotion-cause_pairs": [["3_surprise", "1_<span>"], ...]}]. Multi-party;
// only the train file ships, so the split is by hash of the conversation id.
#include <nlohmann/json.hpp>

#include <cctype>

#include "attune/error.h"
#include "common/json_brief.h"
#include "data/detokenize.h"
#include "data/reader_util.h"
#include "data/readers.h"

namespace attune::data::detail {

namespace {

// "3_surprise" -> (3, "surprise"); nullopt when it does not start with a number and '_'.
std::optional<std::pair<int, std::string>> split_pair_item(const nlohmann::json& j) {
  if (!j.is_string()) return std::nullopt;
  const std::string s = j.get<std::string>();
  size_t us = s.find('_');
  if (us == 0 || us == std::string::npos) return std::nullopt;
  for (size_t i = 0; i < us; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
  }
  if (us > 6) return std::nullopt;
  return std::make_pair(std::stoi(s.substr(0, us)), s.substr(us + 1));
}

}  // namespace

std::vector<Dialogue> read_ecf(ReadContext& ctx) {
  ctx.tokenised_english = true;  // "Oh , yeah . Had that dream ."
  const fs::path path = ctx.file("text", "Subtask_1_train.json");
  const std::string file = path.string();
  const nlohmann::json root = read_json_file(path);
  if (!root.is_array()) throw InputError(file, "expected a JSON list of conversations");

  std::vector<Dialogue> out;
  for (size_t ci = 0; ci < root.size(); ++ci) {
    const auto& conv = root[ci];
    std::string id = "#" + std::to_string(ci);
    if (conv.is_object() && conv.contains("conversation_ID")) {
      const auto& cid = conv["conversation_ID"];
      id = cid.is_string() ? cid.get<std::string>() : common::json_brief(cid);
    }
    if (!conv.is_object() || !conv.contains("conversation") || !conv["conversation"].is_array()) {
      ctx.report({file, 0, id}, "expected {conversation_ID, conversation: [...]} (skipped)", "malformed dialogue");
      continue;
    }
    if (hash_split(id) != ctx.split) continue;

    std::vector<Utterance> utts;
    for (const auto& j : conv["conversation"]) {
      Where at{file, 0,
               id + " utterance " +
                   (j.is_object() && j.contains("utterance_ID") ? common::json_brief(j["utterance_ID"]) : "?")};
      auto text = str_field(j, "text");
      auto speaker = str_field(j, "speaker");
      if (!j.is_object() || !text || !speaker || !j.contains("utterance_ID") ||
          !j["utterance_ID"].is_number_integer()) {
        ctx.report(at, "expected {utterance_ID, text, speaker, emotion} (skipped)", "malformed utterance");
        continue;
      }
      Utterance u;
      u.speaker = *speaker;
      u.text = *text;
      u.source_index = j["utterance_ID"].get<int>();
      if (!ctx.check_text(u.text, at, "utterance")) continue;
      if (auto e = str_field(j, "emotion")) ctx.set_label(u, *e, at);
      utts.push_back(std::move(u));
    }
    if (auto it = conv.find("emotion-cause_pairs"); it != conv.end() && it->is_array()) {
      for (const auto& pair : *it) {
        std::optional<std::pair<int, std::string>> emo, cause;
        if (pair.is_array() && pair.size() == 2) {
          emo = split_pair_item(pair[0]);
          cause = split_pair_item(pair[1]);
        }
        if (!emo || !cause) {
          ctx.report({file, 0, id},
                     "emotion-cause pair " + common::json_brief(pair) + " is not [\"N_emotion\", \"M_span\"] (ignored)",
                     "malformed cause");
          continue;
        }
        Utterance* target = nullptr;
        for (Utterance& u : utts) {
          if (u.source_index == emo->first) target = &u;
        }
        if (!target) {
          ctx.report({file, 0, id},
                     "emotion-cause pair names utterance " + std::to_string(emo->first) +
                         ", which is not in the conversation (ignored)",
                     "cause out of range");
          continue;
        }
        target->causes.push_back(cause->first);
        if (!cause->second.empty()) target->cause_span.push_back(detokenize_english(cause->second));
      }
    }
    if (utts.empty()) {
      ctx.report({file, 0, id}, "no usable utterance (dialogue skipped)", "empty dialogue");
      continue;
    }
    if (auto d = assemble(ctx, {file, 0, id}, id, utts, pick_user(utts), /*multi_party=*/true)) {
      out.push_back(std::move(*d));
    }
  }
  return out;
}

}  // namespace attune::data::detail
