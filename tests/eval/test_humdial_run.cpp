// `eval humdial` end to end on the shipped model: a small HumDial file spoken by the espeak talker
// (two good dialogues, one in German, one with a missing recording, one malformed line) through
// T1, T2 and T3; the challenge layout (per task a JSONL with response_text for every turn, T3 reply
// WAVs named {dialogue_id}_{turn_id}_response.wav), the objective scores, the skipped items, and the
// human-rating sheet.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "affect/speech_style.h"
#include "audio/audio_file.h"
#include "common/file_util.h"
#include "eval/humdial.h"
#include "eval/humdial_report.h"
#include "support/test_support.h"
#include "tts/talker.h"

namespace attune::eval {
namespace {

namespace fs = std::filesystem;

nlohmann::json turn(int id, const std::string& text, const std::string& emotion, const std::string& task = "") {
  return {{"turn_id", id},          {"text", text}, {"emotion", emotion},
          {"split_audio_file", ""}, {"task", task}, {"response_text", ""}};
}

TEST(HumdialRun, ThreeTasksWithTheChallengeLayoutAndSkippedItems) {
  testing::TempDir dir;
  auto talker = tts::make_talker("espeak");
  const tts::Voice voice = tts::find_voice("en-female-1");
  auto speak = [&](nlohmann::json& t) {
    const std::string name = "audio/" + std::to_string(std::hash<std::string>{}(t["text"].get<std::string>())) + ".wav";
    fs::create_directories(dir.path() / "audio");
    const std::string e = t["emotion"].get<std::string>().empty() ? "neutral" : t["emotion"].get<std::string>();
    audio::write_audio(dir.path() / name,
                       talker->synthesize(t["text"].get<std::string>(), affect::emotion_style(e, 0.7), voice));
    t["split_audio_file"] = name;
  };
  nlohmann::json a = {{"dialogue_id", "dlg_a"}, {"lang", "en"}, {"turns", nlohmann::json::array()}};
  a["turns"].push_back(turn(1, "I finally finished my thesis today.", "happy"));
  a["turns"].push_back(turn(2, "But my advisor says it needs another month.", "sad"));
  a["turns"][1]["cause_turns"] = {2};
  a["turns"][1]["cause_span"] = {"needs another month"};
  a["turns"].push_back(turn(3, "How have my feelings changed over our conversation?", "sad", "t1"));
  a["turns"][2]["response_text"] = "You started out happy, then from turn 2 you sounded sad.";
  a["turns"].push_back(turn(4, "Why do you think I felt that way?", "sad", "t2"));
  a["turns"][3]["response_text"] = "You felt sad at turn 2 mainly because of what you said at turn 2.";
  nlohmann::json b = a;
  b["dialogue_id"] = "dlg_b";
  b["turns"][0]["text"] = "My sister is visiting this weekend!";
  b["turns"][1]["text"] = "Her flight just got cancelled.";
  for (auto* d : {&a, &b})
    for (auto& t : (*d)["turns"]) speak(t);
  nlohmann::json german = a;
  german["dialogue_id"] = "dlg_de";
  german["lang"] = "de";
  nlohmann::json missing = a;
  missing["dialogue_id"] = "dlg_missing";
  missing["turns"][1]["split_audio_file"] = "audio/nowhere.wav";
  std::ofstream(dir.path() / "humdial.jsonl") << a.dump() << "\n{not json\n"
                                              << german.dump() << "\n"
                                              << missing.dump() << "\n"
                                              << b.dump() << "\n";

  RuntimeOptions ro;
  ro.dtype = Dtype::kFp32;
  const Model model = Model::load(testing::source_dir() / "models" / "attune-small", ro);
  SessionOptions so;
  so.max_new_tokens = 200;
  for (const std::string task : {"t1", "t2", "t3"}) {
    HumdialOptions o;
    o.data = dir.path() / "humdial.jsonl";
    o.task = task;
    o.out = dir.path() / "out";
    HumdialRun run = evaluate_humdial(model, so, o);
    EXPECT_EQ(run.dialogues, 2) << task;
    ASSERT_EQ(run.skipped.size(), 3u) << task;  // the malformed line, the German dialogue, the missing audio
    EXPECT_NE(run.skipped[0].find("line 2"), std::string::npos) << run.skipped[0];
    EXPECT_NE(run.skipped[1].find("language 'de'"), std::string::npos) << run.skipped[1];
    EXPECT_NE(run.skipped[2].find("nowhere.wav is missing"), std::string::npos) << run.skipped[2];
    EXPECT_EQ(run.emotion.count(), 4) << task;  // two labelled ordinary turns per dialogue

    // The challenge file: one line per dialogue, a response_text for every played turn.
    std::ifstream in(o.out / (task + ".jsonl"));
    int lines = 0;
    for (std::string line; std::getline(in, line); ++lines) {
      const auto rec = nlohmann::json::parse(line);
      const size_t played = task == "t3" ? 2 : 3;  // T3: up to the graded turn; T1/T2: the turns and the question
      ASSERT_EQ(rec["turns"].size(), played) << task;
      for (const auto& t : rec["turns"]) {
        EXPECT_TRUE(t["response_text"].is_string());
        if (task == "t3") {
          EXPECT_EQ(t["response_audio"], "t3/" + rec["dialogue_id"].get<std::string>() + "_" +
                                             std::to_string(t["turn_id"].get<int>()) + "_response.wav");
          EXPECT_TRUE(fs::exists(o.out / t["response_audio"].get<std::string>()));
        }
      }
    }
    EXPECT_EQ(lines, 2);
    // The per-turn records say what the encoder's CTC head heard of every spoken turn.
    for (const auto& record : run.records)
      for (const auto& t : record["turns"]) EXPECT_FALSE(t["heard_words"].get<std::string>().empty()) << t.dump();
    const nlohmann::json s = run.summary();
    if (task == "t1") {
      EXPECT_EQ(s["t1"]["answers"], 2);
      EXPECT_EQ(s["t1"]["trajectories"], 2);
    } else if (task == "t2") {
      EXPECT_EQ(s["t2"]["items"], 2);  // turn 2 from the reference answer
      EXPECT_EQ(s["t2"]["span_items"], 2);
    } else {
      EXPECT_EQ(s["t3"]["graded"], 2);
      EXPECT_EQ(s["t3"]["vocal_congruence_items"], 2);
      write_human_rating_sheet(run, o.out);
      std::ifstream csv(o.out / "human-rating.csv");
      int rows = 0;
      for (std::string line; std::getline(csv, line);) ++rows;
      EXPECT_EQ(rows, 3);  // header + two graded replies
      const std::string html = common::read_file(o.out / "human-rating.html");
      EXPECT_NE(html.find("<audio controls preload=\"none\" src=\"t3/dlg_a_2_response.wav\">"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace attune::eval
