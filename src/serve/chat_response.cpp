#include "serve/chat_response.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "audio/audio_file.h"
#include "common/base64.h"

namespace attune::serve {

using nlohmann::json;

CompletionHeader new_completion(const std::string& model) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {fmt::format("chatcmpl-{:016x}", rng()), std::chrono::duration_cast<std::chrono::seconds>(now).count(), model};
}

json attune_extension(const Reply& reply, const std::string& session_id, bool show_thinking) {
  json probabilities = json::object();
  for (const auto& [label, p] : reply.emotion.probabilities) probabilities[label] = p;
  const TurnTimings& t = reply.timings;
  json x = {
      {"session_id", session_id.empty() ? json(nullptr) : json(session_id)},
      {"turn", reply.turn},
      {"emotion",
       {{"label", reply.emotion.label},
        {"intensity", reply.emotion.intensity},
        {"probabilities", probabilities},
        {"source", reply.emotion.source}}},
      {"heard_words", reply.heard_words},
      {"trajectory", reply.trajectory},
      {"trajectory_text", reply.trajectory_text},
      {"style",
       {{"emotion", reply.style.emotion},
        {"intensity", reply.style.intensity},
        {"pitch_semitones", reply.style.pitch_semitones},
        {"pitch_range", reply.style.pitch_range},
        {"rate", reply.style.rate},
        {"energy_db", reply.style.energy_db},
        {"description", reply.style.to_string()},
        {"source", reply.style_source}}},
      {"warnings", reply.warnings},
      {"stop_reason", to_string(reply.stop_reason)},
      {"context_tokens", reply.context_tokens},
      {"dropped_turns", reply.dropped_turns},
      {"timings",
       {{"audio_seconds", t.audio_seconds},
        {"first_token", t.first_token},
        {"first_reply_token", t.first_reply_token},
        {"first_audio", t.first_audio},
        {"total", t.total},
        {"tokens_per_second", t.decode_tokens_per_second()}}},
  };
  if (show_thinking) x["thinking"] = reply.thinking;
  return x;
}

std::string finish_reason(const Reply& reply) {
  return reply.stop_reason == StopReason::kMaxTokens || reply.stop_reason == StopReason::kContextFull ? "length"
                                                                                                      : "stop";
}

json usage(const Reply& reply) {
  const int64_t p = reply.timings.prompt_tokens, c = reply.timings.generated_tokens;
  return {{"prompt_tokens", p}, {"completion_tokens", c}, {"total_tokens", p + c}};
}

std::string audio_base64(const AudioBuffer& audio, const std::string& format) {
  if (format == "pcm16") {
    std::string pcm(audio.samples.size() * 2, '\0');
    for (size_t i = 0; i < audio.samples.size(); ++i) {
      const auto v = static_cast<int16_t>(std::lround(std::clamp(audio.samples[i], -1.0f, 1.0f) * 32767.0f));
      pcm[2 * i] = static_cast<char>(v & 0xFF);
      pcm[2 * i + 1] = static_cast<char>((v >> 8) & 0xFF);
    }
    return common::base64_encode(pcm);
  }
  return common::base64_encode(audio::encode_audio(audio, audio::AudioFormat::kWav16));
}

json completion(const CompletionHeader& h, const Reply& reply, const std::string& session_id, bool want_audio,
                const std::string& audio_format, bool show_thinking) {
  json message = {{"role", "assistant"}, {"content", reply.text}};
  if (want_audio && !reply.audio.samples.empty()) {
    message["audio"] = {{"id", "audio-" + h.id.substr(h.id.find('-') + 1)},
                        {"data", audio_base64(reply.audio, audio_format)},
                        {"format", audio_format},
                        {"sample_rate", reply.audio.sample_rate},
                        {"expires_at", h.created + 3600},
                        {"transcript", reply.text}};
  }
  return {{"id", h.id},
          {"object", "chat.completion"},
          {"created", h.created},
          {"model", h.model},
          {"choices", json::array({{{"index", 0}, {"message", message}, {"finish_reason", finish_reason(reply)}}})},
          {"usage", usage(reply)},
          {"attune", attune_extension(reply, session_id, show_thinking)}};
}

json chunk(const CompletionHeader& h, json delta, json attune, json finish) {
  json c = {
      {"id", h.id},
      {"object", "chat.completion.chunk"},
      {"created", h.created},
      {"model", h.model},
      {"choices", json::array({{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}}})}};
  if (!attune.is_null()) c["attune"] = std::move(attune);
  return c;
}

std::string sse_event(const json& data) {
  return "data: " + data.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

}  // namespace attune::serve
