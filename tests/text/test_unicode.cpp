// UTF-8 decoding and NFC, checked against cases derived by hand from the Unicode standard
// (Table 3-7 for well-formed UTF-8, UAX #15 examples and the Hangul algorithm for NFC).
#include <gtest/gtest.h>

#include "text/unicode.h"

namespace u = attune::text::unicode;

namespace {
u::Utf8Step step(std::string_view s) {
  return u::next_utf8(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}
}  // namespace

TEST(Utf8, DecodesWellFormedSequences) {
  EXPECT_EQ(step("A").cp, U'A');
  EXPECT_EQ(step("\xC3\xA9").cp, U'\u00E9');
  EXPECT_EQ(step("\xE4\xBD\xA0").cp, U'\u4F60');
  EXPECT_EQ(step("\xF0\x9F\x98\x80").cp, U'\U0001F600');
  EXPECT_EQ(step("\xF0\x9F\x98\x80").length, 4);
  EXPECT_TRUE(u::is_valid_utf8("h\xC3\xA9llo \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80"));
}

TEST(Utf8, RejectsIllFormedSequencesWithMaximalSubparts) {
  // Overlong, surrogate, above U+10FFFF, lone continuation, bad lead bytes.
  for (std::string_view bad : {"\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80",
                               "\xF5\x80\x80\x80", "\xFF"}) {
    EXPECT_EQ(step(bad).kind, u::Utf8Kind::kInvalid) << "bytes of length " << bad.size();
    EXPECT_FALSE(u::is_valid_utf8(bad));
  }
  // "\xE4\xBD" then 'a': the maximal subpart is the two valid leading bytes.
  EXPECT_EQ(step("\xE4\xBD"
                 "a")
                .kind,
            u::Utf8Kind::kInvalid);
  EXPECT_EQ(step("\xE4\xBD"
                 "a")
                .length,
            2);
  // At the end of the input the same bytes are only truncated.
  EXPECT_EQ(step("\xE4\xBD").kind, u::Utf8Kind::kTruncated);
  EXPECT_EQ(step("\xF0\x9F\x98").length, 3);
}

// One U+FFFD per maximal ill-formed subpart (the Unicode 3.9 / WHATWG practice), and one for a
// truncated sequence at the end; valid text is returned unchanged.
TEST(Utf8, ToValidReplacesEachMaximalSubpartOnce) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(u::to_valid_utf8("caf\xC3\xA9 \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(u::to_valid_utf8("a\xFF\xFE"
                             "b"),
            "a" + fffd + fffd + "b");
  EXPECT_EQ(u::to_valid_utf8("\xE2\x82x"), fffd + "x");             // E2 82 is one subpart (a valid prefix)
  EXPECT_EQ(u::to_valid_utf8("\xED\xA0\x80"), fffd + fffd + fffd);  // a surrogate: ED then two strays
  EXPECT_EQ(u::to_valid_utf8("end\xF0\x9F"), "end" + fffd);
  EXPECT_EQ(u::to_valid_utf8(""), "");
  EXPECT_TRUE(u::is_valid_utf8(u::to_valid_utf8("\xC0\xAF\xF8\x88\x80\x80\x80")));
}

TEST(UnicodeProperties, ClassesUsedByThePreTokenizer) {
  EXPECT_TRUE(u::properties(U'a') & u::kLetter);
  EXPECT_TRUE(u::properties(U'\u4E2D') & u::kLetter);  // 中
  EXPECT_TRUE(u::properties(U'5') & u::kNumber);
  EXPECT_TRUE(u::properties(U'\u00BD') & u::kNumber);  // ½ (No)
  EXPECT_TRUE(u::properties(U'\u0085') & u::kSpace);   // NEL: Oniguruma's \s includes it
  EXPECT_TRUE(u::properties(U'\u3000') & u::kSpace);
  EXPECT_FALSE(u::properties(U'\u200B') & u::kSpace);  // zero width space is not White_Space
  EXPECT_FALSE(u::properties(U'!') & (u::kLetter | u::kNumber | u::kSpace));
  EXPECT_EQ(u::combining_class(U'\u0301'), 230);
  EXPECT_EQ(u::combining_class(U'\u0323'), 220);
  EXPECT_EQ(u::combining_class(U'a'), 0);
}

TEST(Nfc, ComposesReordersAndLeavesNfcTextAlone) {
  EXPECT_EQ(u::nfc("e\u0301"), "\u00E9");
  EXPECT_EQ(u::nfc("n\u0303"), "\u00F1");
  EXPECT_EQ(u::nfc("A\u030A"), "\u00C5");
  EXPECT_EQ(u::nfc("\u212B"), "\u00C5");                // singleton (ANGSTROM SIGN) -> Å
  EXPECT_EQ(u::nfc("\u1E0B\u0323"), "\u1E0D\u0307");    // UAX #15: ḋ + dot below -> ḍ + dot above
  EXPECT_EQ(u::nfc("q\u0307\u0323"), "q\u0323\u0307");  // reordered, nothing to compose with q
  EXPECT_EQ(u::nfc("Vie\u0323\u0302t"), "Vi\u1EC7t");   // ệ from e + dot below + circumflex
  EXPECT_EQ(u::nfc("\u0958"), "\u0915\u093C");          // composition exclusion stays decomposed
  EXPECT_EQ(u::nfc("\u0344"), "\u0308\u0301");          // non-starter decomposition
  EXPECT_EQ(u::nfc("a\u0301\u0301"), "\u00E1\u0301");   // the second acute is blocked by the first
  // Hangul: L + V -> LV, LV + T -> LVT, L + V + T -> LVT.
  EXPECT_EQ(u::nfc("\u1100\u1161"), "\uAC00");
  EXPECT_EQ(u::nfc("\uAC00\u11A8"), "\uAC01");
  EXPECT_EQ(u::nfc("\u1100\u1161\u11A8"), "\uAC01");
  // Already NFC: unchanged, and recognised quickly.
  for (std::string s :
       {"hello", "\u00E9t\u00E9", "C\u1EEDa Vi\u1EC7t", "\u4F60\u597D", "\U0001F600", "\u1780\u17B6\u1793\u17CB"}) {
    EXPECT_EQ(u::nfc(s), s);
  }
  EXPECT_TRUE(u::is_nfc_quick("hello \u4F60\u597D"));
  EXPECT_FALSE(u::is_nfc_quick("e\u0301"));
}

TEST(Nfc, InvalidBytesPassThroughAndBlockComposition) {
  EXPECT_EQ(u::nfc("e\xFF\u0301"), "e\xFF\u0301");
  EXPECT_EQ(u::nfc("\xC3"
                   "e\u0301"),
            "\xC3\u00E9");
  EXPECT_EQ(u::nfc(std::string("\x00\x80", 2)), std::string("\x00\x80", 2));
}
