// `attune tokenize` and `attune tokenizer-train`, run as a user would.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "common/file_util.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using attune::testing::run_attune;
using attune::testing::TempDir;

// The shipped tokenizer's ids for "Hello world" and " Hello world", from the independent Python BPE's
// vectors (tests/fixtures/make_tokenizer_vectors.py).
std::pair<std::string, std::string> shipped_hello_ids() {
  const auto fixture =
      nlohmann::json::parse(attune::common::read_file(attune::testing::fixtures_dir() / "attune_bpe_vectors.json"));
  std::string a, b;
  for (const auto& v : fixture.at("vectors")) {
    std::string ids;
    for (int id : v.at("ids")) ids += (ids.empty() ? "" : " ") + std::to_string(id);
    if (v.at("text") == "Hello world") a = ids;
    if (v.at("text") == " Hello world") b = ids;
  }
  return {a, b};
}

TEST(TokenizeCli, EncodesAndDecodes) {
  const std::string dir = (attune::testing::source_dir() / "models/attune-small").string();
  const auto [hello, space_hello] = shipped_hello_ids();
  ASSERT_FALSE(hello.empty());
  auto r = run_attune("tokenize --tokenizer " + dir, std::string("Hello world"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, hello + "\n");
  r = run_attune("tokenize --tokenizer " + dir + " --lines", std::string("Hello world\n Hello world"));
  EXPECT_EQ(r.out, hello + "\n" + space_hello + "\n");
  r = run_attune("tokenize -q --tokenizer " + dir + "/tokenizer.json --decode", "8185 " + hello + " 8186\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>Hello world<|im_end|>");  // 8185, 8186: <|im_start|>, <|im_end|> in its tokenizer.json
  EXPECT_EQ(r.err, "");

  auto shared = attune::testing::shared_dir();
  if (!shared) return;
  // Qwen2's ids, from llama.cpp's reference vectors.
  const std::string qwen = (*shared / "fixtures/tokenizer/qwen2").string();
  r = run_attune("tokenize --tokenizer " + qwen, std::string("Hello world"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "9707 1879\n");
  r = run_attune("tokenize --tokenizer " + qwen + "/tokenizer.json --tokens", std::string("Hello world"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello \u0120world\n");
  r = run_attune("tokenize -q --tokenizer " + qwen + " --decode", std::string("151644 9707 1879 151645\n"));
  EXPECT_EQ(r.out, "<|im_start|>Hello world<|im_end|>");
  r = run_attune("tokenize --tokenizer " + qwen + " --decode --skip-special", std::string("[151644, 9707, 1879]"));
  EXPECT_EQ(r.out, "Hello world");
  r = run_attune("tokenize --tokenizer " + qwen + " --lines", std::string("Hello world\n Hello world"));
  EXPECT_EQ(r.out, "9707 1879\n21927 1879\n");
}

TEST(TokenizeCli, ReportsBadInputInOneLine) {
  auto r = run_attune("tokenize --tokenizer /nonexistent/tokenizer", std::string("x"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("attune: error: /nonexistent/tokenizer"), std::string::npos) << r.err;

  const std::string dir = (attune::testing::source_dir() / "models/attune-small").string();
  r = run_attune("tokenize --tokenizer " + dir + " --decode", std::string("12 abc"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("id 2 is \"abc\""), std::string::npos) << r.err;
  r = run_attune("tokenize --tokenizer " + dir + " --decode", std::string("99999999"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not in the vocabulary"), std::string::npos) << r.err;
}

TEST(TokenizeCli, TrainsATokenizerThatTokenizeReads) {
  TempDir tmp;
  std::string corpus;
  for (int i = 0; i < 50; ++i) corpus += "I feel happy today. You seem sad, what happened?\n\u4F60\u597D\uFF01\n";
  attune::testing::write_bytes(tmp / "corpus.txt", corpus);
  const fs::path out = tmp / "tok";
  auto r = run_attune("tokenizer-train --out " + out.string() + "/ --vocab-size 300 " + (tmp / "corpus.txt").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(out / "tokenizer.json"));
  EXPECT_NE(r.err.find("tokenizer-train:"), std::string::npos);

  const std::string text = "You seem happy! <|im_end|>";
  r = run_attune("tokenize -q --tokenizer " + out.string(), text);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_attune("tokenize -q --decode --tokenizer " + out.string(), r.out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, text);

  r = run_attune("tokenizer-train --out " + (tmp / "x.json").string() + " --vocab-size 10 " +
                 (tmp / "corpus.txt").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("vocab_size 10 is too small"), std::string::npos) << r.err;
}
