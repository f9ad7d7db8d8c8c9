// detokenize_english on lines copied from the corpora (expected outputs written by hand), then the
// readers of the tokenised corpora on the real files in ../shared/data: known lines come out as
// written English and no line keeps a tokenisation artefact.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "data/detokenize.h"
#include "data/readers.h"
#include "support/test_support.h"

namespace attune::data {
namespace {

TEST(Detokenize, LinesOfTheCorpora) {
  // DailyDialog
  EXPECT_EQ(detokenize_english("Say , Jim , how about going for a few beers after dinner ?"),
            "Say, Jim, how about going for a few beers after dinner?");
  EXPECT_EQ(detokenize_english("Well , that's too far.Can you change some money for me ?"),
            "Well, that's too far. Can you change some money for me?");
  EXPECT_EQ(detokenize_english("I \xE2\x80\x99 m a defender . You don \xE2\x80\x99 t have to"),
            "I'm a defender. You don't have to");
  EXPECT_EQ(detokenize_english("I got $ 500 a week ."), "I got $500 a week.");
  EXPECT_EQ(detokenize_english("I \\ ' ll be at your place at seven ."), "I'll be at your place at seven.");
  EXPECT_EQ(detokenize_english("It has doubled by 120 % ."), "It has doubled by 120%.");
  EXPECT_EQ(detokenize_english("the 24 - hour store from 10 am - 12 ."), "the 24-hour store from 10 am - 12.");
  // RECCON
  EXPECT_EQ(detokenize_english("Mr . Bryant ? Hi , I'm Mike from Florence Incorporated ."),
            "Mr. Bryant? Hi, I'm Mike from Florence Incorporated.");
  EXPECT_EQ(detokenize_english("It ' s Mexico vs . South Africa ! Don ' t you know ?"),
            "It's Mexico vs. South Africa! Don't you know?");
  EXPECT_EQ(detokenize_english("Good.Let ' s go now ."), "Good. Let's go now.");
  // ECF
  EXPECT_EQ(detokenize_english("Then I look down , and I realize there is a phone ... there ."),
            "Then I look down, and I realize there is a phone... there.");
  EXPECT_EQ(detokenize_english("Instead of ... ?"), "Instead of...?");
  // MELD
  EXPECT_EQ(detokenize_english("Oh my God, he\xE2\x80\x99s lost it.  He\xE2\x80\x99s totally lost it."),
            "Oh my God, he's lost it. He's totally lost it.");
  EXPECT_EQ(detokenize_english("funny. Umm\xE2\x80\xA6.  It\xE2\x80\x99s no"), "funny. Umm.... It's no");
}

TEST(Detokenize, QuotesContractionsAndBrackets) {
  EXPECT_EQ(detokenize_english("He said \" leave me alone \" and left ."), "He said \"leave me alone\" and left.");
  EXPECT_EQ(detokenize_english("I do n't know , ca n't say ."), "I don't know, can't say.");
  EXPECT_EQ(detokenize_english("It 's John 's car ( the red one ) ."), "It's John's car (the red one).");
  EXPECT_EQ(detokenize_english("e.g. the U.S. team"), "e.g. the U.S. team");  // no space is invented
  EXPECT_EQ(detokenize_english("Already written English, isn't it?"), "Already written English, isn't it?");
  EXPECT_EQ(detokenize_english(""), "");
  EXPECT_EQ(detokenize_english(" . "), ".");
  EXPECT_EQ(detokenize_english("\xE6\x88\x91\xE5\xBE\x88\xE5\xA5\xBD"),
            "\xE6\x88\x91\xE5\xBE\x88\xE5\xA5\xBD");  // 我很好
}

// Every user turn, reply and cause span of a real corpus's valid split.
void expect_no_artefacts(const std::vector<Dialogue>& dialogues, const std::string& corpus) {
  static const std::regex artefact(R"( [,.?!;:%](\s|$)| ' (s|t|re|ve|ll|d|m)\b| n't\b|\xE2\x80\x99|  )");
  size_t lines = 0, bad = 0;
  std::string example;
  auto check = [&](const std::string& text) {
    if (text.empty()) return;
    ++lines;
    if (std::regex_search(text, artefact)) {
      if (example.empty()) example = text;
      ++bad;
    }
  };
  for (const Dialogue& d : dialogues) {
    for (const Turn& t : d.turns) {
      check(t.text);
      check(t.response_text);
      for (const std::string& s : t.cause_span) check(s);
    }
  }
  EXPECT_GT(lines, 100u) << corpus;
  EXPECT_EQ(bad, 0u) << corpus << ": " << bad << " of " << lines << " lines, e.g. \"" << example << "\"";
}

TEST(DetokenizeReal, TokenisedCorporaReadAsWrittenEnglish) {
  ATTUNE_REQUIRE_SHARED(shared);
  const auto root = shared / "data";
  auto read = [&](const char* corpus) {
    Diagnostics diag;
    return read_corpus(corpus, "valid", root, diag);
  };
  const auto dailydialog = read("dailydialog");
  EXPECT_EQ(dailydialog.at(0).turns.at(0).text, "Good morning, sir. Is there a bank near here?");
  const auto reccon = read("reccon");
  bool found = false;
  for (const Dialogue& d : reccon) {
    for (const Turn& t : d.turns) {
      if (t.text.rfind("Good! Here, let me help you with your bag.", 0) == 0) {
        found = true;
        ASSERT_FALSE(t.cause_span.empty());
        EXPECT_EQ(t.cause_span.back(),
                  "happy to take you around this city and show you the sights tonight if you're up to it.");
      }
    }
  }
  EXPECT_TRUE(found) << "the RECCON line of dialogue va_980";
  for (const char* corpus : {"dailydialog", "reccon", "ecf", "meld"}) expect_no_artefacts(read(corpus), corpus);
}

}  // namespace
}  // namespace attune::data
