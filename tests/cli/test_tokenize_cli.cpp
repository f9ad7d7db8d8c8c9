// `attune tokenize` and `attune tokenizer-train`, run as a user would.
#include <gtest/gtest.h>

#include "support/test_support.h"

namespace fs = std::filesystem;
using attune::testing::run_attune;
using attune::testing::TempDir;

TEST(TokenizeCli, EncodesAndDecodesWithQwen2) {
  ATTUNE_REQUIRE_SHARED(shared);
  const std::string dir = (shared / "fixtures/tokenizer/qwen2").string();
  auto r = run_attune("tokenize --tokenizer " + dir, std::string("Hello world"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "9707 1879\n");  // ids from the reference vectors ("Hello world")

  r = run_attune("tokenize --tokenizer " + dir + "/tokenizer.json --tokens", std::string("Hello world"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello \u0120world\n");

  r = run_attune("tokenize -q --tokenizer " + dir + " --decode", std::string("151644 9707 1879 151645\n"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>Hello world<|im_end|>");
  EXPECT_EQ(r.err, "");

  r = run_attune("tokenize --tokenizer " + dir + " --decode --skip-special", std::string("[151644, 9707, 1879]"));
  EXPECT_EQ(r.out, "Hello world");

  r = run_attune("tokenize --tokenizer " + dir + " --lines", std::string("Hello world\n Hello world"));
  EXPECT_EQ(r.out, "9707 1879\n21927 1879\n");
}

TEST(TokenizeCli, ReportsBadInputInOneLine) {
  ATTUNE_REQUIRE_SHARED(shared);
  auto r = run_attune("tokenize --tokenizer /nonexistent/tokenizer", std::string("x"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("attune: error: /nonexistent/tokenizer"), std::string::npos) << r.err;

  const std::string dir = (shared / "fixtures/tokenizer/qwen2").string();
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
