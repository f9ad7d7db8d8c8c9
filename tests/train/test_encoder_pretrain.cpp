// The encoder pre-training stage's pure parts: greedy CTC decoding, the heads' padding invariance,
// the prosody expert and its fusion, and its recipe keys (the transcript helpers it uses are tested in
// tests/text/test_transcript.cpp).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "model/encoder_heads.h"
#include "train/encoder_pretrain.h"
#include "train/recipe.h"

using namespace attune;
using nlohmann::json;

TEST(EncoderHeads, GreedyCtcMergesRepeatsAndDropsBlanks) {
  // Frames: a a blank a b b blank -> "aab"
  const std::vector<int64_t> best = {1, 1, 0, 1, 2, 2, 0};
  at::Tensor logits = at::zeros({7, 3});
  for (int64_t t = 0; t < 7; ++t) logits[t][best[static_cast<size_t>(t)]] = 5;
  EXPECT_EQ(model::ctc_greedy_decode(logits, {"a", "b"}), "aab");
  // Frames: space a space blank space b space -> "a b": no space at either end or twice in a row.
  const std::vector<int64_t> spaced = {1, 2, 1, 0, 1, 3, 1};
  at::Tensor spaced_logits = at::zeros({7, 4});
  for (int64_t t = 0; t < 7; ++t) spaced_logits[t][spaced[static_cast<size_t>(t)]] = 5;
  EXPECT_EQ(model::ctc_greedy_decode(spaced_logits, {" ", "a", "b"}), "a b");
}

namespace {

// Heads over `input_size` channels: an 8-unit emotion head and a 3-character alphabet.
io::EncoderHeadsConfig small_heads(int64_t input_size) {
  io::EncoderHeadsConfig c;
  c.input_size = input_size;
  c.hidden_size = 8;
  c.ctc_alphabet = {"a", "b", "c"};
  return c;
}

}  // namespace

TEST(EncoderHeads, PaddingNeverReachesTheRow) {
  torch::manual_seed(5);
  model::EncoderHeads heads(small_heads(16));
  const at::Tensor a = torch::randn({1, 5, 16}), b = torch::randn({1, 9, 16});
  at::Tensor batch = torch::zeros({2, 9, 16});
  batch[0].narrow(0, 0, 5).copy_(a[0]);
  batch[0].narrow(0, 5, 4).fill_(100);  // garbage in the padding
  batch[1].copy_(b[0]);
  const model::EncoderHeadsOutput both = heads->forward(batch, torch::tensor({5, 9}), true);
  const model::EncoderHeadsOutput alone = heads->forward(a, {}, true);
  EXPECT_TRUE(torch::allclose(both.emotion_logits[0], alone.emotion_logits[0], 1e-5, 1e-6));
  EXPECT_NEAR(both.intensity[0].item<double>(), alone.intensity[0].item<double>(), 1e-6);
  EXPECT_EQ(both.ctc_logits.sizes(), (std::vector<int64_t>{2, 9, 4}));
  EXPECT_EQ(both.emotion_logits.sizes(), (std::vector<int64_t>{2, 7}));
}

// Transcription blocks before the CTC projection: fresh ones are the identity (so they can be added to
// trained heads), padding never reaches a row through their attention, and the emotion outputs do not
// depend on them.
TEST(EncoderHeads, TranscriptionBlocksStartAsTheIdentityAndIgnorePadding) {
  torch::manual_seed(8);
  io::EncoderHeadsConfig c = small_heads(64);
  model::EncoderHeads plain(c);
  c.ctc_layers = 2;
  model::EncoderHeads deep(c);
  std::map<std::string, at::Tensor> mine;
  for (const auto& item : deep->named_parameters()) mine[item.key()] = item.value();
  ASSERT_EQ(mine.count("ctc_layers.1.fc2.weight"), 1u);
  {
    at::NoGradGuard no_grad;
    for (const auto& item : plain->named_parameters()) mine.at(item.key()).copy_(item.value());
  }
  const at::Tensor h = torch::randn({1, 7, 64});
  const model::EncoderHeadsOutput p = plain->forward(h, {}, true), d = deep->forward(h, {}, true);
  EXPECT_TRUE(torch::allclose(p.ctc_logits, d.ctc_logits, 1e-6, 1e-6));
  EXPECT_TRUE(torch::equal(p.emotion_logits, d.emotion_logits));
  // Trained blocks change the transcription only, and a padded row equals the row alone.
  {
    at::NoGradGuard no_grad;
    for (const char* k : {"ctc_layers.0.fc2.weight", "ctc_layers.0.self_attn.out_proj.weight",
                          "ctc_layers.1.self_attn.out_proj.weight"}) {
      mine.at(k).normal_(0, 0.2);
    }
  }
  const model::EncoderHeadsOutput changed = deep->forward(h, {}, true);
  EXPECT_FALSE(torch::allclose(p.ctc_logits, changed.ctc_logits, 1e-3, 1e-3));
  EXPECT_TRUE(torch::equal(p.emotion_logits, changed.emotion_logits));
  at::Tensor batch = torch::full({2, 10, 64}, 50.0f);
  batch[0].narrow(0, 0, 7).copy_(h[0]);
  batch[1].copy_(torch::randn({10, 64}));
  const model::EncoderHeadsOutput both = deep->forward(batch, torch::tensor({7, 10}), true);
  EXPECT_TRUE(torch::allclose(both.ctc_logits[0].narrow(0, 0, 7), changed.ctc_logits[0], 1e-5, 1e-5));
}

