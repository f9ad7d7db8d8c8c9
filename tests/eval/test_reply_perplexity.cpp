// Reply perplexity against a hand-derived case: a language model whose weights are all zero gives
// every token the same probability 1/V, so the reply tokens cost log V nats each, whatever the
// context; which tokens count (replies only, not thinking or user text) shows in the token count.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <cmath>

#include "attune/error.h"
#include "data/dialogue.h"
#include "eval/reply_perplexity.h"
#include "io/model_config.h"
#include "model/language_model.h"
#include "support/test_support.h"
#include "text/bpe_trainer.h"

namespace attune {
namespace {

constexpr const char* kReply = "That sounds really hard. What happened?";  // 6 words

data::Dialogue dialogue(const std::string& id, const std::string& corpus) {
  data::Dialogue d;
  d.dialogue_id = id;
  d.meta.corpus = corpus;
  for (int i = 1; i <= 2; ++i) {
    data::Turn t;
    t.turn_id = i;
    t.text = "I failed my exam today.";
    t.emotion = "sad";
    t.response_text = kReply;
    t.thinking = "They sound sad: low pitch, slow pace. Validate first.";
    d.turns.push_back(t);
  }
  return d;
}

class ReplyPerplexityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    text::BpeTrainerOptions options;
    options.vocab_size = 400;
    text::BpeTrainer trainer(options);
    for (int i = 0; i < 20; ++i) {
      trainer.add_text("I failed my exam today and I feel terrible. That sounds really hard; what happened?");
      trainer.add_text("The user sounds sad: low pitch, slow pace. Validate first, then ask about the exam.");
    }
    trainer.train();
    trainer.save(dir_ / "lm/tokenizer.json");
    vocab_ = trainer.tokenizer().vocab_size();
    reply_tokens_ = static_cast<int64_t>(trainer.tokenizer().encode(kReply).size());

    const nlohmann::json config = {
        {"model_type", "qwen2"},    {"vocab_size", vocab_},           {"hidden_size", 32},
        {"intermediate_size", 64},  {"num_hidden_layers", 1},         {"num_attention_heads", 2},
        {"num_key_value_heads", 1}, {"max_position_embeddings", 512}, {"tie_word_embeddings", true}};
    auto lm = std::make_shared<model::LanguageModelImpl>(io::parse_language_model_config(config, "test"));
    torch::NoGradGuard no_grad;
    for (at::Tensor& p : lm->parameters()) p.zero_();
    lm->save_pretrained(dir_ / "lm");
    data::write_dialogues((dir_ / "dialogues.jsonl").string(),
                          {dialogue("ed_1", "empatheticdialogues"), dialogue("other_1", "dailydialog"),
                           dialogue("ed_2", "empatheticdialogues")});
  }

  testing::TempDir dir_;
  int64_t vocab_ = 0, reply_tokens_ = 0;
};

TEST_F(ReplyPerplexityTest, AUniformModelCostsLogVocabPerReplyToken) {
  eval::ReplyPerplexityOptions options;
  options.dialogues = dir_ / "dialogues.jsonl";
  const eval::ReplyPerplexity r = eval::evaluate_reply_perplexity(dir_ / "lm", options);
  EXPECT_EQ(r.dialogues, 2);  // the dailydialog one is left out
  EXPECT_EQ(r.replies, 4);
  EXPECT_EQ(r.words, 4 * 6);
  EXPECT_EQ(r.tokens, 4 * reply_tokens_);
  EXPECT_NEAR(r.nll, static_cast<double>(r.tokens) * std::log(static_cast<double>(vocab_)), 1e-3);
  EXPECT_NEAR(r.per_token(), static_cast<double>(vocab_), 1e-3 * static_cast<double>(vocab_));
  const double per_word = std::pow(static_cast<double>(vocab_), static_cast<double>(r.tokens) / r.words);
  EXPECT_NEAR(r.per_word() / per_word, 1.0, 1e-6);

  options.limit = 1;
  EXPECT_EQ(eval::evaluate_reply_perplexity(dir_ / "lm", options).replies, 2);
}

TEST_F(ReplyPerplexityTest, NamesTheFileWhenNoDialogueIsOfTheCorpus) {
  eval::ReplyPerplexityOptions options;
  options.dialogues = dir_ / "dialogues.jsonl";
  options.corpus = "esconv";
  try {
    eval::evaluate_reply_perplexity(dir_ / "lm", options);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("dialogues.jsonl: no dialogues of corpus \"esconv\""), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace attune
