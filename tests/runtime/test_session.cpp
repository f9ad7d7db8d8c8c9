// The session's KV cache against an independent path: re-reading the whole dialogue before every
// turn (SessionOptions::reuse_cache = false) must give the same greedy replies and heard emotions.
// Runs the shipped model on turns spoken by the espeak-ng talker.
#include <gtest/gtest.h>

#include "attune/error.h"
#include "attune/runtime.h"
#include "support/test_support.h"
#include "tts/talker.h"

namespace attune {
namespace {

std::filesystem::path shipped_model() { return testing::source_dir() / "models" / "attune-small"; }

TEST(Session, CacheReuseMatchesReReadingTheDialogue) {
  ASSERT_TRUE(std::filesystem::exists(shipped_model() / "config.json")) << shipped_model();
  auto talker = tts::make_talker("espeak");
  const tts::Voice voice = tts::find_voice("en-male-2");
  const std::vector<AudioBuffer> turns = {
      talker->synthesize("My sister moved away last month.", tts::emotion_style("sad", 0.7), voice),
      talker->synthesize("Wait, she is coming home for the holidays!", tts::emotion_style("surprise", 0.8), voice),
      talker->synthesize("I can't wait to see her.", tts::emotion_style("happy", 0.8), voice)};

  RuntimeOptions ro;
  ro.dtype = "fp32";
  ro.speak = false;
  const Model model = Model::load(shipped_model(), ro);
  SessionOptions reuse, reread;
  reuse.max_new_tokens = reread.max_new_tokens = 160;
  reread.reuse_cache = false;
  Session a = model.open_session(reuse), b = model.open_session(reread);
  int64_t previous_context = 0;
  for (size_t i = 0; i < turns.size(); ++i) {
    const Reply ra = a.turn(turns[i]);
    const Reply rb = b.turn(turns[i]);
    EXPECT_EQ(ra.text, rb.text) << "turn " << i + 1;
    EXPECT_EQ(ra.thinking, rb.thinking) << "turn " << i + 1;
    EXPECT_EQ(ra.emotion.label, rb.emotion.label);
    EXPECT_EQ(ra.context_tokens, rb.context_tokens);
    EXPECT_EQ(ra.turn, i + 1);
    EXPECT_EQ(ra.trajectory.size(), i + 1);
    // The cache grows by exactly this turn's tokens and what was generated (the stop token is not fed).
    const int64_t fed = ra.timings.generated_tokens - (ra.stop_reason == "stop token" ? 1 : 0);
    EXPECT_EQ(ra.context_tokens, previous_context + ra.timings.prompt_tokens + fed);
    previous_context = ra.context_tokens;
  }
  EXPECT_EQ(a.turns(), 3u);
  a.reset();
  EXPECT_EQ(a.turns(), 0u);
  EXPECT_EQ(a.context_tokens(), 0);
}

TEST(Session, BadOptionsAndInputAreErrors) {
  RuntimeOptions ro;
  ro.speak = false;
  const Model model = Model::load(shipped_model(), ro);
  SessionOptions bad;
  bad.max_new_tokens = 0;
  EXPECT_THROW(model.open_session(bad), ConfigError);
  bad.max_new_tokens = 10;
  bad.voice = "no-such-voice";
  EXPECT_THROW(model.open_session(bad), ConfigError);
  Session s = model.open_session();
  EXPECT_THROW(s.turn(AudioBuffer{}, ""), InputError);
  EXPECT_THROW(Model::load(testing::source_dir() / "models" / "attune-bpe-8k"), Error);  // not a composite
}

}  // namespace
}  // namespace attune