// The prosody expert reads the functionals alone, and the heard emotion is the product of the two
// posteriors, p_head^(1 - w) p_expert^w, renormalised (computed here from probabilities).
TEST(EncoderHeads, TheProsodyExpertHearsOnlyTheProsodyAndIsFusedAsAWeightedProduct) {
  torch::manual_seed(6);
  io::EncoderHeadsConfig c;
  c.input_size = 16;
  c.hidden_size = 8;
  c.ctc_alphabet = {"a", "b"};
  c.prosody_features = {"f0_mean_hz", "loudness_db", "speaking_rate_syl_per_s"};
  c.prosody_expert_hidden = 5;
  c.prosody_expert_weight = 0.25;
  model::EncoderHeads heads(c);
  heads->set_prosody_statistics({120, -30, 4}, {30, 6, 1.5});
  const at::Tensor prosody = torch::tensor({{180.0f, -20.0f, NAN}, {95.0f, -41.0f, 3.0f}});
  const model::EncoderHeadsOutput a = heads->forward(torch::randn({2, 6, 16}), {}, false, prosody);
  const model::EncoderHeadsOutput b = heads->forward(torch::randn({2, 6, 16}), {}, false, prosody);
  EXPECT_TRUE(torch::equal(a.prosody_logits, b.prosody_logits));  // other states, the same expert output
  EXPECT_FALSE(torch::allclose(a.head_logits, b.head_logits));
  // The expert by hand: z = clamp((x - mean) / std), NaN -> 0, then Linear -> GELU -> Linear.
  at::Tensor z = ((prosody - torch::tensor({120.0f, -30.0f, 4.0f})) / torch::tensor({30.0f, 6.0f, 1.5f}));
  z = torch::nan_to_num(z, 0.0).clamp(-5, 5);
  std::map<std::string, at::Tensor> w;
  for (const auto& item : heads->named_parameters()) w[item.key()] = item.value();
  ASSERT_EQ(w.count("prosody_expert.0.weight"), 1u);
  const at::Tensor hidden = torch::gelu(z.matmul(w["prosody_expert.0.weight"].t()) + w["prosody_expert.0.bias"]);
  const at::Tensor expert = hidden.matmul(w["prosody_expert.1.weight"].t()) + w["prosody_expert.1.bias"];
  EXPECT_TRUE(torch::allclose(a.prosody_logits, expert, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(heads->prosody_expert_logits(prosody), expert, 1e-5, 1e-6));  // the expert alone
  const at::Tensor product = torch::softmax(a.head_logits, -1).pow(0.75) * torch::softmax(expert, -1).pow(0.25);
  EXPECT_TRUE(torch::allclose(torch::softmax(a.emotion_logits, -1), product / product.sum(-1, true), 1e-5, 1e-6));
  // Without an expert the heard emotion is the head's.
  c.prosody_expert_hidden = 0;
  model::EncoderHeads plain(c);
  const model::EncoderHeadsOutput p = plain->forward(torch::randn({2, 6, 16}), {}, false, prosody);
  EXPECT_FALSE(p.prosody_logits.defined());
  EXPECT_TRUE(torch::equal(p.emotion_logits, p.head_logits));
}

TEST(EncoderPretrain, RecipeKeysAreCheckedInOneLine) {
  const json base = json::parse(R"({"stage": "encoder", "out": "runs/e", "model": {"from": "models/attune-small"},
                                    "data": {"train": ["a", "b"], "valid": "v"}})");
  train::Recipe r = train::parse_recipe(base, "e.json");
  EXPECT_EQ(r.stage, train::kEncoderStage);
  EXPECT_EQ(r.pretrain.train_builds.size(), 2u);
  EXPECT_EQ(r.pretrain.valid_builds.size(), 1u);
  EXPECT_EQ(r.parts, (std::vector<std::string>{"encoder", "encoder_heads"}));
  auto message = [&](const std::vector<std::string>& overrides) {
    try {
      train::parse_recipe(base, "e.json", overrides);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(message({"augment.reel=0.5"}).find("e.json: augment.reel: unknown key"), std::string::npos);
  EXPECT_NE(message({"data.real_share=1.5"}).find("data.real_share"), std::string::npos);
  EXPECT_NE(message({"loss.ctc=-1"}).find("loss.ctc"), std::string::npos);
  EXPECT_NE(message({"model.heads.prosody_expert_weight=1.5"}).find("model.heads.prosody_expert_weight"),
            std::string::npos);
  EXPECT_NE(message({"loss.prosody_expert=-1"}).find("loss.prosody_expert"), std::string::npos);
  EXPECT_NE(message({"model.heads.ctc_layers=-1"}).find("model.heads.ctc_layers"), std::string::npos);
  EXPECT_NE(message({"model.heads.ctc_encoder=1"}).find("model.heads.ctc_encoder: expected true or false"),
            std::string::npos);
  EXPECT_TRUE(train::parse_recipe(base, "e.json", {"model.heads.ctc_encoder=true"}).pretrain.ctc_encoder);
  EXPECT_NE(message({"train.parts=[\"ctc\"]", "loss.ctc=0"}).find("nothing it names has a loss"), std::string::npos);
  EXPECT_NE(message({"train.parts=[\"prosody_expert\"]", "loss.prosody_expert=0"}).find("train.parts"),
            std::string::npos);
  EXPECT_EQ(train::parse_recipe(base, "e.json", {"train.parts=[\"ctc\"]"}).parts, (std::vector<std::string>{"ctc"}));
  EXPECT_EQ(r.pretrain.prosody_expert_hidden, 64);
  EXPECT_NE(message({"train.parts=[\"adapter\"]"}).find("train.parts"), std::string::npos);
  EXPECT_NE(message({"data.train=[]"}).find("data.train"), std::string::npos);
  EXPECT_NE(message({"stage=\"encoders\""}).find("stage"), std::string::npos);
  for (const std::string& m : {message({"augment.reel=0.5"}), message({"loss.ctc=-1"})}) {
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}
