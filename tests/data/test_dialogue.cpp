// The dialogue schema's JSON form, the problem collector and the parallel loop the builder uses.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "common/parallel.h"
#include "data/diagnostics.h"
#include "data/dialogue.h"
#include "support/test_support.h"

namespace attune::data {
namespace {

using nlohmann::json;

Dialogue sample() {
  Dialogue d;
  d.dialogue_id = "reccon_tr_1";
  d.lang = "en";
  Turn t1;
  t1.turn_id = 1;
  t1.text = "I got the job!";
  t1.emotion = "happy";
  t1.source_emotion = "happiness";
  t1.intensity = 0.8;
  t1.response_text = "Congratulations!";
  t1.cause_turns = {1};
  t1.cause_span = {"got the job"};
  t1.cause_type = "no-context";
  t1.voice = VoiceInfo{.source = "synthetic",
                       .speaker = "en-female-1",
                       .gender = "female",
                       .style_emotion = "happy",
                       .style_intensity = 0.8,
                       .pitch_delta_st = 2.5};
  t1.thinking = "They sound happy.\nstyle: happy 0.70";
  t1.response_style = ResponseStyle{"happy", 0.7};
  Turn t2;
  t2.turn_id = 2;
  t2.text = "How did my feelings change?";
  t2.task = "t1";
  t2.response_text = "You were happy throughout.";
  d.turns = {t1, t2};
  d.meta.corpus = "reccon";
  d.meta.situation = "a job interview";
  d.meta.intensity_before = 0.5;
  return d;
}

TEST(Dialogue, JsonRoundTripKeepsEveryField) {
  Dialogue d = sample();
  json j = to_json(d);
  // The HumDial fields are always there, even when empty.
  EXPECT_EQ(j["turns"][1]["split_audio_file"], "");
  EXPECT_EQ(j["turns"][1]["emotion"], "");
  EXPECT_FALSE(j["turns"][1].contains("voice"));
  Dialogue back = dialogue_from_json(json::parse(j.dump()));
  EXPECT_EQ(to_json(back), j);
  EXPECT_EQ(back.turns[0].voice->pitch_delta_st.value(), 2.5);
  EXPECT_FALSE(back.turns[0].voice->rate_ratio.has_value());
  EXPECT_EQ(back.turns[0].response_style->emotion, "happy");
  EXPECT_EQ(back.meta.intensity_before.value(), 0.5);
}

TEST(Dialogue, ReadsPlainHumDialRecords) {
  json j = json::parse(R"({"dialogue_id": "d1", "turns": [{"turn_id": 1, "text": "hi", "emotion": "neutral",
      "split_audio_file": "d1_1.wav", "response_text": "hello", "response_audio": "r.wav"}]})");
  Dialogue d = dialogue_from_json(j);
  EXPECT_EQ(d.lang, "en");
  EXPECT_EQ(d.turns[0].split_audio_file, "d1_1.wav");
  EXPECT_EQ(d.turns[0].response_audio, "r.wav");
}

TEST(Dialogue, ErrorsNameTheField) {
  auto message = [](const std::string& text) {
    try {
      dialogue_from_json(json::parse(text));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(R"({"turns": []})"), "dialogue_id: missing");
  EXPECT_EQ(message(R"({"dialogue_id": "a", "turns": [{"turn_id": 1}, {"turn_id": 2, "emotion": 3}]})"),
            "turns[1].emotion: expected a string");
  EXPECT_EQ(message(R"({"dialogue_id": "a", "turns": [{"turn_id": 1, "cause_turns": ["x"]}]})"),
            "turns[0].cause_turns: expected an array of integers");
  EXPECT_EQ(message(R"({"dialogue_id": "a", "turns": [{"turn_id": 1, "voice": {"rate_ratio": "fast"}}]})"),
            "turns[0].voice.rate_ratio: expected a number");
  EXPECT_EQ(message(R"({"dialogue_id": "a", "turns": {}})"), "turns: expected an array");
}

TEST(Dialogue, JsonlFilesRoundTripAndBadLinesNameTheLine) {
  testing::TempDir dir;
  std::string path = (dir / "d.jsonl").string();
  write_dialogues(path, {sample(), sample()});
  auto back = read_dialogues(path);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].turns[0].text, "I got the job!");

  testing::write_bytes(dir / "bad.jsonl", to_json(sample()).dump() + "\n\n{\"dialogue_id\": \n");
  try {
    read_dialogues((dir / "bad.jsonl").string());
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:3: malformed JSON"), std::string::npos) << e.what();
  }
}

TEST(Diagnostics, CountsEverythingKeepsExamplesAndMerges) {
  Diagnostics a, b;
  for (int i = 0; i < 30; ++i) a.report("f.jsonl", i + 1, "bad line", "malformed line");
  b.report("g.csv", 7, "label 'happines'?", "unknown label");
  a.merge(b);
  EXPECT_EQ(a.total(), 31);
  EXPECT_EQ(a.counts().at("malformed line"), 30);
  EXPECT_EQ(a.examples(5).size(), 6u);
  auto lines = a.summary_lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "  malformed line: 30 (e.g. f.jsonl:1: bad line)");
}

TEST(ParallelFor, VisitsEveryItemOnceAndRethrows) {
  std::vector<std::atomic<int>> seen(1000);
  common::parallel_for(1000, 3, [&](int64_t i, int worker) {
    EXPECT_LT(worker, 3);
    ++seen[static_cast<size_t>(i)];
  });
  for (auto& s : seen) EXPECT_EQ(s.load(), 1);
  EXPECT_THROW(common::parallel_for(100, 2,
                                    [](int64_t i, int) {
                                      if (i == 17) throw InputError("item 17");
                                    }),
               InputError);
  EXPECT_EQ(common::effective_threads(8, 3), 3);
  EXPECT_EQ(common::effective_threads(2, 0), 1);
}

}  // namespace
}  // namespace attune::data
