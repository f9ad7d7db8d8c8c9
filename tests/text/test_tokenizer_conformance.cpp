// Conformance with the reference Hugging Face tokenizer: every test vector llama.cpp ships for the
// GPT-2 and Qwen2 vocabularies (../shared/fixtures/tokenizer/vectors, made with HF's
// encode(text, add_special_tokens=False)) must give exactly the same ids, through every route that
// loads the vocabulary. The fixtures are read in place. On a fresh clone (no ../shared), the shipped
// tokenizer is checked against vectors from an independent Python BPE
// (tests/fixtures/make_tokenizer_vectors.py).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "attune/error.h"
#include "common/file_util.h"
#include "support/test_support.h"
#include "text/tokenizer.h"

namespace fs = std::filesystem;
using attune::text::Tokenizer;

namespace {

struct Vector {
  std::string text;
  std::vector<int32_t> ids;
};

// .inp: strings each followed by "\n__ggml_vocab_test__\n" (never trimmed); .out: one line of
// " <id>" per string.
std::vector<Vector> read_vectors(const fs::path& dir, const std::string& name) {
  const std::string inp = attune::common::read_file(dir / ("ggml-vocab-" + name + ".gguf.inp"));
  const std::string out = attune::common::read_file(dir / ("ggml-vocab-" + name + ".gguf.out"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Vector> vectors;
  for (size_t pos = 0; pos < inp.size();) {
    size_t end = inp.find(sep, pos);
    if (end == std::string::npos) break;
    vectors.push_back({inp.substr(pos, end - pos), {}});
    pos = end + sep.size();
  }
  std::istringstream lines(out);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line)) {
    if (i >= vectors.size()) break;
    std::istringstream ids(line);
    int32_t id;
    while (ids >> id) vectors[i].ids.push_back(id);
    ++i;
  }
  EXPECT_EQ(i, vectors.size()) << name << ": .out has " << i << " lines for " << vectors.size() << " strings";
  return vectors;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += " " + std::to_string(id);
  return s;
}

// Checks every vector; returns how many matched.
size_t check_all(const Tokenizer& tok, const std::vector<Vector>& vectors, const std::string& route) {
  size_t passed = 0;
  for (size_t i = 0; i < vectors.size(); ++i) {
    const auto ids = tok.encode(vectors[i].text);
    if (ids == vectors[i].ids) {
      ++passed;
    } else {
      ADD_FAILURE() << route << " vector " << i << " text \"" << vectors[i].text << "\"\n  expected"
                    << show(vectors[i].ids) << "\n  got     " << show(ids);
    }
    EXPECT_EQ(tok.decode(ids), vectors[i].text) << route << " vector " << i << " does not round-trip";
  }
  std::printf("[ conformance ] %s: %zu/%zu vectors match\n", route.c_str(), passed, vectors.size());
  return passed;
}

void check_shipped_tokenizer() {
  const auto fixture =
      nlohmann::json::parse(attune::common::read_file(attune::testing::fixtures_dir() / "attune_bpe_vectors.json"));
  std::vector<Vector> vectors;
  for (const auto& v : fixture.at("vectors")) {
    vectors.push_back({v.at("text").get<std::string>(), v.at("ids").get<std::vector<int32_t>>()});
  }
  ASSERT_EQ(vectors.size(), 21u);
  const Tokenizer tok = Tokenizer::load(attune::testing::source_dir() / fixture.at("tokenizer").get<std::string>());
  EXPECT_EQ(tok.vocab_size(), 8192);
  size_t passed = 0;
  for (const Vector& v : vectors) {
    const auto ids = tok.encode(v.text);
    passed += ids == v.ids;
    EXPECT_EQ(ids, v.ids) << "\"" << v.text << "\"\n  expected" << show(v.ids) << "\n  got     " << show(ids);
  }
  std::printf("[ conformance ] shipped tokenizer: %zu/%zu vectors match\n", passed, vectors.size());
}

void check_gpt2(const fs::path& shared) {
  const fs::path dir = shared / "fixtures" / "tokenizer";
  const auto vectors = read_vectors(dir / "vectors", "gpt-2");
  ASSERT_EQ(vectors.size(), 46u);
  const Tokenizer tok = Tokenizer::load(dir / "gpt2");
  EXPECT_EQ(tok.vocab_size(), 50257);
  EXPECT_EQ(tok.merge_count(), 50000u);
  EXPECT_EQ(check_all(tok, vectors, "gpt-2 vocab.json+merges.txt"), vectors.size());
}

void check_qwen2_tokenizer_json(const fs::path& shared) {
  const fs::path dir = shared / "fixtures" / "tokenizer";
  const auto vectors = read_vectors(dir / "vectors", "qwen2");
  ASSERT_EQ(vectors.size(), 46u);
  const Tokenizer tok = Tokenizer::load(dir / "qwen2" / "tokenizer.json");
  EXPECT_EQ(tok.vocab_size(), 151665);
  EXPECT_EQ(tok.added_tokens().size(), 22u);
  EXPECT_EQ(check_all(tok, vectors, "qwen2 tokenizer.json"), vectors.size());
}

void check_qwen2_vocab_merges(const fs::path& shared) {
  const fs::path dir = shared / "fixtures" / "tokenizer";
  const auto vectors = read_vectors(dir / "vectors", "qwen2");
  // Route 1: the pair, with tokenizer_config.json beside it naming Qwen2Tokenizer.
  const Tokenizer tok = Tokenizer::from_vocab_merges(dir / "qwen2" / "vocab.json", dir / "qwen2" / "merges.txt");
  EXPECT_EQ(tok.vocab_size(), 151665);
  EXPECT_EQ(tok.token_to_id("<|im_end|>"), 151645);
  EXPECT_EQ(check_all(tok, vectors, "qwen2 vocab.json+merges.txt (tokenizer_config.json)"), vectors.size());
  // Route 2: the pair with the preset given explicitly.
  attune::text::VocabMergesOptions options;
  options.preset = attune::text::Preset::kQwen2;
  const Tokenizer explicit_tok =
      Tokenizer::from_vocab_merges(dir / "qwen2" / "vocab.json", dir / "qwen2" / "merges.txt", options);
  EXPECT_EQ(check_all(explicit_tok, vectors, "qwen2 vocab.json+merges.txt (preset qwen2)"), vectors.size());
}

}  // namespace

// The shipped tokenizer against an independent Python BPE, always; with ../shared, every vector
// llama.cpp ships for GPT-2 and Qwen2 through every route that loads those vocabularies.
TEST(TokenizerConformance, MatchesReferenceEncodings) {
  check_shipped_tokenizer();
  if (auto shared = attune::testing::shared_dir()) {
    check_gpt2(*shared);
    check_qwen2_tokenizer_json(*shared);
    check_qwen2_vocab_merges(*shared);
  } else {
    std::printf("[ conformance ] GPT-2 and Qwen2 vectors: ../shared absent, not checked\n");
  }
}
