// The RFC 4180 CSV parser of the corpus readers: quoting, line numbers, BOM, malformed records.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attune/error.h"
#include "data/csv.h"
#include "support/test_support.h"

namespace attune::data {
namespace {

using Fields = std::vector<std::string>;

TEST(Csv, PlainAndQuotedFields) {
  auto recs = parse_csv("a,b,c\n1,\"x, y\",\"say \"\"hi\"\"\"\n");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].fields, (Fields{"a", "b", "c"}));
  EXPECT_EQ(recs[1].fields, (Fields{"1", "x, y", "say \"hi\""}));
  EXPECT_EQ(recs[1].line, 2);
  EXPECT_TRUE(recs[1].error.empty());
}

TEST(Csv, EmptyFieldsAndLineEnds) {
  auto recs = parse_csv("a,,c,\r\n,\r\nlast");
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].fields, (Fields{"a", "", "c", ""}));
  EXPECT_EQ(recs[1].fields, (Fields{"", ""}));
  EXPECT_EQ(recs[2].fields, (Fields{"last"}));
  EXPECT_EQ(recs[2].line, 3);
}

TEST(Csv, QuotedLineBreaksKeepLineNumbers) {
  auto recs = parse_csv("h1,h2\n\"two\nlines\",x\n\nnext,y\n");
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[1].fields, (Fields{"two\nlines", "x"}));
  EXPECT_EQ(recs[1].line, 2);
  EXPECT_EQ(recs[2].line, 5);  // after the quoted break and a blank line
}

TEST(Csv, ByteOrderMarkIsSkipped) {
  auto recs = parse_csv("\xEF\xBB\xBFTV_ID,Utterance\n1,你好\n");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].fields[0], "TV_ID");
  EXPECT_EQ(recs[1].fields[1], "你好");
}

TEST(Csv, MalformedRecordsAreFlaggedNotFatal) {
  auto recs = parse_csv("a,b\"c\n\"x\"y,z\nok,1\n\"open,never closed\n");
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].error, "quote inside an unquoted field");
  EXPECT_EQ(recs[0].fields, (Fields{"a", "b\"c"}));
  EXPECT_EQ(recs[1].error, "text after a closing quote");
  EXPECT_EQ(recs[1].fields, (Fields{"xy", "z"}));
  EXPECT_TRUE(recs[2].error.empty());
  EXPECT_EQ(recs[3].error, "unterminated quoted field");
  EXPECT_EQ(recs[3].line, 4);
}

TEST(Csv, ReadCsvSplitsHeaderAndNamesMissingFile) {
  testing::TempDir dir;
  testing::write_bytes(dir / "t.csv", "file,emotion\nx.flac,calm\n");
  CsvTable t = read_csv(dir / "t.csv");
  EXPECT_EQ(t.header, (Fields{"file", "emotion"}));
  EXPECT_EQ(t.column("emotion"), 1);
  EXPECT_EQ(t.column("nope"), -1);
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0].line, 2);
  try {
    read_csv(dir / "missing.csv");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.csv"), std::string::npos);
  }
}

}  // namespace
}  // namespace attune::data
