#include "data/readers.h"

#include <cctype>

#include "attune/error.h"
#include "data/reader_util.h"
#include "text/unicode.h"

namespace attune::data {

const std::vector<CorpusInfo>& corpora() {
  // name, lang, description, emotions, causes, audio
  static const std::vector<CorpusInfo> kCorpora = {
      {"reccon", "en", "RECCON: DailyDialog conversations with emotion causes", true, true, false},
      {"ecf", "en", "ECF: multi-party Friends dialogues with emotion-cause pairs", true, true, false},
      {"esconv", "en", "ESConv: emotional-support conversations (seeker / supporter)", true, false, false},
      {"meld", "en", "MELD: multi-party Friends dialogues with utterance emotions", true, false, false},
      {"empatheticdialogues", "en", "EmpatheticDialogues: a speaker's situation, 32 emotions", true, false, false},
      {"cped", "zh", "CPED: Chinese TV dialogues with 13 emotions", true, false, false},
      {"dailydialog", "en", "DailyDialog: everyday conversations with utterance emotions", true, false, false},
      {"counselchat", "en", "Counsel Chat: questions answered by licensed therapists", false, false, false},
      {"annomi", "en", "AnnoMI: motivational-interviewing counselling transcripts", false, false, false},
      {"emocontext", "en", "EmoContext: 3-turn user / chatbot chats, emotion of the last turn", true, false, false},
      {"swda", "en", "Switchboard (SwDA): spontaneous telephone conversations", false, false, false},
      {"smilechat_zh", "zh", "SmileChat: synthetic Chinese mental-health support dialogues", false, false, false},
      {"epitome", "en", "EPITOME: Reddit mental-health posts and peer replies", false, false, false},
      {"ravdess", "en", "RAVDESS: acted English emotional speech, one clip per dialogue", true, false, true},
      {"emodb", "de", "EmoDB: acted German emotional speech, one clip per dialogue", true, false, true},
      {"humdial", "en", "HumDial JSONL: our own schema, read as is", true, true, true},
  };
  return kCorpora;
}

std::string hash_split(std::string_view source_id) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a, 64 bit
  for (unsigned char c : source_id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h % 10 == 0 ? "valid" : "train";
}

std::string make_dialogue_id(std::string_view corpus, std::string_view source_id) {
  std::string id(source_id);
  for (char& c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
  }
  const std::string prefix = std::string(corpus) + "_";
  return id.rfind(prefix, 0) == 0 ? id : prefix + id;
}

std::string corpus_of_dialogue(std::string_view dialogue_id) {
  std::string best;
  for (const CorpusInfo& c : corpora()) {
    if (c.name.size() > best.size() && dialogue_id.size() > c.name.size() &&
        dialogue_id.substr(0, c.name.size()) == c.name && dialogue_id[c.name.size()] == '_') {
      best = c.name;
    }
  }
  return best;
}

namespace {

std::vector<Dialogue> read_by_name(std::string_view name, detail::ReadContext& ctx) {
  if (name == "reccon") return detail::read_reccon(ctx);
  if (name == "ecf") return detail::read_ecf(ctx);
  if (name == "esconv") return detail::read_esconv(ctx);
  if (name == "meld") return detail::read_meld(ctx);
  if (name == "empatheticdialogues") return detail::read_empathetic(ctx);
  if (name == "cped") return detail::read_cped(ctx);
  if (name == "ravdess" || name == "emodb") return detail::read_speech(ctx);
  if (name == "humdial") return detail::read_humdial(ctx);
  for (const char* simple : {"dailydialog", "counselchat", "annomi", "emocontext", "swda", "smilechat_zh", "epitome"}) {
    if (name == simple) return detail::read_simple_jsonl(ctx);
  }
  std::string known;
  for (const CorpusInfo& c : corpora()) known += (known.empty() ? "" : ", ") + c.name;
  throw ConfigError("unknown corpus '" + std::string(name) + "'; expected one of: " + known);
}

// Replaces invalid UTF-8 in every string of `j` (walked without recursion); true if any was.
bool repair_utf8(nlohmann::json& j) {
  bool repaired = false;
  std::vector<nlohmann::json*> stack{&j};
  while (!stack.empty()) {
    nlohmann::json* v = stack.back();
    stack.pop_back();
    if (v->is_string()) {
      auto& s = v->get_ref<std::string&>();
      if (!text::unicode::is_valid_utf8(s)) {
        s = text::unicode::to_valid_utf8(s);
        repaired = true;
      }
    } else if (v->is_structured()) {
      for (auto& child : *v) stack.push_back(&child);
    }
  }
  return repaired;
}

}  // namespace

std::vector<Dialogue> read_corpus(std::string_view name, std::string_view split, const std::filesystem::path& data_root,
                                  Diagnostics& diag) {
  if (split != "train" && split != "valid") {
    throw ConfigError("read_corpus: split '" + std::string(split) + "': expected train or valid");
  }
  detail::ReadContext ctx(std::string(name), std::string(split), data_root, diag);
  std::vector<Dialogue> dialogues = read_by_name(name, ctx);
  // Readers check the utterances' UTF-8; ids, speakers, labels and the rest come straight from the
  // file, and everything read ends up in JSON, which must be valid UTF-8.
  for (Dialogue& d : dialogues) {
    nlohmann::json j = to_json(d);
    if (repair_utf8(j)) {
      diag.report(std::string(name), 0, d.dialogue_id + ": invalid UTF-8 outside the utterances (replaced by U+FFFD)",
                  "invalid utf-8");
      d = dialogue_from_json(j);
    }
  }
  return dialogues;
}

}  // namespace attune::data
