// `attune data build | stats | corpora | transcribe` as a user runs them: a small HumDial file (always), and a
// slice of a real corpus from ../shared/data (skipped without it).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "support/test_support.h"

namespace attune::testing {
namespace {

using nlohmann::json;

std::string fixture() { return (fixtures_dir() / "data" / "humdial_cli.jsonl").string(); }

// A tokenizer with attune's special tokens, trained on docs that hold English and Chinese traces.
std::string train_tokenizer(const TempDir& dir) {
  CommandResult r =
      run_attune("tokenizer-train --vocab-size 600 --out " + (dir / "tokenizer.json").string() + " " +
                 (source_dir() / "docs" / "ieat.md").string() + " " + (source_dir() / "docs" / "talker.md").string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return (dir / "tokenizer.json").string();
}

// `data transcribe` runs a model: a build without libtorch has no such subcommand.
bool can_transcribe() { return run_attune("data --help").out.find("transcribe") != std::string::npos; }

TEST(DataCli, BuildsVoicedDialoguesWithThinkingAndShards) {
  TempDir dir;
  std::string tok = train_tokenizer(dir);
  const std::string out = (dir / "built").string();
  CommandResult r = run_attune("data build --corpus humdial --humdial " + fixture() +
                               " --voices --seed 4 --no-progress --tokenizer " + tok + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The malformed third line is reported with its line number, the rest is built.
  EXPECT_NE(r.err.find("humdial_cli.jsonl:3"), std::string::npos) << r.err;
  json report = json::parse(common::read_file(out + "/build.json"));
  EXPECT_EQ(report["dialogues"], 2);
  EXPECT_GE(report["problem_counts"]["malformed line"], 1);

  std::string jsonl = common::read_file(out + "/dialogues.jsonl");
  std::vector<json> dialogues;
  for (size_t a = 0, b; (b = jsonl.find('\n', a)) != std::string::npos; a = b + 1) {
    dialogues.push_back(json::parse(jsonl.substr(a, b - a)));
  }
  ASSERT_EQ(dialogues.size(), 2u);
  const json& first = dialogues[0]["turns"];
  ASSERT_GE(first.size(), 3u);
  // Every user turn is voiced, every reply has thinking ending in the style line.
  for (const json& t : first) {
    ASSERT_FALSE(t["split_audio_file"].get<std::string>().empty());
    EXPECT_TRUE(std::filesystem::exists(out + "/" + t["split_audio_file"].get<std::string>()));
    const std::string thinking = t["thinking"];
    EXPECT_NE(thinking.find("\nstyle: "), std::string::npos) << thinking;
  }
  EXPECT_NE(first[1]["thinking"].get<std::string>().find("found something on the scan"), std::string::npos);

  json index = json::parse(common::read_file(out + "/shards/index.json"));
  EXPECT_EQ(index["format"], "attune-shards");
  EXPECT_GE(index["totals"]["records"], 2);
  EXPECT_GT(index["totals"]["audio_tokens"], 0);
  EXPECT_GT(index["totals"]["frames"], 100);

  CommandResult s = run_attune("data stats " + out);
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_NE(s.out.find("humdial"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("labels (user turns):"), std::string::npos);
  std::string svg = common::read_file(out + "/label_distribution.svg");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("<rect"), std::string::npos);
  std::string samples = common::read_file(out + "/samples.html");
  EXPECT_NE(samples.find("<audio controls"), std::string::npos);
  EXPECT_NE(samples.find("&lt;think&gt;"), std::string::npos);
  json stats = json::parse(common::read_file(out + "/stats.json"));
  EXPECT_GT(stats["total"]["audio_hours"].get<double>(), 0.0);
  // The split of synthetic turns by talker engine (no --flite-share: espeak-ng speaks them all).
  EXPECT_GT(stats["total"]["synthetic_turns"].get<int64_t>(), 0);
  EXPECT_EQ(stats["total"]["synthetic_turns_by_engine"]["espeak"], stats["total"]["synthetic_turns"]);
  EXPECT_NE(s.out.find("synthetic turns by talker engine: espeak"), std::string::npos) << s.out;

  // What the shipped model's encoder hears goes into every voiced turn, and the shards render again.
  if (!can_transcribe()) GTEST_SKIP() << "attune was built without libtorch: no data transcribe";
  const std::string model = (source_dir() / "models" / "attune-small").string();
  CommandResult t = run_attune("data transcribe " + out + " --model " + model + " --no-progress");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.err.find("RTF"), std::string::npos) << t.err;
  jsonl = common::read_file(out + "/dialogues.jsonl");
  int heard = 0, voiced = 0;
  for (size_t a = 0, b; (b = jsonl.find('\n', a)) != std::string::npos; a = b + 1) {
    const json dialogue = json::parse(jsonl.substr(a, b - a));
    for (const json& turn : dialogue["turns"]) {
      if (turn["split_audio_file"].get<std::string>().empty()) continue;
      ++voiced;
      heard += !turn.value("heard_words", "").empty();
    }
  }
  EXPECT_GT(heard, voiced / 2) << jsonl;
  EXPECT_EQ(json::parse(common::read_file(out + "/transcribed.json"))["turns"], voiced);
  CommandResult rs = run_attune("data shards " + out + " --tokenizer " + tok);
  ASSERT_EQ(rs.exit_code, 0) << rs.err;
  EXPECT_GT(json::parse(common::read_file(out + "/shards/index.json"))["totals"]["records"], 0);
}

TEST(DataCli, AblationModesReuseTheVoicesOfAFullBuild) {
  TempDir dir;
  const std::string full = (dir / "full").string();
  CommandResult r =
      run_attune("data build --corpus humdial --humdial " + fixture() + " --voices --no-progress --out " + full);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string mode : {"none", "label"}) {
    const std::string out = (dir / mode).string();
    r = run_attune("data build --reuse-voices " + full + " --voices --ieat " + mode + " --no-progress --out " + out);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Nothing was spoken again: every turn points at the full build's audio.
    EXPECT_TRUE(std::filesystem::is_empty(out + "/audio"));
    std::string jsonl = common::read_file(out + "/dialogues.jsonl");
    json d = json::parse(jsonl.substr(0, jsonl.find('\n')));
    for (const json& t : d["turns"]) {
      EXPECT_EQ(t["split_audio_file"].get<std::string>().rfind(full, 0), 0u) << t.dump();
    }
    const std::string thinking = d["turns"][1].value("thinking", "");
    if (mode == "none") {
      EXPECT_EQ(thinking, "");
    } else {
      // Only the emotion word and the style line.
      EXPECT_EQ(std::count(thinking.begin(), thinking.end(), '\n'), 1) << thinking;
      EXPECT_NE(thinking.find("\nstyle: "), std::string::npos);
    }
  }
  r = run_attune("data build --corpus humdial --humdial " + fixture() + " --no-questions --ieat label --no-progress " +
                 "--out " + (dir / "text").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string jsonl = common::read_file((dir / "text" / "dialogues.jsonl").string());
  EXPECT_EQ(json::parse(jsonl.substr(0, jsonl.find('\n')))["turns"].size(), 3u);  // no question turns
}

TEST(DataCli, BadOptionsGiveOneLineErrors) {
  TempDir dir;
  CommandResult r = run_attune("data build --corpus nosuch --out " + (dir / "x").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown corpus 'nosuch'"), std::string::npos) << r.err;
  r = run_attune("data build --corpus humdial --humdial " + fixture() + " --tokenizer /nonexistent/tok.json --out " +
                 (dir / "y").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/tok.json"), std::string::npos) << r.err;
  r = run_attune("data stats " + (dir / "empty").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("dialogues.jsonl"), std::string::npos) << r.err;
  r = run_attune("data build --out " + (dir / "z").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--corpus NAME[,NAME] or --reuse-voices DIR"), std::string::npos) << r.err;
  r = run_attune("data build --corpus humdial --humdial " + fixture() + " --no-progress --out " +
                 (dir / "unvoiced").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  if (can_transcribe()) {
    r = run_attune("data transcribe " + (dir / "unvoiced").string());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no turn has audio (split_audio_file): build it with --voices"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "unvoiced" / "transcribed.json"));
  }
  r = run_attune("data corpora");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("reccon"), std::string::npos);
}

TEST(DataCli, RealCorpusSliceWithRecordedSpeech) {
  ATTUNE_REQUIRE_SHARED(shared);
  TempDir dir;
  std::string tok = train_tokenizer(dir);
  const std::string out = (dir / "real").string();
  CommandResult r = run_attune(
      "data build --corpus reccon,ravdess --split valid --limit 6 --voices --no-progress "
      "--data-root " +
      (shared / "data").string() + " --tokenizer " + tok + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = json::parse(common::read_file(out + "/build.json"));
  EXPECT_EQ(report["dialogues"], 12);
  std::string jsonl = common::read_file(out + "/dialogues.jsonl");
  // RAVDESS clips are referenced in place and measured against their actor's neutral clips.
  EXPECT_NE(jsonl.find("\"source\":\"recorded\""), std::string::npos);
  EXPECT_NE(jsonl.find("ravdess"), std::string::npos);
  EXPECT_NE(jsonl.find("pitch_delta_st"), std::string::npos);
  // The clips have no reply: their target is the transcript and the voice, after the thinking.
  EXPECT_NE(jsonl.find("\"task\":\"describe\""), std::string::npos);
  EXPECT_NE(jsonl.find("You said: \\\""), std::string::npos);
  json index = json::parse(common::read_file(out + "/shards/index.json"));
  EXPECT_GE(index["totals"]["records"].get<int>(), 12);  // every RECCON dialogue and every clip
}

}  // namespace
}  // namespace attune::testing
