// ChatML rendering of spoken dialogues, the one way attune's models see a conversation.
//
//   <|im_start|>system\n{system}<|im_end|>\n
//   <|im_start|>user\n<|audio_bos|><|AUDIO|>xN<|audio_eos|>\n{optional text}<|im_end|>\n
//   <|im_start|>assistant\n<think>\n{thinking}\n</think>\n\n{reply}<|im_end|>\n
//
// For training, render() returns the token ids, a per-token loss mask (assistant turns: thinking,
// reply and the closing <|im_end|>; thinking optional) and where every audio slot sits. For
// inference, render() with `add_generation_prompt` ends with "<|im_start|>assistant\n" and
// split_thinking() separates what the model generated into thinking and reply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "text/tokenizer.h"

namespace attune::text {

enum class Role { kSystem, kUser, kAssistant };
std::string_view role_name(Role role);

struct ChatMessage {
  Role role = Role::kUser;
  std::string text;                     // may be empty for a user turn that is audio only
  int64_t audio_slots = 0;              // user turns: number of <|AUDIO|> placeholders (0 = no audio)
  std::optional<std::string> thinking;  // assistant turns: the content of <think>...</think>
};

struct RenderOptions {
  bool add_generation_prompt = false;  // end with "<|im_start|>assistant\n" (inference)
  bool train_on_thinking = true;       // include the thinking block in the loss mask
  // Which assistant turns are targets: all of them, or only the last one.
  bool train_on_last_turn_only = false;
};

// One run of <|AUDIO|> tokens: the encoder output of one user turn goes at ids[first, first + count).
struct AudioSlot {
  size_t message = 0;  // index into the rendered messages
  int64_t first = 0;
  int64_t count = 0;
};

struct RenderedChat {
  std::string text;  // the rendered string (for display and debugging)
  std::vector<int32_t> ids;
  std::vector<uint8_t> loss_mask;  // 1 where ids[i] is a training target
  std::vector<AudioSlot> audio_slots;
};

struct ThinkingSplit {
  std::string thinking;         // empty when the text has no <think> block
  std::string reply;            // the text after </think> (trimmed), never containing think tags
  bool thinking_closed = true;  // false while generation is still inside <think>
};

// Number of <|AUDIO|> slots for `samples` of 16 kHz audio: log-mel frames (samples / 160), the
// Whisper encoder's stride-2 conv, then the adapter's further `adapter_stride` (ceil at each step).
int64_t audio_slot_count(int64_t samples, int adapter_stride);

class ChatTemplate {
 public:
  // The tokenizer must define <|im_start|> and <|im_end|>; audio needs <|audio_bos|>, <|AUDIO|>,
  // <|audio_eos|> (checked when a message has audio). Throws ConfigError naming missing tokens.
  explicit ChatTemplate(Tokenizer tokenizer, std::string default_system = "");

  RenderedChat render(const std::vector<ChatMessage>& messages, const RenderOptions& options = {}) const;
  const Tokenizer& tokenizer() const { return tokenizer_; }
  // Ids that end an assistant turn during generation.
  std::vector<int32_t> stop_ids() const;

 private:
  Tokenizer tokenizer_;
  std::string default_system_;
  int32_t im_start_, im_end_;
};

// Splits generated assistant text into thinking and reply. Accepts output with or without a
// thinking block, and output cut off inside it (then the reply is empty).
ThinkingSplit split_thinking(std::string_view generated);

}  // namespace attune::text
