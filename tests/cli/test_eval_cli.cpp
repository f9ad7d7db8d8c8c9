// `attune eval ser` on manifests a user brings: RAVDESS clips from ../shared listed in CSVs with the
// corpus's own label names (a test manifest with two bad rows, a training manifest for the prosody
// baseline). The summary, per-clip results and confusion plots must be written, the bad rows skipped
// by name, and the counts must add up.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "data/csv.h"
#include "support/test_support.h"
#include "tts/flite_talker.h"

namespace attune {
namespace {

namespace fs = std::filesystem;

TEST(EvalSerCli, ManifestWithBaselineWritesTheReport) {
  ATTUNE_REQUIRE_SHARED(shared);
  if (testing::run_attune("eval --help").exit_code != 0) GTEST_SKIP() << "attune was built without the model (no eval)";
  const fs::path ravdess = shared / "data" / "speech" / "ravdess";
  const data::CsvTable table = data::read_csv(ravdess / "metadata.csv");
  const int c_file = table.column("file"), c_emotion = table.column("emotion"), c_actor = table.column("actor");
  testing::TempDir dir;
  std::ofstream test(dir.path() / "test.csv"), train(dir.path() / "train.csv");
  test << "file,emotion,speaker,extra\n";
  train << "file,emotion,speaker\n";
  int n_test = 0, n_train = 0;
  for (const data::CsvRecord& r : table.rows) {
    const std::string& e = r.fields[c_emotion];
    if (e != "neutral" && e != "angry" && e != "sad") continue;
    const int actor = std::stoi(r.fields[c_actor]);
    const std::string file = (ravdess / r.fields[c_file]).string();
    if (actor == 19 && n_test < 9) {
      test << file << "," << e << ",actor" << actor << ",x\n";
      ++n_test;
    } else if (actor <= 4 && n_train < 60) {
      train << file << "," << e << ",actor" << actor << "\n";
      ++n_train;
    }
  }
  test << ravdess.string() << "/flac16k/missing.flac,sad,actor19,x\n";                // skipped: no file
  test << (ravdess / table.rows[0].fields[c_file]).string() << ",bored,actor19,x\n";  // skipped: no such label
  test.close();
  train.close();
  ASSERT_EQ(n_test, 9);

  const fs::path out = dir.path() / "out";
  const auto r = testing::run_attune("--threads 2 eval ser --manifest " + (dir.path() / "test.csv").string() +
                                     " --baseline prosody --train-manifest " + (dir.path() / "train.csv").string() +
                                     " --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("| prosody baseline | 9 |"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("missing.flac is missing"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("emotion 'bored'"), std::string::npos) << r.err;
  const nlohmann::json s = nlohmann::json::parse(std::ifstream(out / "summary.json"));
  EXPECT_EQ(s["clips"], 9);
  EXPECT_EQ(s["skipped"].size(), 2u);
  // The shipped model has encoder heads: the head alone and the thinking are scored beside it.
  EXPECT_NE(r.out.find("attune-small encoder head | 9 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("attune-small thinking | 9 |"), std::string::npos) << r.out;
  for (const char* system : {"model", "baseline", "encoder_head", "thinking"}) {
    const nlohmann::json& m = s[system];
    EXPECT_EQ(m["clips"], 9) << system;
    int64_t total = 0;
    for (const auto& row : m["confusion"])
      for (const auto& v : row) total += v.get<int64_t>();
    EXPECT_EQ(total, 9) << system;
    EXPECT_GE(m["ua"].get<double>(), 0.0);
    EXPECT_LE(m["ua"].get<double>(), 1.0);
    EXPECT_EQ(m["per_speaker"]["actor19"]["clips"], 9) << system;
  }
  EXPECT_EQ(s["baseline"]["trained_on"]["clips"], n_train);
  EXPECT_TRUE(fs::exists(out / "confusion-model.svg"));
  EXPECT_TRUE(fs::exists(out / "confusion-prosody-baseline.svg"));
  EXPECT_TRUE(fs::exists(out / "confusion-encoder-head.svg"));
  EXPECT_TRUE(fs::exists(out / "confusion-thinking.svg"));
  std::ifstream clips(out / "clips.jsonl");
  int lines = 0;
  for (std::string line; std::getline(clips, line);) {
    ++lines;
    // Each clip keeps the model's posterior over the seven labels, summing to 1.
    const nlohmann::json clip = nlohmann::json::parse(line);
    ASSERT_TRUE(clip.contains("probabilities")) << line;
    double sum = 0;
    for (const auto& [label, p] : clip["probabilities"].items()) sum += p.get<double>();
    EXPECT_EQ(clip["probabilities"].size(), 7u) << line;
    EXPECT_NEAR(sum, 1.0, 1e-3) << line;
  }
  EXPECT_EQ(lines, 9);

  // A manifest without the speaker column is a one-line error naming the file and the column.
  std::ofstream(dir.path() / "bad.csv") << "file,emotion\nx.wav,sad\n";
  const auto bad = testing::run_attune("eval ser --manifest " + (dir.path() / "bad.csv").string());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("no column 'speaker'"), std::string::npos) << bad.err;

  // A manifest whose only row is unusable says why, not just how many rows were skipped.
  std::ofstream(dir.path() / "none.csv") << "file,emotion,speaker\nmissing.wav,sad,01\n";
  const auto none = testing::run_attune("eval ser --manifest " + (dir.path() / "none.csv").string());
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no usable clips (1 skipped; the first: "), std::string::npos) << none.err;
  EXPECT_NE(none.err.find("missing.wav is missing"), std::string::npos) << none.err;
}

TEST(EvalHumdialCli, TakesTheModelToMeasure) {
  // eval humdial measured only the default model (it had no --model); the model card's script
  // passes one. A missing model directory is named in a one-line error.
  if (testing::run_attune("eval --help").exit_code != 0) GTEST_SKIP() << "attune was built without the model (no eval)";
  testing::TempDir dir;
  std::ofstream(dir.path() / "d.jsonl") << "{}\n";
  const auto r =
      testing::run_attune("eval humdial --model " + (dir.path() / "no-such-model").string() + " --data " +
                          (dir.path() / "d.jsonl").string() + " --task t1 --out " + (dir.path() / "out").string());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("no-such-model: not a model directory"), std::string::npos) << r.err;
}

// `attune eval talkers` on one espeak-ng and one Flite voice, two sentences: every cell is counted, the
// measured deltas move the way the emotion profiles say (sad lower, slower, softer; anger louder), and
// the best voice is the one with the highest congruence in the table.
TEST(EvalTalkersCli, MeasuresBothEnginesAndPicksTheMostCongruentVoice) {
  if (!tts::flite_available()) GTEST_SKIP() << "attune-flite not built (flite1-dev); skipping";
  if (testing::run_attune("eval --help").exit_code != 0) GTEST_SKIP() << "attune was built without the model (no eval)";
  testing::TempDir dir;
  const auto r = testing::run_attune(
      "--threads 2 eval talkers --voices en-female-1,en-flite-slt --sentences 2 "
      "--intensities 0.9 --out " +
      dir.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const nlohmann::json j = nlohmann::json::parse(std::ifstream(dir.path() / "talkers.json"));
  ASSERT_EQ(j["voices"].size(), 2u);
  ASSERT_EQ(j["cells"].size(), 2u * 7);  // neutral once, six emotions at one intensity, per voice
  std::string best;
  double best_congruence = -1;
  for (const auto& v : j["voices"]) {
    if (v["congruence"].get<double>() > best_congruence) {
      best_congruence = v["congruence"].get<double>();
      best = v["voice"];
    }
  }
  EXPECT_EQ(j["best_voice"], best);
  for (const auto& c : j["cells"]) {
    EXPECT_EQ(c["clips"], 2) << c.dump();
    int64_t heard = 0;
    for (const auto& [label, n] : c["heard"].items()) heard += n.get<int64_t>();
    EXPECT_EQ(heard, 2) << c.dump();
    const nlohmann::json& m = c["measured"];
    if (c["emotion"] == "sad") {
      EXPECT_LT(m["pitch_st"].get<double>(), -1.0) << c.dump();
      EXPECT_LT(m["rate_ratio"].get<double>(), 0.9) << c.dump();
      EXPECT_LT(m["loudness_db"].get<double>(), -3.0) << c.dump();
    }
    if (c["emotion"] == "anger") EXPECT_GT(m["loudness_db"].get<double>(), 3.0) << c.dump();
  }
  EXPECT_NE(r.out.find("best voice: " + best), std::string::npos) << r.out;
}

}  // namespace
}  // namespace attune
