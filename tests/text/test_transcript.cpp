// Transcript normalisation and error rates against hand-counted cases.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/test_support.h"
#include "text/transcript.h"

namespace attune::text {
namespace {

using testing::ascii_chars;

TEST(Transcript, CtcCharactersLowerCaseAndKeepOnlyLettersDigitsApostrophes) {
  EXPECT_EQ(ctc_characters("Don't GO -- now, 42!"), ascii_chars("don't go now 42"));
  EXPECT_EQ(ctc_characters("  ...Hi  "), ascii_chars("hi"));
  EXPECT_EQ(ctc_characters("it\xE2\x80\x99s"), ascii_chars("it's"));  // a typographic apostrophe
  // German capitals to lower case; each UTF-8 character one entry.
  EXPECT_EQ(ctc_characters("\xC3\x9C"
                           "ber"),
            (std::vector<std::string>{"\xC3\xBC", "b", "e", "r"}));
  EXPECT_TRUE(ctc_characters("?!").empty());
}

TEST(Transcript, AlphabetKeepsFrequentCharactersMostFrequentFirst) {
  const std::vector<std::vector<std::string>> t = {ascii_chars("aab"), ascii_chars("ab c"), ascii_chars("a")};
  // a x4, b x2, ' ' x1, c x1
  EXPECT_EQ(build_ctc_alphabet(t, 2), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(build_ctc_alphabet(t, 1), (std::vector<std::string>{"a", "b", " ", "c"}));
}

TEST(Transcript, EditDistanceMatchesHandCountedCases) {
  EXPECT_EQ(edit_distance(ascii_chars("kitten"), ascii_chars("sitting")), 3);
  EXPECT_EQ(edit_distance(ascii_chars("flaw"), ascii_chars("lawn")), 2);
  EXPECT_EQ(edit_distance({}, ascii_chars("abc")), 3);
  EXPECT_EQ(edit_distance(ascii_chars("same"), ascii_chars("same")), 0);
}

TEST(TranscriptErrors, CountsCharactersAndWordsAfterNormalising) {
  TranscriptErrors e;
  // "hello world" vs "Hello, world!": the same once normalised.
  e.add("hello world", "Hello, world!");
  EXPECT_EQ(e.char_edits, 0);
  EXPECT_EQ(e.reference_chars, 11);
  EXPECT_EQ(e.word_edits, 0);
  EXPECT_EQ(e.reference_words, 2);
  // "i cant go" vs "I can't go now": characters: one apostrophe and " now" missing (1 + 4 = 5 of
  // 14); words: "cant" for "can't" and "now" missing (2 of 4).
  e.add("i cant go", "I can't go now");
  EXPECT_EQ(e.char_edits, 5);
  EXPECT_EQ(e.reference_chars, 25);
  EXPECT_EQ(e.word_edits, 2);
  EXPECT_EQ(e.reference_words, 6);
  EXPECT_DOUBLE_EQ(e.cer(), 5.0 / 25.0);
  EXPECT_DOUBLE_EQ(e.wer(), 2.0 / 6.0);
}

TEST(TranscriptErrors, AnEmptyHypothesisMissesEverything) {
  TranscriptErrors e;
  e.add("", "two words");
  EXPECT_DOUBLE_EQ(e.cer(), 1.0);
  EXPECT_DOUBLE_EQ(e.wer(), 1.0);
  EXPECT_DOUBLE_EQ(TranscriptErrors{}.cer(), 0.0);
}

}  // namespace
}  // namespace attune::text
