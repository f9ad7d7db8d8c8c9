// The BPE trainer: a hand-derived merge sequence, round trips through the trained tokenizer, the
// structure of the written tokenizer.json (what Hugging Face's deserialiser expects), atomic saving
// and option validation.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "attune/error.h"
#include "common/file_util.h"
#include "support/test_support.h"
#include "text/bpe_trainer.h"
#include "text/pretokenizer.h"

namespace fs = std::filesystem;
using attune::testing::TempDir;
using namespace attune::text;

namespace {

std::string small_corpus() {
  std::string text;
  const char* lines[] = {
      "I feel so happy today, thank you for asking!",
      "Why are you sad? Tell me what happened.",
      "I'm worried about my exam tomorrow...",
      "\u6211\u4ECA\u5929\u5F88\u5F00\u5FC3\uFF0C\u8C22\u8C22\u4F60\uFF01",
      "That sounds really frustrating \U0001F624 I'm sorry.",
      "<|im_start|>user\nhello there<|im_end|>",
  };
  for (int r = 0; r < 40; ++r) {
    for (const char* l : lines) text += std::string(l) + "\n";
  }
  return text;
}

BpeTrainerOptions small_options(int32_t vocab_size) {
  BpeTrainerOptions o;
  o.vocab_size = vocab_size;
  return o;
}

}  // namespace

TEST(BpeTrainer, LearnsTheMostFrequentPairsFirst) {
  // Words: "ab" x5, "abc" x3, "bc" x1. Pair counts: (a,b) 8, (b,c) 4 -> merge "a b"; then
  // (ab,c) 3, (b,c) 1 -> merge "ab c"; (b,c) 1 is below min_frequency 2 -> stop.
  BpeTrainerOptions o;
  o.vocab_size = 1000;
  o.preset = Preset::kGpt2;
  o.special_tokens = {};
  BpeTrainer trainer(o);
  for (int i = 0; i < 5; ++i) trainer.add_text("ab");
  for (int i = 0; i < 3; ++i) trainer.add_text("abc");
  trainer.add_text("bc");
  trainer.train();
  const auto j = nlohmann::json::parse(trainer.to_json());
  EXPECT_EQ(j["model"]["merges"], nlohmann::json({"a b", "ab c"}));
  EXPECT_EQ(j["model"]["vocab"]["ab"], 256);
  EXPECT_EQ(j["model"]["vocab"]["abc"], 257);
  EXPECT_EQ(trainer.stats().unique_words, 3);
  EXPECT_EQ(trainer.stats().words, 9);
}

TEST(BpeTrainer, OverlappingPairsAreCountedOnce) {
  // "aaaa" x3: (a,a) occurs 3 times per word but merges twice -> "aa aa" next with count 3.
  BpeTrainerOptions o;
  o.vocab_size = 1000;
  o.special_tokens = {};
  o.preset = Preset::kGpt2;
  BpeTrainer trainer(o);
  for (int i = 0; i < 3; ++i) trainer.add_text("aaaa");
  trainer.train();
  const auto j = nlohmann::json::parse(trainer.to_json());
  EXPECT_EQ(j["model"]["merges"], nlohmann::json({"a a", "aa aa"}));
}

TEST(BpeTrainer, TrainedTokenizerRoundTripsAndCompresses) {
  BpeTrainer trainer(small_options(400));
  trainer.add_text(small_corpus());
  trainer.train();
  const Tokenizer tok = trainer.tokenizer();
  EXPECT_LE(tok.vocab_size(), 400);
  EXPECT_EQ(tok.added_tokens().size(), default_special_tokens().size());
  // The special tokens come last, in the documented order.
  const int32_t first = tok.vocab_size() - static_cast<int32_t>(default_special_tokens().size());
  for (size_t i = 0; i < default_special_tokens().size(); ++i) {
    EXPECT_EQ(tok.token_to_id(default_special_tokens()[i]), first + static_cast<int32_t>(i));
    EXPECT_TRUE(tok.is_special(first + static_cast<int32_t>(i)));
  }
  const std::string corpus = small_corpus();
  const auto ids = tok.encode(corpus);
  EXPECT_EQ(tok.decode(ids), corpus);
  EXPECT_LT(ids.size() * 3, corpus.size()) << "frequent words should have become single tokens";
  EXPECT_TRUE(tok.find_token("\u0120happy").has_value());
  // Text it has never seen still round-trips (bytes are always in the vocabulary).
  for (const std::string& s :
       std::vector<std::string>{"\u00FCberraschend! \U0001F389", "\u0645\u0631\u062D\u0628\u0627",
                                std::string("\x00\xFF", 2), "<think>why?</think>"}) {
    EXPECT_EQ(tok.decode(tok.encode(s)), s);
  }
  EXPECT_EQ(tok.encode("<think>").size(), 1u);
}

