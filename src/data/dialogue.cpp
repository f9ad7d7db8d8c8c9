#include "data/dialogue.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "attune/error.h"
#include "common/file_util.h"

using nlohmann::json;

namespace attune::data {
namespace {

// Reads fields of one JSON object, naming the path of the first bad one ("turns[2].emotion").
class Fields {
 public:
  Fields(const json& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object()) fail("", "expected an object");
  }

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    std::string name = where_;
    if (!key.empty()) name += (name.empty() ? "" : ".") + key;
    throw Error((name.empty() ? std::string("dialogue") : name) + ": " + what);
  }
  const json* find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  std::string str(const char* key, bool required = false) const {
    const json* v = find(key);
    if (!v) {
      if (required) fail(key, "missing");
      return {};
    }
    if (!v->is_string()) fail(key, "expected a string");
    return v->get<std::string>();
  }
  std::optional<double> number(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) fail(key, "expected a number");
    return v->get<double>();
  }
  int integer(const char* key) const {
    const json* v = find(key);
    if (!v) fail(key, "missing");
    if (!v->is_number_integer()) fail(key, "expected an integer");
    return v->get<int>();
  }
  std::vector<int> ints(const char* key) const {
    std::vector<int> out;
    if (const json* v = find(key)) {
      if (!v->is_array()) fail(key, "expected an array of integers");
      for (const json& x : *v) {
        if (!x.is_number_integer()) fail(key, "expected an array of integers");
        out.push_back(x.get<int>());
      }
    }
    return out;
  }
  std::vector<std::string> strings(const char* key) const {
    std::vector<std::string> out;
    if (const json* v = find(key)) {
      if (!v->is_array()) fail(key, "expected an array of strings");
      for (const json& x : *v) {
        if (!x.is_string()) fail(key, "expected an array of strings");
        out.push_back(x.get<std::string>());
      }
    }
    return out;
  }
  const json& j() const { return j_; }
  const std::string& where() const { return where_; }

 private:
  const json& j_;
  std::string where_;
};

void put(json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}
void put(json& j, const char* key, const std::optional<double>& v) {
  if (v) j[key] = *v;
}
template <typename T>
void put(json& j, const char* key, const std::vector<T>& v) {
  if (!v.empty()) j[key] = v;
}

json voice_to_json(const VoiceInfo& v) {
  json j = json::object();
  put(j, "source", v.source);
  put(j, "speaker", v.speaker);
  put(j, "gender", v.gender);
  put(j, "style_emotion", v.style_emotion);
  if (!v.style_emotion.empty()) j["style_intensity"] = v.style_intensity;
  put(j, "pitch_delta_st", v.pitch_delta_st);
  put(j, "rate_ratio", v.rate_ratio);
  put(j, "loudness_delta_db", v.loudness_delta_db);
  put(j, "jitter_ratio", v.jitter_ratio);
  return j;
}

VoiceInfo voice_from_json(const Fields& f) {
  VoiceInfo v;
  v.source = f.str("source");
  v.speaker = f.str("speaker");
  v.gender = f.str("gender");
  v.style_emotion = f.str("style_emotion");
  v.style_intensity = f.number("style_intensity").value_or(0);
  v.pitch_delta_st = f.number("pitch_delta_st");
  v.rate_ratio = f.number("rate_ratio");
  v.loudness_delta_db = f.number("loudness_delta_db");
  v.jitter_ratio = f.number("jitter_ratio");
  return v;
}

json turn_to_json(const Turn& t) {
  // The HumDial fields are always written, so files load in tools that only know HumDial.
  json j = {{"turn_id", t.turn_id},
            {"text", t.text},
            {"emotion", t.emotion},
            {"split_audio_file", t.split_audio_file},
            {"response_text", t.response_text},
            {"response_audio", t.response_audio}};
  put(j, "heard_words", t.heard_words);
  put(j, "source_emotion", t.source_emotion);
  put(j, "intensity", t.intensity);
  put(j, "cause_turns", t.cause_turns);
  put(j, "cause_response_turns", t.cause_response_turns);
  put(j, "cause_span", t.cause_span);
  put(j, "cause_type", t.cause_type);
  if (t.voice) j["voice"] = voice_to_json(*t.voice);
  put(j, "strategy", t.strategy);
  put(j, "thinking", t.thinking);
  if (t.response_style) {
    j["response_style"] = {{"emotion", t.response_style->emotion}, {"intensity", t.response_style->intensity}};
  }
  put(j, "task", t.task);
  return j;
}

