// The character LM (text/char_lm.h) against interpolated Kneser-Ney worked out by hand, its
// distributions summing to 1 (pruned or not), its ARPA files, and the CTC prefix beam search
// (text/ctc_beam.h) against hand-summed path probabilities.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "attune/error.h"
#include "support/test_support.h"
#include "text/char_lm.h"
#include "text/ctc_beam.h"
#include "text/transcript.h"

namespace attune::text {
namespace {

using testing::ascii_chars;

double prob(const CharLm& lm, const std::vector<std::string>& context, const std::string& symbol) {
  return std::pow(10.0, lm.log10_prob(context, symbol));
}

// Sentences "a" and "ab", order 2. Adjusted unigram counts (distinct left neighbours): a 1, b 1,
// </s> 2, so D1 = n1 / (n1 + 2 n2) = 2 / 4 and the 3 seen symbols + <unk> share gamma = 0.5 * 3 / 4:
// p(a) = p(b) = 0.5 / 4 + 0.375 / 4 = 0.21875, p(</s>) = 1.5 / 4 + 0.09375 = 0.46875,
// p(<unk>) = 0.09375. Bigrams (raw counts) <s>a 2, a</s> 1, ab 1, b</s> 1: D2 = 3 / 5.
TEST(CharLm, InterpolatedKneserNeyAsWorkedOutByHand) {
  const CharLm lm = CharLm::train({ascii_chars("a"), ascii_chars("ab")}, {.order = 2, .min_count = 1});
  EXPECT_NEAR(prob(lm, {}, "a"), 0.21875, 1e-6);
  EXPECT_NEAR(prob(lm, {}, "</s>"), 0.46875, 1e-6);
  EXPECT_NEAR(prob(lm, {}, "z"), 0.09375, 1e-6);  // unknown: <unk>
  // After <s>: (2 - 0.6) / 2 + (0.6 * 1 / 2) p(a); b unseen there: 0.3 p(b).
  EXPECT_NEAR(prob(lm, {"<s>"}, "a"), 0.7 + 0.3 * 0.21875, 1e-6);
  EXPECT_NEAR(prob(lm, {"<s>"}, "b"), 0.3 * 0.21875, 1e-6);
  // After a (2 followers, total 2): gamma 0.6.
  EXPECT_NEAR(prob(lm, {"<s>", "a"}, "b"), 0.2 + 0.6 * 0.21875, 1e-6);
  EXPECT_NEAR(prob(lm, {"a"}, "</s>"), 0.2 + 0.6 * 0.46875, 1e-6);
  EXPECT_NEAR(prob(lm, {"a"}, "a"), 0.6 * 0.21875, 1e-6);
  // An unseen context backs off entirely.
  EXPECT_NEAR(prob(lm, {"q"}, "a"), 0.21875, 1e-6);
  EXPECT_EQ(lm.counts(), (std::vector<int64_t>{5, 4}));  // a b </s> <unk> <s>; the 4 bigrams
}

// Every distribution sums to 1 over the known symbols, </s> and <unk>: seen, unseen and <s>
// contexts, with and without pruning (whose mass the recomputed backoff weights carry).
TEST(CharLm, EveryDistributionSumsToOne) {
  std::vector<std::vector<std::string>> sentences;
  for (const char* s : {"i had my job interview this morning", "i think it went well", "my dog is sick",
                        "she just called me", "i did not get the job", "it is raining again", "i am so happy",
                        "this is the best day", "the interview went badly", "my sister called this morning"}) {
    sentences.push_back(ctc_characters(s));
  }
  std::vector<std::string> symbols = {"</s>", "<unk>"};
  for (char c = 'a'; c <= 'z'; ++c) {
    for (const auto& s : sentences) {
      if (std::find(s.begin(), s.end(), std::string(1, c)) != s.end()) {
        symbols.emplace_back(1, c);
        break;
      }
    }
  }
  symbols.emplace_back(" ");
  for (int64_t min_count : {1, 2}) {
    const CharLm lm = CharLm::train(sentences, {.order = 5, .min_count = min_count});
    for (const std::vector<std::string>& context :
         {std::vector<std::string>{"<s>"}, ascii_chars("<s>"), ascii_chars("the "), ascii_chars("job "),
          ascii_chars("xqz"), ascii_chars("my d"), std::vector<std::string>{"<s>", "i", " "},
          std::vector<std::string>{}}) {
      double sum = 0;
      for (const std::string& s : symbols) sum += prob(lm, context, s);
      EXPECT_NEAR(sum, 1.0, 1e-5) << "min_count " << min_count << ", context of " << context.size();
    }
    if (min_count == 2) {
      const CharLm full = CharLm::train(sentences, {.order = 5, .min_count = 1});
      EXPECT_LT(lm.counts()[4], full.counts()[4]);  // pruning left out singletons
    }
  }
}

TEST(CharLm, ArpaFilesRoundTripPlainAndCompressed) {
  std::vector<std::vector<std::string>> sentences = {ctc_characters("it's a cat"), ctc_characters("a cat sat"),
                                                     ctc_characters("the cat")};
  const CharLm lm = CharLm::train(sentences, {.order = 4, .min_count = 1});
  testing::TempDir dir;
  for (const char* name : {"lm.arpa", "lm.arpa.gz"}) {
    lm.save_arpa(dir / name);
    const CharLm back = CharLm::load_arpa(dir / name);
    EXPECT_EQ(back.order(), 4);
    EXPECT_EQ(back.counts(), lm.counts());
    for (const auto& context : {ascii_chars("a c"), ascii_chars("the"), ascii_chars("zz"), ascii_chars("it'")}) {
      for (const std::string& s : {"a", "t", " ", "</s>", "'", "q"}) {
        EXPECT_NEAR(back.log10_prob(context, s), lm.log10_prob(context, s), 1e-5) << name << " " << s;
      }
    }
  }
  std::ifstream in(dir / "lm.arpa");
  std::string first, second;
  std::getline(in, first);
  std::getline(in, second);
  EXPECT_EQ(first, "\\data\\");
  EXPECT_EQ(second, "ngram 1=" + std::to_string(lm.counts()[0]));
}

TEST(CharLm, MalformedArpaFilesAreClearErrors) {
  testing::TempDir dir;
  auto message = [&](const std::string& text) {
    std::ofstream(dir / "bad.arpa") << text;
    try {
      (void)CharLm::load_arpa(dir / "bad.arpa");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const std::string good = "\\data\\\nngram 1=2\n\n\\1-grams:\n-0.3\ta\n-0.3\t<unk>\n\n\\end\\\n";
  EXPECT_EQ(message(good), "(no error)");
  EXPECT_NE(message("\\data\\\nngram 1=2\n\n\\1-grams:\n-0.3\ta\n").find("truncated"), std::string::npos);
  EXPECT_NE(message("\\data\\\nngram 1=2\n\n\\1-grams:\n-0.3x\ta\n-0.3\t<unk>\n\\end\\\n").find("bad.arpa:5"),
            std::string::npos);
  EXPECT_NE(message("\\data\\\nngram 1=3\n\n\\1-grams:\n-0.3\ta\n-0.3\t<unk>\n\\end\\\n").find("declares 3"),
            std::string::npos);
  EXPECT_NE(message("\\data\\\nngram 1=1\n\n\\1-grams:\n-0.3\ta\n\\end\\\n").find("<unk>"), std::string::npos);
  EXPECT_NE(message("").find("truncated"), std::string::npos);
}

// Two frames over {blank, a}, p(blank) = 0.6 each. Greedy decoding picks blank blank (0.36), but the
// labelling "a" is more probable: aa + a- + -a = 0.16 + 0.24 + 0.24 = 0.64.
TEST(CtcBeam, FindsTheMostProbableLabellingNotThePath) {
  const std::vector<float> lp = {std::log(0.6f), std::log(0.4f), std::log(0.6f), std::log(0.4f)};
  EXPECT_EQ(ctc_beam_decode(lp, 2, {"a"}, nullptr, {.beam = 4}), "a");
  // Three frames a, blank, a: "aa"; a, a, a: "a".
  const float hi = std::log(0.98f), lo = std::log(0.02f);
  EXPECT_EQ(ctc_beam_decode(std::vector<float>{lo, hi, hi, lo, lo, hi}, 3, {"a"}, nullptr, {}), "aa");
  EXPECT_EQ(ctc_beam_decode(std::vector<float>{lo, hi, lo, hi, lo, hi}, 3, {"a"}, nullptr, {}), "a");
  EXPECT_THROW(ctc_beam_decode(lp, 3, {"a"}, nullptr, {}), InputError);
}

// The acoustics cannot tell c from k; a LM that has only seen "cat" can.
TEST(CtcBeam, TheLanguageModelChoosesAmongSoundAlikes) {
  const std::vector<std::string> alphabet = {"c", "k", "a", "t", " "};
  const CharLm lm = CharLm::train({ascii_chars("cat"), ascii_chars("a cat"), ascii_chars("the cat sat")},
                                  {.order = 3, .min_count = 1});
  auto frame = [](std::vector<std::pair<int, float>> probs) {
    std::vector<float> row(6, std::log(1e-4f));
    for (auto [c, p] : probs) row[static_cast<size_t>(c)] = std::log(p);
    return row;
  };
  std::vector<float> lp;
  for (const auto& row : {frame({{2, 0.5f}, {1, 0.49f}}), frame({{0, 0.9f}}), frame({{3, 0.9f}}), frame({{0, 0.9f}}),
                          frame({{4, 0.9f}})}) {
    lp.insert(lp.end(), row.begin(), row.end());
  }
  EXPECT_EQ(ctc_beam_decode(lp, 5, alphabet, nullptr, {}), "kat");  // k is a hair more likely
  EXPECT_EQ(ctc_beam_decode(lp, 5, alphabet, &lm, {.lm_weight = 0.5, .char_bonus = 1}), "cat");
  // Spaces: never first, last or twice.
  std::vector<float> spaced;
  for (const auto& row : {frame({{5, 0.9f}}), frame({{3, 0.9f}}), frame({{5, 0.9f}}), frame({{0, 0.9f}}),
                          frame({{5, 0.9f}}), frame({{4, 0.9f}}), frame({{5, 0.9f}})}) {
    spaced.insert(spaced.end(), row.begin(), row.end());
  }
  EXPECT_EQ(ctc_beam_decode(spaced, 7, alphabet, nullptr, {}), "a t");
}

}  // namespace
}  // namespace attune::text
