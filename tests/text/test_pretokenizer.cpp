// The pre-tokenizer: the hand-written matcher for the GPT-2 / Qwen2 / Llama-3 regexes must split
// exactly as PCRE2 does with the same pattern (the independent reference), on tricky random
// strings and on real dialogue text; Split behaviours follow the examples of Hugging Face's
// SplitDelimiterBehavior documentation.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "common/file_util.h"
#include "support/test_support.h"
#include "text/bpe_trainer.h"
#include "text/pretokenizer.h"

namespace fs = std::filesystem;
using namespace attune::text;

namespace {

using Spans = std::vector<std::pair<size_t, size_t>>;

Spans builtin_spans(const detail::Regex& re, std::string_view text) {
  Spans s;
  re.for_each_match(text, [&](size_t b, size_t e) { s.emplace_back(b, e); });
  return s;
}

Spans pcre2_spans(const detail::Regex& re, std::string_view text) {
  Spans s;
  re.for_each_match_pcre2(text, [&](size_t b, size_t e) { s.emplace_back(b, e); });
  return s;
}

// Strings built from pieces that exercise every branch: kinds of space, newlines, letters in
// several scripts, numbers, apostrophes and contractions in both cases, long s, punctuation,
// combining marks, emoji, control characters and invalid bytes.
std::string random_text(std::mt19937& rng, int pieces) {
  static const std::vector<std::string> alphabet = {
      " ",        "  ",   "\t", "\n",     "\r",     "\r\n",       "\u00A0",  "\u3000", "\u0085", "\u2028",
      "a",        "Z",    "ab", "\u00E9", "\u4F60", "\u0416",     "\u17A2",  "1",      "9",      "\u00BD",
      "\u0663",   "'",    "'s", "'S",     "'re",    "'LL",        "'\u017F", "'d",     "!",      "?",
      "...",      "-",    "(",  "\u2014", "\u0301", "\U0001F600", "\u200D",  "\x01",   "\x7F",   "\xFF",
      "\xE4\xBD", "\x80", "_",  "$",      "\"",     "\\",         "\v",      "\f"};
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::string s;
  for (int i = 0; i < pieces; ++i) s += alphabet[pick(rng)];
  return s;
}

}  // namespace

TEST(PreTokenizer, AdaptsOnigurumaWhiteSpaceForPcre2) {
  EXPECT_EQ(detail::adapt_pattern(R"(\s+(?!\S))"), R"([\s\x{85}]+(?![^\s\x{85}]))");
  EXPECT_EQ(detail::adapt_pattern(R"([^\s\p{L}])"), R"([^\s\x{85}\p{L}])");
  EXPECT_EQ(detail::adapt_pattern(R"(\\s)"), R"(\\s)");  // an escaped backslash, then 's'
}

TEST(PreTokenizer, BuiltinMatcherEqualsPcre2OnRandomText) {
  std::mt19937 rng(1234);
  for (Preset preset : {Preset::kGpt2, Preset::kQwen2, Preset::kLlama3}) {
    const detail::Regex re(preset_regex(preset), false, "test");
    ASSERT_STRNE(re.builtin(), "");
    for (int i = 0; i < 4000; ++i) {
      const std::string text = random_text(rng, 1 + i % 24);
      ASSERT_EQ(builtin_spans(re, text), pcre2_spans(re, text))
          << preset_name(preset) << " differs on a random string of " << text.size() << " bytes: " << text;
    }
  }
}

// English and Chinese dialogue: the corpora in ../shared, or, on a fresh clone, the committed corpus
// excerpts read as raw text (DailyDialog JSONL and the CPED CSV, in Chinese).
TEST(PreTokenizer, BuiltinMatcherEqualsPcre2OnDialogueText) {
  std::vector<std::pair<fs::path, std::string>> texts;
  if (auto shared = attune::testing::shared_dir()) {
    for (const fs::path& file : {*shared / "data" / "text" / "dailydialog" / "validation.jsonl",
                                 *shared / "data" / "text" / "smilechat_zh" / "smilechat.12k.jsonl.gz"}) {
      ASSERT_TRUE(fs::exists(file)) << file << " is absent";
      std::string text;
      for_each_training_text(file, [&](std::string_view t) {
        if (text.size() < 1'500'000) text.append(t).append("\n");
      });
      texts.emplace_back(file, std::move(text));
    }
  } else {
    for (const char* name : {"data/dailydialog/validation.jsonl", "data/cped/valid_split.csv"}) {
      const fs::path file = attune::testing::fixtures_dir() / name;
      texts.emplace_back(file, attune::common::read_file(file));
    }
  }
  for (const auto& [file, text] : texts) {
    ASSERT_FALSE(text.empty()) << file;
    for (Preset preset : {Preset::kGpt2, Preset::kQwen2, Preset::kLlama3}) {
      const detail::Regex re(preset_regex(preset), false, "test");
      EXPECT_EQ(builtin_spans(re, text), pcre2_spans(re, text)) << preset_name(preset) << " on " << file;
    }
  }
}

TEST(PreTokenizer, SplitBehavioursMatchTheHuggingFaceDocumentation) {
  // "the-final--countdown" split on "-" (examples from tokenizers' SplitDelimiterBehavior docs).
  const std::map<std::string, std::vector<std::string>> expected = {
      {"Removed", {"the", "final", "countdown"}},
      {"Isolated", {"the", "-", "final", "-", "-", "countdown"}},
      {"MergedWithPrevious", {"the-", "final-", "-", "countdown"}},
      {"MergedWithNext", {"the", "-final", "-", "-countdown"}},
      {"Contiguous", {"the", "-", "final", "--", "countdown"}},
  };
  for (const auto& [behavior, pieces] : expected) {
    const nlohmann::json j = {{"type", "Sequence"},
                              {"pretokenizers",
                               {{{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}},
                                {{"type", "ByteLevel"}, {"use_regex", false}}}}};
    const auto pre = detail::PreTokenizer::from_json(j, "test");
    std::vector<std::string> got;
    pre.split("the-final--countdown", [&](std::string_view p) { got.emplace_back(p); });
    EXPECT_EQ(got, pieces) << behavior;
  }
}

TEST(PreTokenizer, Gpt2SplitsAsTheReferenceRegexDoes) {
  const auto pre = detail::PreTokenizer::from_preset(Preset::kGpt2);
  std::vector<std::string> got;
  pre.split("Hello world! I'm   here\n", [&](std::string_view p) { got.emplace_back(p); });
  EXPECT_EQ(got, (std::vector<std::string>{"Hello", " world", "!", " I", "'m", "  ", " here", "\n"}));
}

TEST(PreTokenizer, ByteLevelMappingIsGpt2s) {
  EXPECT_EQ(detail::bytes_to_token(" hello\n"), "\u0120hello\u010A");
  std::string bytes;
  ASSERT_TRUE(detail::token_to_bytes("\u0120hello\u010A", bytes));
  EXPECT_EQ(bytes, " hello\n");
  EXPECT_FALSE(detail::token_to_bytes("\u4F60", bytes));  // not a byte-level character
  // All 256 bytes round-trip through distinct characters.
  std::set<char32_t> seen;
  for (int b = 0; b < 256; ++b) seen.insert(detail::byte_to_unicode(static_cast<uint8_t>(b)));
  EXPECT_EQ(seen.size(), 256u);
}
