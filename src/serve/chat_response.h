// JSON for /v1/chat/completions answers: the OpenAI chat.completion object (and its streamed
// chat.completion.chunk pieces), with attune's extras in an "attune" object beside them so plain
// OpenAI clients keep working. docs/serve.md shows both shapes.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "attune/runtime.h"

namespace attune::serve {

// What stays the same across one answer's pieces.
struct CompletionHeader {
  std::string id;  // "chatcmpl-..."
  int64_t created = 0;
  std::string model;
};

CompletionHeader new_completion(const std::string& model);

// The "attune" extension object: session, turn, heard emotion (label, intensity, probabilities),
// trajectory, speech style, warnings, timings, and the thinking when asked for.
nlohmann::json attune_extension(const Reply& reply, const std::string& session_id, bool show_thinking);

// "stop" for a finished reply, "length" when the token limit or the context cut it.
std::string finish_reason(const Reply& reply);

nlohmann::json usage(const Reply& reply);

// The whole answer. `audio_format`: "wav" or "pcm16"; audio is included when `want_audio`.
nlohmann::json completion(const CompletionHeader& h, const Reply& reply, const std::string& session_id, bool want_audio,
                          const std::string& audio_format, bool show_thinking);

// One streamed piece with the given delta (and, when not null, an "attune" object).
nlohmann::json chunk(const CompletionHeader& h, nlohmann::json delta, nlohmann::json attune = nullptr,
                     nlohmann::json finish = nullptr);

// Audio as the API carries it, base64: a whole WAV file, or raw 16-bit little-endian PCM.
std::string audio_base64(const AudioBuffer& audio, const std::string& format);

// "data: {...}\n\n"
std::string sse_event(const nlohmann::json& data);

}  // namespace attune::serve
