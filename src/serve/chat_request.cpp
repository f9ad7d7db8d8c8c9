#include "serve/chat_request.h"

#include <fmt/format.h>

#include <cstdint>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "audio/audio_file.h"
#include "common/base64.h"
#include "common/json_brief.h"
#include "serve/api_error.h"

namespace attune::serve {
namespace {

using nlohmann::json;

ApiError bad(const std::string& param, const std::string& message, const std::string& code = "invalid_value") {
  return ApiError(400, code, fmt::format("{}: {}", param, message), param);
}

const char* kind(const json& v) { return v.type_name(); }

template <typename T>
T number(const json& body, const char* key, T lo, T hi) {
  const json& v = body[key];
  if (!v.is_number()) throw bad(key, fmt::format("expected a number, got {}", kind(v)));
  if constexpr (std::is_integral_v<T>) {
    // Compared as integers: 1.9 is not silently truncated, and 2^63 as a double (which equals
    // (double)INT64_MAX after rounding) cannot slip through the range check.
    if (!v.is_number_integer()) throw bad(key, fmt::format("expected an integer, got {}", v.dump()));
    const bool above = v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(hi) : v.get<int64_t>() > hi;
    const bool below =
        v.is_number_unsigned() ? lo > 0 && v.get<uint64_t>() < static_cast<uint64_t>(lo) : v.get<int64_t>() < lo;
    if (above || below) throw bad(key, fmt::format("{} is out of range; expected {} to {}", v.dump(), lo, hi));
    return v.get<T>();
  }
  const double d = v.get<double>();
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi))
    throw bad(key, fmt::format("{} is out of range; expected {} to {}", d, lo, hi));
  return v.get<T>();
}

AudioBuffer read_audio(const json& part, const std::string& where, const RequestLimits& limits) {
  const json& a = part.contains("input_audio") ? part["input_audio"] : json();
  if (!a.is_object()) throw bad(where + ".input_audio", "expected an object {data, format}");
  if (!a.contains("data") || !a["data"].is_string())
    throw bad(where + ".input_audio.data", "expected base64-encoded audio (a string)");
  if (a.contains("format") && !a["format"].is_string())
    throw bad(where + ".input_audio.format",
              fmt::format("expected a string such as \"wav\", got {}", kind(a["format"])));
  const std::string format = a.contains("format") ? a["format"].get<std::string>() : "wav";
  const auto bytes = common::base64_decode(a["data"].get_ref<const std::string&>());
  if (!bytes) throw bad(where + ".input_audio.data", "not valid base64", "invalid_base64");
  if (bytes->empty()) throw bad(where + ".input_audio.data", "the audio is empty", "invalid_audio");
  AudioBuffer audio;
  const auto too_long = [&](const std::string& length) {
    return ApiError(400, "audio_too_long",
                    fmt::format("{}.input_audio: {} of audio; this server takes at most {:.0f} s per turn", where,
                                length, limits.max_audio_seconds),
                    where + ".input_audio");
  };
  try {
    audio = audio::decode_audio(*bytes, where + ".input_audio (" + format + ")", limits.max_audio_seconds);
  } catch (const audio::AudioTooLong& e) {
    throw too_long(e.seconds() > limits.max_audio_seconds ? fmt::format("{:.1f} s", e.seconds()) : "more");
  } catch (const Error& e) {
    throw bad(where + ".input_audio.data", fmt::format("cannot decode the audio ({})", e.what()), "invalid_audio");
  }
  if (audio.samples.empty()) throw bad(where + ".input_audio.data", "the audio has no samples", "invalid_audio");
  if (audio.duration_s() > limits.max_audio_seconds) throw too_long(fmt::format("{:.1f} s", audio.duration_s()));
  return audio;
}

ChatMessageIn read_message(const json& m, size_t index, const RequestLimits& limits) {
  const std::string where = fmt::format("messages[{}]", index);
  if (!m.is_object()) throw bad(where, fmt::format("expected an object, got {}", kind(m)));
  ChatMessageIn out;
  if (!m.contains("role") || !m["role"].is_string()) throw bad(where + ".role", "expected a string");
  out.role = m["role"].get<std::string>();
  if (out.role == "developer") out.role = "system";
  if (out.role != "system" && out.role != "user" && out.role != "assistant")
    throw bad(where + ".role", fmt::format("'{}' is not supported; expected system, user or assistant", out.role));
  const json content = m.contains("content") ? m["content"] : json();
  if (content.is_string()) {
    out.text = content.get<std::string>();
  } else if (content.is_array()) {
    for (size_t i = 0; i < content.size(); ++i) {
      const json& part = content[i];
      const std::string pw = fmt::format("{}.content[{}]", where, i);
      if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
        throw bad(pw, "expected a content part {type: \"text\" | \"input_audio\", ...}");
      const std::string type = part["type"].get<std::string>();
      if (type == "text") {
        if (!part.contains("text") || !part["text"].is_string()) throw bad(pw + ".text", "expected a string");
        if (!out.text.empty()) out.text += "\n";
        out.text += part["text"].get<std::string>();
      } else if (type == "input_audio") {
        if (out.role != "user") throw bad(pw, "audio is taken in user messages only");
        if (!out.audio.samples.empty()) throw bad(pw, "one input_audio part per message");
        out.audio = read_audio(part, pw, limits);
      } else {
        throw bad(pw + ".type", fmt::format("'{}' is not supported; expected text or input_audio", type));
      }
    }
  } else if (!content.is_null()) {
    throw bad(where + ".content", fmt::format("expected a string or an array of parts, got {}", kind(content)));
  }
  if (out.role == "assistant") {
    // The thinking a client kept: attune's own field, or the reasoning_content other servers use.
    if (m.contains("reasoning_content") && m["reasoning_content"].is_string())
      out.thinking = m["reasoning_content"].get<std::string>();
    if (m.contains("attune") && m["attune"].is_object() && m["attune"].contains("thinking") &&
        m["attune"]["thinking"].is_string())
      out.thinking = m["attune"]["thinking"].get<std::string>();
  }
  if (out.role == "user" && out.text.empty() && out.audio.samples.empty())
    throw bad(where + ".content", "a user message needs text or an input_audio part");
  return out;
}

}  // namespace

