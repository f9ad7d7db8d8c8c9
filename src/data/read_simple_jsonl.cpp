// The corpora whose derived JSONL is one conversation per line with turns [{speaker, text, ...}]
// (DailyDialog, Counsel Chat, AnnoMI, EmoContext, SwDA, SmileChat) and EPITOME's (seeker_post,
// response_post) rows. Role mapping per corpus in docs/data.md.
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "data/reader_util.h"
#include "data/readers.h"

namespace attune::data::detail {

namespace {

struct Spec {
  const char* file_train;  // file for train (and for valid unless file_valid is set)
  const char* file_valid;  // nullptr: one file
  const char* user;        // the user's speaker name; nullptr: pick_user (symmetric corpora)
  const char* emotion;     // per-turn emotion field, or nullptr
  const char* lang;
};

const Spec* spec_of(const std::string& corpus) {
  static const std::map<std::string, Spec> kSpecs = {
      {"dailydialog", {"train.jsonl", "validation.jsonl", nullptr, "emotion", "en"}},
      {"counselchat", {"counselchat.jsonl", nullptr, "seeker", nullptr, "en"}},
      {"annomi", {"annomi.jsonl", nullptr, "client", nullptr, "en"}},
      {"emocontext", {"emocontext.jsonl", nullptr, "user", nullptr, "en"}},
      {"swda", {"swda.jsonl", nullptr, nullptr, nullptr, "en"}},
      {"smilechat_zh", {"smilechat.12k.jsonl.gz", nullptr, "client", nullptr, "zh"}},
      {"epitome", {"epitome_reddit.jsonl", nullptr, "seeker", nullptr, "en"}},
  };
  auto it = kSpecs.find(corpus);
  return it == kSpecs.end() ? nullptr : &it->second;
}

// The split of one line: "train", "valid" or "" (not read: a withheld test split, unlabelled rows).
std::string split_of(const std::string& corpus, const nlohmann::json& j, const std::string& id) {
  if (corpus == "dailydialog") return "";  // decided by the file
  if (corpus == "counselchat" || corpus == "swda") {
    // The authors' split; their test part stays withheld.
    const std::string s = str_field(j, "split").value_or("");
    return s == "train" ? "train" : s == "val" ? "valid" : "";
  }
  if (corpus == "emocontext") {
    // repo_split is the repo author's re-split of the labelled train set; the unlabelled official
    // dev rows have none and are not read.
    const std::string s = str_field(j, "repo_split").value_or("");
    return s == "train" || s == "valid" ? s : "";
  }
  return hash_split(id);
}

}  // namespace

std::vector<Dialogue> read_simple_jsonl(ReadContext& ctx) {
  const Spec& spec = *spec_of(ctx.corpus);
  ctx.tokenised_english = ctx.corpus == "dailydialog";  // "Say , Jim , how about ... ?"
  const bool two_files = spec.file_valid != nullptr;
  const fs::path path = ctx.file("text", two_files && ctx.split == "valid" ? spec.file_valid : spec.file_train);
  const std::string file = path.string();
  const bool epitome = ctx.corpus == "epitome";
  std::set<std::string> pairs_seen;

  std::vector<Dialogue> out;
  for_each_jsonl(ctx, path, [&](const nlohmann::json& j, int64_t line) {
    // EPITOME rows are (seeker post, response post) pairs; the same pair can appear twice with
    // separate annotations.
    std::optional<std::string> id;
    if (epitome) {
      auto sp = str_field(j, "sp_id"), rp = str_field(j, "rp_id");
      if (sp && rp) id = *sp + "_" + *rp;
    } else {
      id = str_field(j, "id");
    }
    if (!id) {
      ctx.report({file, line, ""}, "no id (skipped)", "malformed line");
      return;
    }
    const std::string split = two_files ? ctx.split : split_of(ctx.corpus, j, epitome ? *str_field(j, "sp_id") : *id);
    if (split != ctx.split) return;
    const Where at{file, line, *id};

    // Source turns as {speaker, text, [emotion]}.
    nlohmann::json turns;
    if (epitome) {
      if (!pairs_seen.insert(*id).second) {
        ctx.report(at, "the same (seeker post, response) pair again (skipped)", "duplicate pair");
        return;
      }
      turns = nlohmann::json::array({{{"speaker", "seeker"}, {"text", j.value("seeker_post", nlohmann::json())}},
                                     {{"speaker", "responder"}, {"text", j.value("response_post", nlohmann::json())}}});
    } else if (j.contains("turns") && j["turns"].is_array()) {
      turns = j["turns"];
    } else {
      ctx.report(at, "no turns list (skipped)", "malformed line");
      return;
    }

    std::vector<Utterance> utts;
    for (size_t i = 0; i < turns.size(); ++i) {
      const auto& t = turns[i];
      std::optional<Utterance> parsed = utterance_from_json(ctx, t, i, at);
      if (!parsed) continue;
      Utterance& u = *parsed;
      const Where tat{file, line, *id + " utterance " + std::to_string(i + 1)};
      if (spec.emotion) {
        if (auto e = str_field(t, spec.emotion)) ctx.set_label(u, *e, tat);
      }
      utts.push_back(std::move(u));
    }
    // EmoContext labels the final user turn only.
    if (ctx.corpus == "emocontext" && !utts.empty() && utts.back().speaker == spec.user) {
      if (auto label = str_field(j, "label")) ctx.set_label(utts.back(), *label, at);
    }
    if (utts.empty()) {
      ctx.report(at, "no usable utterance (skipped)", "empty dialogue");
      return;
    }
    auto d = assemble(ctx, at, *id, utts, spec.user ? spec.user : pick_user(utts), /*multi_party=*/false);
    if (!d) return;
    d->lang = spec.lang;
    d->meta.topic = str_field(j, "topic").value_or("");
    out.push_back(std::move(*d));
  });
  return out;
}

}  // namespace attune::data::detail
