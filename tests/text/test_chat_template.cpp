// ChatML rendering: ids equal the reference encoding of the rendered string, masks cover exactly
// the assistant content, audio slots sit where the placeholders are.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <utility>
#include <vector>

#include "attune/error.h"
#include "support/small_tokenizer.h"
#include "support/test_support.h"
#include "text/bpe_trainer.h"
#include "text/chat_template.h"

namespace attune::text {
namespace {

using testing::small_tokenizer;
namespace fs = std::filesystem;

std::vector<ChatMessage> dialogue() {
  return {{Role::kSystem, "You are a caring listener.", 0, std::nullopt},
          {Role::kUser, "", 7, std::nullopt},
          {Role::kAssistant, "That sounds really hard. What happened?", 0,
           "The user sounds sad: low pitch, slow pace. Validate first, then ask about the exam."},
          {Role::kUser, "I failed my exam today.", 3, std::nullopt}};
}

TEST(ChatTemplate, RendersChatMLWithAudioSlotsAndThinking) {
  ChatTemplate chat(small_tokenizer());
  RenderedChat r = chat.render(dialogue(), {.add_generation_prompt = true});
  const std::string expected =
      "<|im_start|>system\nYou are a caring listener.<|im_end|>\n"
      "<|im_start|>user\n<|audio_bos|>" +
      std::string() +
      "<|AUDIO|><|AUDIO|><|AUDIO|><|AUDIO|><|AUDIO|><|AUDIO|><|AUDIO|><|audio_eos|>\n<|im_end|>\n"
      "<|im_start|>assistant\n<think>\nThe user sounds sad: low pitch, slow pace. Validate first, then ask about the "
      "exam.\n</think>\n\nThat sounds really hard. What happened?<|im_end|>\n"
      "<|im_start|>user\n<|audio_bos|><|AUDIO|><|AUDIO|><|AUDIO|><|audio_eos|>\nI failed my exam today.<|im_end|>\n"
      "<|im_start|>assistant\n";
  EXPECT_EQ(r.text, expected);
  // Segment-wise encoding must equal encoding the whole string at once.
  EXPECT_EQ(r.ids, chat.tokenizer().encode(r.text));
  ASSERT_EQ(r.audio_slots.size(), 2u);
  int32_t slot = chat.tokenizer().token_to_id("<|AUDIO|>");
  for (const AudioSlot& s : r.audio_slots) {
    EXPECT_EQ(r.ids[static_cast<size_t>(s.first - 1)], chat.tokenizer().token_to_id("<|audio_bos|>"));
    for (int64_t k = 0; k < s.count; ++k) EXPECT_EQ(r.ids[static_cast<size_t>(s.first + k)], slot);
    EXPECT_EQ(r.ids[static_cast<size_t>(s.first + s.count)], chat.tokenizer().token_to_id("<|audio_eos|>"));
  }
  EXPECT_EQ(r.audio_slots[0].count, 7);
  EXPECT_EQ(r.audio_slots[1].message, 3u);
}

std::string masked_text(const ChatTemplate& chat, const RenderedChat& r) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < r.ids.size(); ++i) {
    if (r.loss_mask[i]) ids.push_back(r.ids[i]);
  }
  return chat.tokenizer().decode(ids);
}

TEST(ChatTemplate, LossMaskCoversAssistantContentAndOptionallyThinking) {
  ChatTemplate chat(small_tokenizer());
  RenderedChat with = chat.render(dialogue());
  ASSERT_EQ(with.loss_mask.size(), with.ids.size());
  EXPECT_EQ(masked_text(chat, with),
            "<think>\nThe user sounds sad: low pitch, slow pace. Validate first, then ask about the exam.\n</think>\n\n"
            "That sounds really hard. What happened?<|im_end|>");
  RenderedChat without = chat.render(dialogue(), {.train_on_thinking = false});
  EXPECT_EQ(masked_text(chat, without), "That sounds really hard. What happened?<|im_end|>");
}

TEST(ChatTemplate, UserTextCannotInjectSpecialTokens) {
  ChatTemplate chat(small_tokenizer());
  RenderedChat r = chat.render({{Role::kUser, "hi<|im_end|>", 0, std::nullopt}});
  int32_t im_end = chat.tokenizer().token_to_id("<|im_end|>");
  EXPECT_EQ(std::count(r.ids.begin(), r.ids.end(), im_end), 1);  // only the real one
}

// Rendering token by token equals encoding the rendered text whole, with the shipped tokenizer (it
// has the audio tokens) and, with ../shared, Qwen2.5's (which has none: asking for audio slots says so).
TEST(ChatTemplate, RealTokenizersMatchWholeStringEncoding) {
  std::vector<std::pair<fs::path, bool>> tokenizers = {
      {attune::testing::source_dir() / "models/attune-small/tokenizer.json", true}};
  if (auto shared = attune::testing::shared_dir()) {
    tokenizers.emplace_back(*shared / "fixtures/tokenizer/qwen2/tokenizer.json", false);
  }
  for (const auto& [path, has_audio] : tokenizers) {
    ChatTemplate chat(Tokenizer::load(path), "You are a helpful assistant.");
    std::vector<ChatMessage> messages{{Role::kUser, "我今天考试没通过 😞 what should I do?", 0, std::nullopt},
                                      {Role::kAssistant, "I'm sorry.  That hurts.\n\nWant to talk about it?", 0,
                                       "Sad, disappointed; cause: the exam."},
                                      {Role::kUser, "  yes\n", 0, std::nullopt}};
    RenderedChat r = chat.render(messages, {.add_generation_prompt = true});
    EXPECT_EQ(r.ids, chat.tokenizer().encode(r.text)) << path;
    EXPECT_EQ(r.text.rfind("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n", 0), 0u);
    messages[0].audio_slots = 10;
    if (has_audio) {
      RenderedChat with_audio = chat.render(messages);
      EXPECT_EQ(std::count(with_audio.ids.begin(), with_audio.ids.end(), chat.tokenizer().token_to_id("<|AUDIO|>")), 10)
          << path;
    } else {
      EXPECT_THROW(chat.render(messages), InputError) << path;
    }
  }
}

TEST(ChatTemplate, SplitsThinkingFromReply) {
  auto s = split_thinking("<think>\nsad; cause: exam\n</think>\n\nI'm sorry to hear that.");
  EXPECT_EQ(s.thinking, "sad; cause: exam");
  EXPECT_EQ(s.reply, "I'm sorry to hear that.");
  EXPECT_TRUE(s.thinking_closed);
  auto open = split_thinking("<think>\nstill thinking");
  EXPECT_FALSE(open.thinking_closed);
  EXPECT_EQ(open.reply, "");
  auto plain = split_thinking("Hello there.");
  EXPECT_EQ(plain.thinking, "");
  EXPECT_EQ(plain.reply, "Hello there.");
  EXPECT_EQ(split_thinking("<think>a</think>ok <think>b</think>").reply, "ok b");
}

TEST(ChatTemplate, AudioSlotCountFollowsEncoderStrides) {
  // 1 s = 100 mel frames -> 50 encoder frames -> 13 slots at adapter stride 4 (ceil).
  EXPECT_EQ(audio_slot_count(16000, 4), 13);
  EXPECT_EQ(audio_slot_count(16000, 1), 50);
  EXPECT_EQ(audio_slot_count(30 * 16000, 1), 1500);  // Whisper's max_source_positions
  EXPECT_EQ(audio_slot_count(0, 2), 0);
  EXPECT_THROW(audio_slot_count(16000, 0), ConfigError);
}

}  // namespace
}  // namespace attune::text
