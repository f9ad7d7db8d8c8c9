#include "data/reader_util.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "attune/error.h"
#include "common/file_util.h"
#include "data/detokenize.h"
#include "data/labels.h"
#include "data/readers.h"
#include "text/unicode.h"

using nlohmann::json;

namespace attune::data::detail {

fs::path ReadContext::dir(std::string_view kind) const {
  fs::path nested = root / std::string(kind) / corpus;
  fs::path flat = root / corpus;
  // Errors name the shared-data layout unless the flat one (test fixtures) is there.
  return fs::is_directory(flat) && !fs::is_directory(nested) ? flat : nested;
}

fs::path ReadContext::file(std::string_view kind, std::string_view name) const {
  fs::path path = dir(kind) / std::string(name);
  if (!fs::exists(path)) throw InputError(path.string(), "missing " + corpus + " corpus file");
  common::require_regular_file(path);
  return path;
}

void ReadContext::report(const Where& at, const std::string& what, const std::string& kind) const {
  diag.report(at.file, at.line, at.id.empty() ? what : at.id + ": " + what, kind);
}

void ReadContext::set_label(Utterance& u, std::string_view label, const Where& at) const {
  u.source_emotion = std::string(label);
  u.emotion.clear();
  if (label.empty()) return;
  std::optional<std::string> target = normalise_emotion(corpus, label);
  if (!target) {
    report(at, "unknown emotion label '" + u.source_emotion + "' (emotion left empty)", "unknown label");
  } else if (target->empty()) {
    report(at, "label '" + u.source_emotion + "' has no HumDial class (emotion left empty)", "dropped label");
  } else {
    u.emotion = *target;
  }
}

bool ReadContext::check_text(std::string& text, const Where& at, std::string_view what) const {
  size_t b = 0, e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  text = text.substr(b, e - b);
  if (text.empty()) {
    report(at, std::string(what) + ": empty text (skipped)", "empty utterance");
    return false;
  }
  if (!text::unicode::is_valid_utf8(text)) {
    report(at, std::string(what) + ": text is not valid UTF-8 (skipped)", "invalid utf-8");
    return false;
  }
  if (tokenised_english) text = detokenize_english(text);
  return true;
}

std::string ReadContext::unique_id(std::string_view source_id, const Where& at) {
  std::string id = make_dialogue_id(corpus, source_id);
  if (ids_.insert(id).second) return id;
  report(at, "dialogue id '" + id + "' seen before (made unique)", "duplicate id");
  for (int k = 2;; ++k) {
    std::string candidate = id + "_" + std::to_string(k);
    if (ids_.insert(candidate).second) return candidate;
  }
}

std::string read_text_file(const fs::path& path) {
  if (path.extension() != ".gz") return common::read_file(path);
  common::require_regular_file(path);
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) throw InputError(path.string(), "cannot open gzip file");
  std::string out;
  std::vector<char> buf(1 << 20);
  for (;;) {
    int n = gzread(gz, buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      int errnum = 0;
      std::string msg = gzerror(gz, &errnum);
      gzclose(gz);
      throw InputError(path.string(), "corrupt gzip data: " + msg);
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<size_t>(n));
  }
  gzclose(gz);
  return out;
}

void for_each_jsonl(const ReadContext& ctx, const fs::path& path,
                    const std::function<void(const json&, int64_t line)>& fn) {
  const std::string text = read_text_file(path);
  const std::string file = path.string();
  int64_t line = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view s(text.data() + pos, end - pos);
    pos = end + 1;
    ++line;
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    if (s.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (!text::unicode::is_valid_utf8(s)) {
      ctx.report({file, line, ""}, "line is not valid UTF-8 (skipped)", "invalid utf-8");
      continue;
    }
    json j = json::parse(s, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      ctx.report({file, line, ""}, "not a JSON object (skipped)", "malformed line");
      continue;
    }
    fn(j, line);
  }
}

json read_json_file(const fs::path& path) {
  json j = json::parse(common::read_file(path), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw InputError(path.string(), "not valid JSON");
  return j;
}

std::optional<std::string> str_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::string pick_user(const std::vector<Utterance>& utts) {
  std::vector<std::string> order;
  std::map<std::string, int> non_neutral;
  for (const Utterance& u : utts) {
    if (!non_neutral.count(u.speaker)) {
      non_neutral[u.speaker] = 0;
      order.push_back(u.speaker);
    }
    if (!u.emotion.empty() && u.emotion != "neutral") ++non_neutral[u.speaker];
  }
  std::string best;
  int best_count = -1;
  for (const std::string& s : order) {
    if (non_neutral[s] > best_count) {
      best = s;
      best_count = non_neutral[s];
    }
  }
  return best;
}

namespace {

void append_joined(std::string& out, const std::string& text, const char* sep = " ") {
  if (!out.empty()) out += sep;
  out += text;
}

// The responder's lines of one block: plain text joined, or "Name: text" per speaker change when
// several others talked.
std::string responder_text(const std::vector<const Utterance*>& lines, bool multi_party) {
  std::set<std::string> speakers;
  for (const Utterance* u : lines) speakers.insert(u->speaker);
  const bool named = multi_party && speakers.size() > 1;
  std::string out;
  const std::string* last = nullptr;
  for (const Utterance* u : lines) {
    if (named && (!last || *last != u->speaker)) {
      append_joined(out, u->speaker + ": " + u->text);
    } else {
      append_joined(out, u->text);
    }
    last = &u->speaker;
  }
  return out;
}

// The line whose emotion the joined turn takes: the last non-neutral one, else the last neutral
// one, else nullptr.
const Utterance* emotion_line(const std::vector<const Utterance*>& lines) {
  const Utterance* neutral = nullptr;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if ((*it)->emotion.empty()) continue;
    if ((*it)->emotion != "neutral") return *it;
    if (!neutral) neutral = *it;
  }
  return neutral;
}

template <typename T>
void add_unique(std::vector<T>& v, const T& x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
}

}  // namespace

