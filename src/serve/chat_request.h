// POST /v1/chat/completions, read into what a turn needs: the OpenAI request shape (messages with
// text and input_audio content parts, stream, max_tokens, temperature, top_p, seed, modalities,
// audio) plus attune's extension object "attune" (session, thinking). docs/serve.md lists the fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "attune/audio_buffer.h"

namespace attune::serve {

struct RequestLimits {
  double max_audio_seconds = 60;  // per input_audio part
  int64_t max_tokens = 1024;      // the most a request may ask for (thinking and reply together)
};

// One message of the dialogue: a user turn (text and/or audio) or an assistant answer (its text and,
// when the client kept it, its thinking).
struct ChatMessageIn {
  std::string role;  // "system", "user", "assistant"
  std::string text;
  AudioBuffer audio;                    // empty unless an input_audio part was given
  std::optional<std::string> thinking;  // assistant: attune.thinking or reasoning_content
};

struct ChatRequest {
  std::string model;
  std::vector<ChatMessageIn> messages;  // ends with a user message
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::optional<int64_t> max_tokens;
  double temperature = 0;  // greedy unless > 0 (attune's default; OpenAI's is 1)
  double top_p = 1;
  std::optional<uint64_t> seed;
  bool want_audio = false;           // modalities contains "audio"
  std::string audio_format = "wav";  // "wav" or "pcm16" (raw 16-bit little-endian, as OpenAI streams it)
  std::string voice;                 // attune voice name; "" = the server's default
  // attune extension
  std::string session_id;    // continue this server-side session (only the last user message is read)
  bool new_session = false;  // open a session and return its id
  bool show_thinking = false;
};

// Parses and checks the request body; throws ApiError (400) naming the field and what was expected,
// and for audio that cannot be decoded, is empty or is longer than the limit.
ChatRequest parse_chat_request(const std::string& body, const RequestLimits& limits);

}  // namespace attune::serve
