// Emotion label normalisation: every table maps into HumDial's seven (or drops on purpose), and
// docs/data.md shows exactly the tables of labels.cpp.
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "data/labels.h"
#include "data/readers.h"
#include "support/test_support.h"

namespace attune::data {
namespace {

const std::vector<std::string> kLabelledCorpora = {
    "reccon",     "ecf",     "meld",  "esconv", "empatheticdialogues", "cped", "dailydialog",
    "emocontext", "ravdess", "emodb", "humdial"};

TEST(Labels, SevenHumDialLabels) {
  EXPECT_EQ(emotion_labels(),
            (std::vector<std::string>{"happy", "sad", "anger", "fear", "neutral", "surprise", "disgust"}));
  EXPECT_EQ(emotion_index("fear"), 3);
  EXPECT_EQ(emotion_index("angry"), -1);
}

TEST(Labels, EveryTableMapsIntoTheSevenOrDrops) {
  for (const std::string& corpus : kLabelledCorpora) {
    const auto& table = label_table(corpus);
    EXPECT_FALSE(table.empty()) << corpus;
    std::set<std::string> sources;
    for (const LabelMapping& m : table) {
      EXPECT_TRUE(m.target.empty() || emotion_index(m.target) >= 0) << corpus << ": " << m.source << " -> " << m.target;
      EXPECT_TRUE(sources.insert(m.source).second) << corpus << ": duplicate " << m.source;
      for (char c : m.source) EXPECT_FALSE(std::isupper(static_cast<unsigned char>(c))) << corpus << ": " << m.source;
      // A dropped label says why.
      if (m.target.empty()) {
        EXPECT_FALSE(m.note.empty()) << corpus << ": " << m.source;
      }
    }
  }
}

TEST(Labels, EveryLabelledReaderHasATable) {
  for (const CorpusInfo& c : corpora()) {
    if (c.emotions) {
      EXPECT_FALSE(label_table(c.name).empty()) << c.name;
    }
  }
}

TEST(Labels, NormaliseIgnoresCaseAndSpaceAndTellsUnknownFromDropped) {
  EXPECT_EQ(normalise_emotion("reccon", " Happines "), "happy");
  EXPECT_EQ(normalise_emotion("reccon", "surprised"), "surprise");
  EXPECT_EQ(normalise_emotion("dailydialog", "no_emotion"), "neutral");
  EXPECT_EQ(normalise_emotion("empatheticdialogues", "terrified"), "fear");
  EXPECT_EQ(normalise_emotion("esconv", "anxiety"), "fear");
  EXPECT_EQ(normalise_emotion("ravdess", "calm"), "neutral");
  EXPECT_EQ(normalise_emotion("emodb", "boredom"), "");
  EXPECT_EQ(normalise_emotion("cped", "negative-other"), "");
  EXPECT_EQ(normalise_emotion("reccon", "joyous"), std::nullopt);
  EXPECT_EQ(normalise_emotion("no such corpus", "happy"), std::nullopt);
  EXPECT_TRUE(label_table("counselchat").empty());
}

TEST(Labels, EmpatheticDialoguesCoversAll32) { EXPECT_EQ(label_table("empatheticdialogues").size(), 32u); }

// docs/data.md, section "Emotion labels": a "### <corpus>" heading per table, rows
// "| `source` | target | note |" with "(dropped)" for "".
std::map<std::string, std::map<std::string, std::string>> doc_tables() {
  std::ifstream in(testing::source_dir() / "docs" / "data.md");
  std::map<std::string, std::map<std::string, std::string>> out;
  std::string line, corpus;
  bool in_section = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## Emotion labels";
    if (!in_section) continue;
    if (line.rfind("### ", 0) == 0) {
      corpus = line.substr(4);
      continue;
    }
    if (corpus.empty() || line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, '|')) {
      size_t b = cell.find_first_not_of(" `"), e = cell.find_last_not_of(" `");
      cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
    }
    if (cells.size() < 3) continue;
    out[corpus][cells[1]] = cells[2] == "(dropped)" ? "" : cells[2];
  }
  return out;
}

TEST(Labels, DocsShowTheSameTables) {
  auto docs = doc_tables();
  for (const std::string& corpus : kLabelledCorpora) {
    if (corpus == "humdial") continue;  // identity: not tabled
    std::map<std::string, std::string> code;
    for (const LabelMapping& m : label_table(corpus)) code[m.source] = m.target;
    EXPECT_EQ(docs[corpus], code) << "docs/data.md table for " << corpus;
  }
}

}  // namespace
}  // namespace attune::data