Turn turn_from_json(const Fields& f) {
  Turn t;
  t.turn_id = f.integer("turn_id");
  t.text = f.str("text");
  t.emotion = f.str("emotion");
  t.source_emotion = f.str("source_emotion");
  t.intensity = f.number("intensity");
  t.split_audio_file = f.str("split_audio_file");
  t.heard_words = f.str("heard_words");
  t.response_text = f.str("response_text");
  t.response_audio = f.str("response_audio");
  t.cause_turns = f.ints("cause_turns");
  t.cause_response_turns = f.ints("cause_response_turns");
  t.cause_span = f.strings("cause_span");
  t.cause_type = f.str("cause_type");
  if (const json* v = f.find("voice")) t.voice = voice_from_json(Fields(*v, f.where() + ".voice"));
  t.strategy = f.str("strategy");
  t.thinking = f.str("thinking");
  if (const json* v = f.find("response_style")) {
    Fields s(*v, f.where() + ".response_style");
    t.response_style = ResponseStyle{s.str("emotion", true), s.number("intensity").value_or(0.3)};
  }
  t.task = f.str("task");
  return t;
}

}  // namespace

json to_json(const Dialogue& d) {
  json turns = json::array();
  for (const Turn& t : d.turns) turns.push_back(turn_to_json(t));
  json meta = json::object();
  const DialogueMeta& m = d.meta;
  put(meta, "corpus", m.corpus);
  put(meta, "source_id", m.source_id);
  put(meta, "split", m.split);
  put(meta, "situation", m.situation);
  put(meta, "problem", m.problem);
  put(meta, "topic", m.topic);
  put(meta, "opening", m.opening);
  put(meta, "user_speaker", m.user_speaker);
  put(meta, "responder_speaker", m.responder_speaker);
  put(meta, "intensity_before", m.intensity_before);
  put(meta, "intensity_after", m.intensity_after);
  return {{"dialogue_id", d.dialogue_id}, {"lang", d.lang}, {"turns", turns}, {"meta", meta}};
}

Dialogue dialogue_from_json(const json& j) {
  Fields f(j, "");
  Dialogue d;
  d.dialogue_id = f.str("dialogue_id", true);
  if (d.dialogue_id.empty()) f.fail("dialogue_id", "must not be empty");
  d.lang = f.str("lang");
  if (d.lang.empty()) d.lang = "en";
  const json* turns = f.find("turns");
  if (!turns) f.fail("turns", "missing");
  if (!turns->is_array()) f.fail("turns", "expected an array");
  for (size_t i = 0; i < turns->size(); ++i) {
    d.turns.push_back(turn_from_json(Fields((*turns)[i], "turns[" + std::to_string(i) + "]")));
  }
  if (const json* meta = f.find("meta")) {
    Fields m(*meta, "meta");
    d.meta.corpus = m.str("corpus");
    d.meta.source_id = m.str("source_id");
    d.meta.split = m.str("split");
    d.meta.situation = m.str("situation");
    d.meta.problem = m.str("problem");
    d.meta.topic = m.str("topic");
    d.meta.opening = m.str("opening");
    d.meta.user_speaker = m.str("user_speaker");
    d.meta.responder_speaker = m.str("responder_speaker");
    d.meta.intensity_before = m.number("intensity_before");
    d.meta.intensity_after = m.number("intensity_after");
  }
  return d;
}

void write_dialogues(const std::string& path, const std::vector<Dialogue>& dialogues) {
  std::string out;
  for (const Dialogue& d : dialogues) {
    // Invalid UTF-8 is replaced rather than thrown on: readers report it, the writer must not fail late.
    out += to_json(d).dump(-1, ' ', false, json::error_handler_t::replace);
    out += '\n';
  }
  common::write_file_atomically(path, out);
}

std::vector<Dialogue> read_dialogues(const std::string& path) {
  std::istringstream in(common::read_file(path));
  std::vector<Dialogue> out;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      out.push_back(dialogue_from_json(json::parse(line)));
    } catch (const json::exception& e) {
      throw InputError(path + ":" + std::to_string(number), std::string("malformed JSON: ") + e.what());
    } catch (const Error& e) {
      throw InputError(path + ":" + std::to_string(number), e.what());
    }
  }
  return out;
}

}  // namespace attune::data
