#include "text/chat_template.h"

#include "attune/error.h"

namespace attune::text {
namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// Builds ids, mask and text together. Plain text is collected and encoded in one piece up to the
// next special token or change of loss mask, so the ids equal those of encoding the whole rendered
// string (the pre-tokeniser never merges across a special token; mask changes sit after newlines).
class Builder {
 public:
  explicit Builder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  void special(int32_t id, std::string_view text, bool target) {
    flush();
    out.ids.push_back(id);
    out.loss_mask.push_back(target);
    out.text += text;
  }
  // Content text: special tokens written inside it stay plain text (no injection of <|im_end|>).
  void content(std::string_view text, bool target) {
    if (target != pending_target_) flush();
    pending_target_ = target;
    pending_ += text;
  }
  // A tag such as <think>: one id when the vocabulary has it as a token (attune's own tokenizers
  // do), plain text otherwise (e.g. Qwen2.5, which has no <think> token).
  void tag(std::string_view text, bool target) {
    if (auto id = tokenizer_.find_token(text)) {
      special(*id, text, target);
    } else {
      content(text, target);
    }
  }
  RenderedChat finish() {
    flush();
    return std::move(out);
  }
  RenderedChat out;

 private:
  void flush() {
    if (pending_.empty()) return;
    tokenizer_.encode_into(pending_, out.ids, /*match_added_tokens=*/false);
    out.loss_mask.resize(out.ids.size(), pending_target_);
    out.text += pending_;
    pending_.clear();
  }
  const Tokenizer& tokenizer_;
  std::string pending_;
  bool pending_target_ = false;
};

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kSystem:
      return "system";
    case Role::kUser:
      return "user";
    case Role::kAssistant:
      return "assistant";
  }
  return "?";
}

int64_t audio_slot_count(int64_t samples, int adapter_stride) {
  if (samples <= 0) return 0;
  if (adapter_stride < 1)
    throw ConfigError("adapter stride must be at least 1 (got " + std::to_string(adapter_stride) + ")");
  int64_t mel_frames = samples / 160;
  int64_t encoder_frames = (mel_frames + 1) / 2;  // conv1d k=3, stride 2, padding 1
  return (encoder_frames + adapter_stride - 1) / adapter_stride;
}

ChatTemplate::ChatTemplate(Tokenizer tokenizer, std::string default_system)
    : tokenizer_(std::move(tokenizer)), default_system_(std::move(default_system)) {
  auto start = tokenizer_.find_token("<|im_start|>"), end = tokenizer_.find_token("<|im_end|>");
  if (!start || !end) {
    throw ConfigError(tokenizer_.source() + ": the chat template needs the tokens <|im_start|> and <|im_end|>");
  }
  im_start_ = *start;
  im_end_ = *end;
}

std::vector<int32_t> ChatTemplate::stop_ids() const {
  std::vector<int32_t> ids{im_end_};
  if (auto eot = tokenizer_.find_token("<|endoftext|>")) ids.push_back(*eot);
  return ids;
}

RenderedChat ChatTemplate::render(const std::vector<ChatMessage>& messages, const RenderOptions& options) const {
  Builder b(tokenizer_);
  size_t last_assistant = messages.size();
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].role == Role::kAssistant) last_assistant = i;
  }
  auto open = [&](Role role) {
    b.special(im_start_, "<|im_start|>", false);
    b.content(std::string(role_name(role)) + "\n", false);
  };
  auto close = [&](bool target) {
    b.special(im_end_, "<|im_end|>", target);
    b.content("\n", false);
  };
  if (!default_system_.empty() && (messages.empty() || messages.front().role != Role::kSystem)) {
    open(Role::kSystem);
    b.content(default_system_, false);
    close(false);
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    open(m.role);
    if (m.role == Role::kAssistant) {
      bool target = !options.train_on_last_turn_only || i == last_assistant;
      if (m.thinking) {
        bool think_target = target && options.train_on_thinking;
        b.tag(kThinkOpen, think_target);
        b.content("\n" + std::string(trim(*m.thinking)) + "\n", think_target);
        b.tag(kThinkClose, think_target);
        b.content("\n\n", think_target);
      }
      b.content(m.text, target);
      close(target);
      continue;
    }
    if (m.audio_slots > 0) {
      if (m.role != Role::kUser) throw ConfigError("message " + std::to_string(i) + ": only user turns carry audio");
      int32_t bos = tokenizer_.token_to_id("<|audio_bos|>"), slot = tokenizer_.token_to_id("<|AUDIO|>"),
              eos = tokenizer_.token_to_id("<|audio_eos|>");
      b.special(bos, "<|audio_bos|>", false);
      b.out.audio_slots.push_back({i, static_cast<int64_t>(b.out.ids.size()), m.audio_slots});
      for (int64_t k = 0; k < m.audio_slots; ++k) b.special(slot, "<|AUDIO|>", false);
      b.special(eos, "<|audio_eos|>", false);
      b.content("\n", false);
    }
    b.content(m.text, false);
    close(false);
  }
  if (options.add_generation_prompt) open(Role::kAssistant);
  return b.finish();
}

ThinkingSplit split_thinking(std::string_view generated) {
  ThinkingSplit split;
  std::string_view rest = trim(generated);
  if (rest.starts_with(kThinkOpen)) {
    rest.remove_prefix(kThinkOpen.size());
    size_t close = rest.find(kThinkClose);
    if (close == std::string_view::npos) {
      split.thinking = std::string(trim(rest));
      split.thinking_closed = false;
      return split;
    }
    split.thinking = std::string(trim(rest.substr(0, close)));
    rest.remove_prefix(close + kThinkClose.size());
  }
  std::string reply(trim(rest));
  // A model that opens a second block must not leak tags into the reply.
  for (std::string_view tag : {kThinkOpen, kThinkClose}) {
    for (size_t at; (at = reply.find(tag)) != std::string::npos;) reply.erase(at, tag.size());
  }
  split.reply = std::string(trim(reply));
  return split;
}

}  // namespace attune::text
