// json_brief: small values print as JSON, large or deep ones as a description, without recursion.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/json_brief.h"

using attune::common::json_brief;
using attune::common::json_depth;
using nlohmann::json;

TEST(JsonBrief, SmallValuesPrintAsJson) {
  EXPECT_EQ(json_brief(json(5)), "5");
  EXPECT_EQ(json_brief(json::parse(R"([1, "a", {"b": null}])")), R"([1,"a",{"b":null}])");
  EXPECT_EQ(json_brief(json(std::string(100, 'x')), 10), "\"xxxxxx...");
  EXPECT_EQ(json_brief(json::parse(R"({"k": [1, 2, 3]})"), 8), "{\"k\":...");
}

TEST(JsonBrief, LargeOrDeepValuesAreDescribed) {
  const json deep = json::parse(std::string(100000, '[') + std::string(100000, ']'));
  EXPECT_EQ(json_depth(deep, 8), 9u);  // stops looking one level past the limit
  EXPECT_EQ(json_brief(deep), "an array of 1 items nested deeper than 8 levels");
  EXPECT_EQ(json_brief(json(std::vector<int>(1000, 7))), "an array of 1000 items");
  json wide = json::object();
  for (int i = 0; i < 300; ++i) wide["k" + std::to_string(i)] = i;
  EXPECT_EQ(json_brief(wide), "an object of 300 keys");
  EXPECT_EQ(json_depth(json::parse("[[1], [[2]]]"), 10), 4u);
}

TEST(JsonBrief, NeverCutsAUtf8Character) {
  // "é" is two bytes: cutting at any length must leave whole characters, so a strict dump of the
  // brief (as `inspect --json` does with its messages) succeeds.
  const std::string accents = "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9";
  for (size_t max = 0; max < 16; ++max) {
    const std::string brief = json_brief(json(accents), max);
    EXPECT_NO_THROW((void)json(brief).dump()) << "max " << max << ": " << brief;
  }
  EXPECT_EQ(json_brief(json(accents), 8), "\"\xC3\xA9\xC3\xA9...");
}