ChatRequest parse_chat_request(const std::string& body, const RequestLimits& limits) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers such as 1e999
    throw ApiError(400, "invalid_json", fmt::format("the request body is not valid JSON ({})", e.what()));
  }
  if (!j.is_object()) throw ApiError(400, "invalid_json", "the request body must be a JSON object");
  ChatRequest r;
  if (j.contains("model")) {
    if (!j["model"].is_string()) throw bad("model", "expected a string");
    r.model = j["model"].get<std::string>();
  }
  if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty())
    throw bad("messages", "expected a non-empty array of messages");
  for (size_t i = 0; i < j["messages"].size(); ++i) r.messages.push_back(read_message(j["messages"][i], i, limits));
  if (r.messages.back().role != "user") throw bad("messages", "the last message must be the user's turn");
  if (j.contains("stream") && !j["stream"].is_null()) {
    if (!j["stream"].is_boolean()) throw bad("stream", "expected true or false");
    r.stream = j["stream"].get<bool>();
  }
  if (j.contains("stream_options") && j["stream_options"].is_object() &&
      j["stream_options"].contains("include_usage")) {
    const json& v = j["stream_options"]["include_usage"];
    if (!v.is_boolean())
      throw bad("stream_options.include_usage", fmt::format("expected true or false, got {}", kind(v)));
    r.include_usage = v.get<bool>();
  }
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    if (j.contains(key) && !j[key].is_null() && !r.max_tokens)
      r.max_tokens = number<int64_t>(j, key, 1, limits.max_tokens);
  }
  if (j.contains("temperature") && !j["temperature"].is_null())
    r.temperature = number<double>(j, "temperature", 0.0, 2.0);
  if (j.contains("top_p") && !j["top_p"].is_null()) r.top_p = number<double>(j, "top_p", 0.0, 1.0);
  if (j.contains("seed") && !j["seed"].is_null())
    r.seed = static_cast<uint64_t>(number<int64_t>(j, "seed", 0, INT64_MAX));
  if (j.contains("n") && !j["n"].is_null() && number<int64_t>(j, "n", 1, 1) != 1) throw bad("n", "only n = 1");
  if (j.contains("modalities") && !j["modalities"].is_null()) {
    if (!j["modalities"].is_array()) throw bad("modalities", "expected an array such as [\"text\", \"audio\"]");
    for (const json& m : j["modalities"]) {
      if (m == "audio")
        r.want_audio = true;
      else if (m != "text")
        throw bad("modalities", fmt::format("{} is not supported; expected text and/or audio", common::json_brief(m)));
    }
  }
  if (j.contains("audio") && !j["audio"].is_null()) {
    const json& a = j["audio"];
    if (!a.is_object()) throw bad("audio", "expected an object {voice, format}");
    if (a.contains("format")) {
      r.audio_format = a["format"].is_string() ? a["format"].get<std::string>() : "";
      if (r.audio_format != "wav" && r.audio_format != "pcm16")
        throw bad("audio.format", "expected \"wav\" or \"pcm16\"");
    }
    if (a.contains("voice")) {
      if (!a["voice"].is_string()) throw bad("audio.voice", "expected a voice name");
      r.voice = a["voice"].get<std::string>();
    }
  }
  if (j.contains("attune") && !j["attune"].is_null()) {
    const json& x = j["attune"];
    if (!x.is_object()) throw bad("attune", "expected an object {session_id, new_session, show_thinking}");
    if (x.contains("session_id") && !x["session_id"].is_null()) {
      if (!x["session_id"].is_string()) throw bad("attune.session_id", "expected a string");
      r.session_id = x["session_id"].get<std::string>();
    }
    if (x.contains("new_session")) {
      if (!x["new_session"].is_boolean()) throw bad("attune.new_session", "expected true or false");
      r.new_session = x["new_session"].get<bool>();
    }
    if (x.contains("show_thinking")) {
      if (!x["show_thinking"].is_boolean()) throw bad("attune.show_thinking", "expected true or false");
      r.show_thinking = x["show_thinking"].get<bool>();
    }
    if (r.new_session && !r.session_id.empty())
      throw bad("attune", "give either session_id (continue a session) or new_session, not both");
  }
  return r;
}

}  // namespace attune::serve
