// Sentence splitting (English and Chinese punctuation) and the text checks of the talker.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tts/sentences.h"

namespace attune::tts {
namespace {

using Sentences = std::vector<std::string>;

TEST(SplitSentences, EnglishTerminalsFollowedBySpace) {
  EXPECT_EQ(split_sentences("Hello world. How are you? I'm fine!"),
            (Sentences{"Hello world.", "How are you?", "I'm fine!"}));
  EXPECT_EQ(split_sentences("  One sentence without a stop  "), (Sentences{"One sentence without a stop"}));
  EXPECT_EQ(split_sentences("What?! Really... Yes."), (Sentences{"What?!", "Really...", "Yes."}));
}

TEST(SplitSentences, DotsThatDoNotEndASentence) {
  EXPECT_EQ(split_sentences("Dr. Smith arrived at 3.30 p.m. today. He left."),
            (Sentences{"Dr. Smith arrived at 3.30 p.m. today.", "He left."}));
  EXPECT_EQ(split_sentences("Bring fruit, e.g. apples. Thanks."), (Sentences{"Bring fruit, e.g. apples.", "Thanks."}));
  EXPECT_EQ(split_sentences("J. R. Smith wrote it. Wait... what happened?"),
            (Sentences{"J. R. Smith wrote it.", "Wait... what happened?"}));
  EXPECT_EQ(split_sentences("See example.com for more."), (Sentences{"See example.com for more."}));
}

TEST(SplitSentences, ClosingQuotesStayWithTheirSentence) {
  EXPECT_EQ(split_sentences("She said \"hi.\" Then she left."), (Sentences{"She said \"hi.\"", "Then she left."}));
  EXPECT_EQ(split_sentences("(It was late.) We went home."), (Sentences{"(It was late.)", "We went home."}));
}

TEST(SplitSentences, ChinesePunctuationNeedsNoSpace) {
  EXPECT_EQ(split_sentences("今天天气很好。你呢？我很好！"), (Sentences{"今天天气很好。", "你呢？", "我很好！"}));
  EXPECT_EQ(split_sentences("他说：“我来了。”然后走了。"), (Sentences{"他说：“我来了。”", "然后走了。"}));
  EXPECT_EQ(split_sentences("我很好。And you? 好的；再见……"), (Sentences{"我很好。", "And you?", "好的；", "再见……"}));
  // Commas are clauses, not sentences.
  EXPECT_EQ(split_sentences("我们一起去车站，然后回家。"), (Sentences{"我们一起去车站，然后回家。"}));
}

TEST(SplitSentences, BlankLinesEndParagraphsSingleNewlinesDoNot) {
  EXPECT_EQ(split_sentences("First line\n\nSecond line"), (Sentences{"First line", "Second line"}));
  EXPECT_EQ(split_sentences("First line\nsecond line"), (Sentences{"First line\nsecond line"}));
  EXPECT_EQ(split_sentences("A.\n \nB."), (Sentences{"A.", "B."}));
}

TEST(SplitSentences, NothingToSayGivesNoSentences) {
  EXPECT_TRUE(split_sentences("").empty());
  EXPECT_TRUE(split_sentences("   \n\t ").empty());
  EXPECT_TRUE(split_sentences("... !!! ？。").empty());
  // Punctuation-only pieces join the sentence before them.
  EXPECT_EQ(split_sentences("Yes. ... !"), (Sentences{"Yes. ... !"}));
}

TEST(SplitSentences, LongSentencesAreCutAtClausesThenSpaces) {
  std::string text;
  for (int i = 0; i < 60; ++i) text += "word" + std::to_string(i) + " and more words, ";
  text += "end.";
  Sentences pieces = split_sentences(text, 100);
  ASSERT_GT(pieces.size(), 5u);
  std::string joined;
  for (const auto& p : pieces) {
    EXPECT_LE(p.size(), 100u) << p;
    EXPECT_EQ(p.back() == ',' || p.back() == '.', true) << "cut away from a clause mark: " << p;
    joined += (joined.empty() ? "" : " ") + p;
  }
  EXPECT_EQ(joined, text);
}

TEST(SplitSentences, LongChineseWithoutPunctuationIsCutOnCharacterBoundaries) {
  std::string text;
  for (int i = 0; i < 500; ++i) text += "好";  // 3 bytes each
  Sentences pieces = split_sentences(text, 100);
  size_t total = 0;
  for (const auto& p : pieces) {
    EXPECT_LE(p.size(), 100u);
    EXPECT_EQ(p.size() % 3, 0u) << "a piece split a character";
    total += p.size();
  }
  EXPECT_EQ(total, text.size());
}

TEST(SplitSentences, InvalidUtf8AndControlBytesDoNotBreakIt) {
  std::string text = std::string("Bad \xff\xfe bytes. Next\x01 one.") + std::string(1, '\0') + " End.";
  Sentences pieces = split_sentences(text);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0], "Bad \xff\xfe bytes.");
  EXPECT_EQ(pieces[2], "End.");
  EXPECT_EQ(split_sentences(clean_text(text)), (Sentences{"Bad    bytes.", "Next  one.", "End."}));
}

TEST(TextChecks, SpeakableMeansALetterOrDigitOfAnyScript) {
  for (const char* yes : {"a", "好", "3", "...é", "Ωmega", "¿Qué?"}) EXPECT_TRUE(has_speakable_text(yes)) << yes;
  for (const char* no : {"", "   ", "...", "！？。", "\xF0\x9F\x98\x80", "—–", "\"';$()"}) {
    EXPECT_FALSE(has_speakable_text(no)) << no;
  }
}

TEST(TextChecks, CleanTextReplacesControlsAndInvalidBytesWithSpaces) {
  std::string dirty = std::string("a\x01") + std::string(1, '\0') + "b\xff" + "c\td\ne\x7f" + "好";
  EXPECT_EQ(clean_text(dirty), "a  b c\td\ne 好");
}

}  // namespace
}  // namespace attune::tts
