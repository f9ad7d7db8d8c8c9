// The encoder pre-training stage's pure parts: CTC transcripts, the alphabet, the edit distance
// behind CER, greedy CTC decoding, the heads' padding invariance, and its recipe keys.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "model/encoder_heads.h"
#include "train/encoder_pretrain.h"
#include "train/recipe.h"

using namespace attune;
using nlohmann::json;

namespace {

std::vector<std::string> chars(const std::string& s) {
  std::vector<std::string> out;
  for (char c : s) out.emplace_back(1, c);
  return out;
}

}  // namespace

TEST(EncoderPretrain, CtcCharactersLowerCaseAndKeepOnlyLettersDigitsApostrophes) {
  EXPECT_EQ(train::ctc_characters("Don't GO -- now, 42!"), chars("don't go now 42"));
  EXPECT_EQ(train::ctc_characters("  ...Hi  "), chars("hi"));
  EXPECT_EQ(train::ctc_characters("it\xE2\x80\x99s"), chars("it's"));  // a typographic apostrophe
  // German capitals to lower case; each UTF-8 character one entry.
  EXPECT_EQ(train::ctc_characters("\xC3\x9C"
                                  "ber"),
            (std::vector<std::string>{"\xC3\xBC", "b", "e", "r"}));
  EXPECT_TRUE(train::ctc_characters("?!").empty());
}

TEST(EncoderPretrain, AlphabetKeepsFrequentCharactersMostFrequentFirst) {
  const std::vector<std::vector<std::string>> t = {chars("aab"), chars("ab c"), chars("a")};
  // a x4, b x2, ' ' x1, c x1
  EXPECT_EQ(train::build_ctc_alphabet(t, 2), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(train::build_ctc_alphabet(t, 1), (std::vector<std::string>{"a", "b", " ", "c"}));
}

TEST(EncoderPretrain, EditDistanceMatchesHandCountedCases) {
  EXPECT_EQ(train::edit_distance(chars("kitten"), chars("sitting")), 3);
  EXPECT_EQ(train::edit_distance(chars("flaw"), chars("lawn")), 2);
  EXPECT_EQ(train::edit_distance({}, chars("abc")), 3);
  EXPECT_EQ(train::edit_distance(chars("same"), chars("same")), 0);
}

TEST(EncoderHeads, GreedyCtcMergesRepeatsAndDropsBlanks) {
  // Frames: a a blank a b b blank -> "aab"
  const std::vector<int64_t> best = {1, 1, 0, 1, 2, 2, 0};
  at::Tensor logits = at::zeros({7, 3});
  for (int64_t t = 0; t < 7; ++t) logits[t][best[static_cast<size_t>(t)]] = 5;
  EXPECT_EQ(model::ctc_greedy_decode(logits, {"a", "b"}), "aab");
}

TEST(EncoderHeads, PaddingNeverReachesTheRow) {
  torch::manual_seed(5);
  io::EncoderHeadsConfig c;
  c.input_size = 16;
  c.hidden_size = 8;
  c.ctc_alphabet = {"a", "b", "c"};
  model::EncoderHeads heads(c);
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
  EXPECT_NE(message({"train.parts=[\"adapter\"]"}).find("train.parts"), std::string::npos);
  EXPECT_NE(message({"data.train=[]"}).find("data.train"), std::string::npos);
  EXPECT_NE(message({"stage=\"encoders\""}).find("stage"), std::string::npos);
  for (const std::string& m : {message({"augment.reel=0.5"}), message({"loss.ctc=-1"})}) {
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}