TEST(BpeTrainer, WritesTheStructureHuggingFaceExpects) {
  BpeTrainer trainer(small_options(300));
  trainer.add_text(small_corpus());
  trainer.train();
  const auto j = nlohmann::json::parse(trainer.to_json());
  EXPECT_EQ(j["version"], "1.0");
  ASSERT_TRUE(j["model"].is_object());
  EXPECT_EQ(j["model"]["type"], "BPE");
  EXPECT_TRUE(j["model"]["dropout"].is_null());
  EXPECT_EQ(j["model"]["continuing_subword_prefix"], "");
  EXPECT_EQ(j["model"]["byte_fallback"], false);
  ASSERT_TRUE(j["model"]["vocab"].is_object());
  ASSERT_TRUE(j["model"]["merges"].is_array());
  const auto& vocab = j["model"]["vocab"];
  EXPECT_EQ(vocab.size(), 300u - default_special_tokens().size());
  EXPECT_EQ(j["model"]["merges"].size(), vocab.size() - 256);
  for (const auto& m : j["model"]["merges"]) {
    const std::string s = m.get<std::string>();
    const size_t sp = s.find(' ');
    ASSERT_NE(sp, std::string::npos);
    EXPECT_TRUE(vocab.contains(s.substr(0, sp)) && vocab.contains(s.substr(sp + 1)) &&
                vocab.contains(s.substr(0, sp) + s.substr(sp + 1)))
        << s;
  }
  // Ids 0-255 are the bytes in GPT-2's order ("!" is 0, "Ġ" (space) is 220).
  EXPECT_EQ(vocab["!"], 0);
  EXPECT_EQ(vocab["\u0120"], 220);
  ASSERT_TRUE(j["added_tokens"].is_array());
  ASSERT_EQ(j["added_tokens"].size(), default_special_tokens().size());
  for (const auto& t : j["added_tokens"]) {
    for (const char* key : {"id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"}) {
      EXPECT_TRUE(t.contains(key)) << key;
    }
    EXPECT_EQ(t["special"], true);
  }
  EXPECT_EQ(j["normalizer"]["type"], "NFC");
  EXPECT_EQ(j["pre_tokenizer"]["type"], "Sequence");
  EXPECT_EQ(j["pre_tokenizer"]["pretokenizers"][0]["type"], "Split");
  EXPECT_EQ(j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"], preset_regex(Preset::kQwen2));
  EXPECT_EQ(j["pre_tokenizer"]["pretokenizers"][0]["behavior"], "Isolated");
  EXPECT_EQ(j["pre_tokenizer"]["pretokenizers"][1]["type"], "ByteLevel");
  EXPECT_EQ(j["pre_tokenizer"]["pretokenizers"][1]["use_regex"], false);
  EXPECT_EQ(j["decoder"]["type"], "ByteLevel");
  EXPECT_EQ(j["post_processor"]["type"], "ByteLevel");
}

TEST(BpeTrainer, SavesAtomicallyAndLoadsBack) {
  TempDir tmp;
  BpeTrainer trainer(small_options(350));
  trainer.add_text(small_corpus());
  trainer.train();
  const fs::path out = tmp / "model" / "tokenizer.json";
  trainer.save(out);
  for (const auto& entry : fs::directory_iterator(out.parent_path())) {
    EXPECT_EQ(entry.path().filename(), "tokenizer.json") << "left a temporary file behind";
  }
  const Tokenizer loaded = Tokenizer::load(out.parent_path());
  const std::string text = small_corpus().substr(0, 500);
  EXPECT_EQ(loaded.encode(text), trainer.tokenizer().encode(text));
  EXPECT_EQ(loaded.vocab_size(), trainer.tokenizer().vocab_size());
}

TEST(BpeTrainer, IsDeterministic) {
  auto train = [] {
    BpeTrainer t(small_options(330));
    t.add_text(small_corpus());
    t.train();
    return t.to_json();
  };
  EXPECT_EQ(train(), train());
}

TEST(BpeTrainer, GptAndLlamaPresets) {
  for (Preset preset : {Preset::kGpt2, Preset::kLlama3}) {
    BpeTrainerOptions o = small_options(320);
    o.preset = preset;
    BpeTrainer trainer(o);
    trainer.add_text(small_corpus());
    trainer.train();
    const auto j = nlohmann::json::parse(trainer.to_json());
    EXPECT_TRUE(j["normalizer"].is_null());
    const Tokenizer tok = trainer.tokenizer();
    EXPECT_EQ(tok.decode(tok.encode(small_corpus())), small_corpus());
  }
}

TEST(BpeTrainer, ValidatesOptions) {
  BpeTrainerOptions o;
  o.vocab_size = 100;
  EXPECT_THROW(BpeTrainer{o}, attune::ConfigError);
  o = {};
  o.min_frequency = 0;
  EXPECT_THROW(BpeTrainer{o}, attune::ConfigError);
  o = {};
  o.special_tokens = {"<a>", "<a>"};
  EXPECT_THROW(BpeTrainer{o}, attune::ConfigError);
  EXPECT_THROW(parse_preset("bert"), attune::ConfigError);
}

TEST(TrainingText, ReadsJsonlFieldsAndPlainText) {
  TempDir tmp;
  attune::testing::write_bytes(tmp / "a.jsonl",
                               "{\"id\": \"x\", \"turns\": [{\"speaker\": \"A\", \"text\": \"Hi there\"}, "
                               "{\"speaker\": \"B\", \"text\": \"Hello\"}]}\n\n{\"utterance\": \"Bye\"}\n");
  std::vector<std::string> texts;
  for_each_training_text(tmp / "a.jsonl", [&](std::string_view t) { texts.emplace_back(t); });
  EXPECT_EQ(texts, (std::vector<std::string>{"Hi there", "Hello", "Bye"}));

  attune::testing::write_bytes(tmp / "b.txt", "line one\nline two\n");
  texts.clear();
  for_each_training_text(tmp / "b.txt", [&](std::string_view t) { texts.emplace_back(t); });
  EXPECT_EQ(texts, (std::vector<std::string>{"line one\nline two\n"}));

  attune::testing::write_bytes(tmp / "bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \n");
  try {
    for_each_training_text(tmp / "bad.jsonl", [](std::string_view) {});
    ADD_FAILURE() << "no error for a malformed line";
  } catch (const attune::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
}
