// `attune features` and the CLI's common behaviour, run as a user would run them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "io/npy.h"
#include "support/test_support.h"

namespace attune {
namespace {

using testing::run_attune;
namespace fs = std::filesystem;

std::string example(const std::string& name) { return (testing::source_dir() / "examples/audio" / name).string(); }

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST(Cli, VersionAndHelp) {
  auto version = run_attune("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("attune 0."), std::string::npos) << version.out;
  auto help = run_attune("features --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--mel"), std::string::npos);
  EXPECT_NE(run_attune("").exit_code, 0);  // a subcommand is required
  EXPECT_EQ(run_attune("features --no-such-option x.wav").exit_code, 2);
  EXPECT_EQ(run_attune("--log-level loud features " + example("fine_calm.flac")).exit_code, 1);
}

TEST(Features, JsonLinesWithProsodyAndRtf) {
  auto r = run_attune("features " + example("fine_calm.flac") + " " + example("fine_tense.flac"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 2u);
  for (const char* key : {"f0_mean_hz", "voiced_fraction", "loudness_db", "speaking_rate_syl_per_s"}) {
    EXPECT_TRUE(rows[0]["prosody"].contains(key)) << key;
  }
  EXPECT_NEAR(rows[0]["duration_s"].get<double>(), 6.0, 1.0);
  EXPECT_EQ(rows[0]["sample_rate"], 16000);
  // The tense rendering is higher, louder and faster than the calm one (espeak-ng -p 80 -s 210 vs -p 30 -s 140).
  EXPECT_GT(rows[1]["prosody"]["f0_mean_hz"].get<double>(), rows[0]["prosody"]["f0_mean_hz"].get<double>() * 1.2);
  EXPECT_GT(rows[1]["prosody"]["loudness_db"].get<double>(), rows[0]["prosody"]["loudness_db"].get<double>() + 3);
  EXPECT_NE(r.err.find("RTF = "), std::string::npos) << r.err;
}

TEST(Features, WritesLogMelNpy) {
  testing::TempDir dir;
  auto r = run_attune("features --mel " + (dir / "mel.npy").string() + " " + example("fine_calm.flac"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  io::NpyArray mel = io::read_npy(dir / "mel.npy");
  ASSERT_EQ(mel.shape.size(), 2u);
  EXPECT_EQ(mel.shape[0], 80);
  EXPECT_NEAR(static_cast<double>(mel.shape[1]), 603, 2);  // 6.03 s at 100 frames/s
  auto table = run_attune("features --format table --n-mels 128 --pad-30s --mel " + (dir / "m.npy").string() + " " +
                          example("fine_calm.flac"));
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("f0_mean_hz"), std::string::npos);
  EXPECT_EQ(io::read_npy(dir / "m.npy").shape, (std::vector<int64_t>{128, 3000}));
}

TEST(Features, BadInputIsOneLineAndNoOutputFile) {
  testing::TempDir dir;
  testing::write_bytes(dir / "notes.wav", "just some text\n");
  auto r = run_attune("features --mel " + (dir / "mel.npy").string() + " " + (dir / "notes.wav").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("notes.wav"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "mel.npy"));
  auto d = run_attune("features " + dir.path().string());
  EXPECT_EQ(d.exit_code, 1);
  EXPECT_NE(d.err.find("is a directory"), std::string::npos) << d.err;
  auto m = run_attune("features --mel out.txt " + example("fine_calm.flac"));
  EXPECT_EQ(m.exit_code, 1);
  EXPECT_NE(m.err.find("--mel"), std::string::npos) << m.err;
}

}  // namespace
}  // namespace attune