std::optional<Dialogue> assemble(ReadContext& ctx, const Where& at, const std::string& source_id,
                                 const std::vector<Utterance>& utts, const std::string& user, bool multi_party) {
  // Blocks of consecutive lines of one side.
  struct Block {
    bool is_user;
    std::vector<const Utterance*> lines;
  };
  std::vector<Block> blocks;
  for (const Utterance& u : utts) {
    const bool is_user = u.speaker == user;
    if (blocks.empty() || blocks.back().is_user != is_user) blocks.push_back({is_user, {}});
    blocks.back().lines.push_back(&u);
  }

  Dialogue d;
  d.meta.corpus = ctx.corpus;
  d.meta.source_id = source_id;
  d.meta.split = ctx.split;
  d.meta.user_speaker = user;
  std::vector<std::string> others;
  for (const Utterance& u : utts) {
    if (u.speaker != user) add_unique(others, u.speaker);
  }
  for (const std::string& s : others) append_joined(d.meta.responder_speaker, s, ", ");

  // Where each source utterance ended up: 0 = opening, +k = user turn k, -k = response of turn k.
  std::map<int, int> where;
  std::vector<const Block*> user_blocks;
  for (const Block& b : blocks) {
    if (b.is_user) {
      Turn t;
      t.turn_id = static_cast<int>(d.turns.size()) + 1;
      for (const Utterance* u : b.lines) {
        append_joined(t.text, u->text);
        where[u->source_index] = t.turn_id;
      }
      if (const Utterance* e = emotion_line(b.lines)) {
        t.emotion = e->emotion;
        t.source_emotion = e->source_emotion;
        t.intensity = e->intensity;
      } else {
        for (const Utterance* u : b.lines) {
          if (!u->source_emotion.empty()) t.source_emotion = u->source_emotion;
        }
      }
      d.turns.push_back(std::move(t));
      user_blocks.push_back(&b);
    } else {
      const std::string text = responder_text(b.lines, multi_party);
      const int turn = static_cast<int>(d.turns.size());
      for (const Utterance* u : b.lines) where[u->source_index] = -turn;
      if (turn == 0) {
        d.meta.opening = text;
      } else {
        d.turns.back().response_text = text;
        std::string strategies;
        std::vector<std::string> seen;
        for (const Utterance* u : b.lines) {
          if (!u->strategy.empty()) add_unique(seen, u->strategy);
        }
        for (const std::string& s : seen) append_joined(strategies, s, "; ");
        d.turns.back().strategy = strategies;
      }
    }
  }
  if (d.turns.empty()) {
    ctx.report(at, "the user ('" + user + "') never speaks (dialogue skipped)", "no user turn");
    return std::nullopt;
  }

  // Causes of the lines that carry the turn's emotion; annotations on responder lines are dropped
  // (the responder is not the user).
  for (size_t k = 0; k < d.turns.size(); ++k) {
    Turn& t = d.turns[k];
    if (t.emotion.empty()) continue;
    std::vector<std::string> types;
    for (const Utterance* u : user_blocks[k]->lines) {
      if (u->emotion != t.emotion) continue;
      for (int c : u->causes) {
        auto it = where.find(c);
        if (it == where.end()) {
          ctx.report(at,
                     "utterance " + std::to_string(u->source_index) + ": cause utterance " + std::to_string(c) +
                         " is not in the conversation (dropped)",
                     "cause out of range");
        } else if (it->second == 0) {
          add_unique(t.cause_response_turns, 0);  // 0: meta.opening, what the other side said first
        } else if (it->second > 0) {
          add_unique(t.cause_turns, it->second);
        } else {
          add_unique(t.cause_response_turns, -it->second);
        }
      }
      for (const std::string& s : u->cause_span) add_unique(t.cause_span, s);
      for (const std::string& s : u->cause_type) add_unique(types, s);
    }
    std::sort(t.cause_turns.begin(), t.cause_turns.end());
    std::sort(t.cause_response_turns.begin(), t.cause_response_turns.end());
    for (const std::string& s : types) append_joined(t.cause_type, s, ",");
  }
  d.dialogue_id = ctx.unique_id(source_id, at);
  return d;
}

std::optional<Utterance> utterance_from_json(const ReadContext& ctx, const nlohmann::json& t, size_t index,
                                             const Where& dialogue) {
  const Where at{dialogue.file, dialogue.line, dialogue.id + " utterance " + std::to_string(index + 1)};
  auto speaker = str_field(t, "speaker");
  auto text = str_field(t, "text");
  if (!speaker || !text) {
    ctx.report(at, "expected {speaker, text} (skipped)", "malformed utterance");
    return std::nullopt;
  }
  Utterance u;
  u.speaker = *speaker;
  u.text = *text;
  u.source_index = static_cast<int>(index) + 1;
  if (!ctx.check_text(u.text, at, "utterance")) return std::nullopt;
  return u;
}

}  // namespace attune::data::detail
