// `attune speak`, run as a user would. Skipped when espeak-ng is missing or the binary is not built.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "audio/audio_file.h"
#include "audio/prosody.h"
#include "support/test_support.h"
#include "tts/espeak_talker.h"
#include "tts/flite_talker.h"

namespace attune::tts {
namespace {

using testing::run_attune;
using testing::TempDir;

// `attune` starts in about a second on a busy machine (it links libtorch), so these tests run it
// as few times as they can.
#define REQUIRE_ESPEAK() \
  if (!espeak_available()) GTEST_SKIP() << "espeak-ng not installed (scripts/install-deps.sh); skipping"
#define SKIP_IF_NOT_BUILT(result) \
  if ((result).exit_code == 127) GTEST_SKIP() << "attune binary not built; skipping"

TEST(SpeakCli, WritesAudioAndReportsRtfWithBothOperands) {
  REQUIRE_ESPEAK();
  TempDir dir;
  auto r = run_attune("speak --emotion sad --intensity 0.8 --voice en-female-2 --out " + (dir / "a.flac").string() +
                      " 'I missed the last train home.'");
  SKIP_IF_NOT_BUILT(r);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex(R"(RTF = ([0-9.]+) s / ([0-9.]+) s = ([0-9.]+))"))) << r.err;
  EXPECT_NEAR(std::stod(m[1]) / std::stod(m[2]), std::stod(m[3]), 0.01);
  AudioBuffer a = audio::load_audio(dir / "a.flac");
  EXPECT_EQ(a.sample_rate, 16000);
  EXPECT_NEAR(a.duration_s(), std::stod(m[2]), 0.01);
  auto summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary["emotion"], "sad");
  EXPECT_EQ(summary["voice"], "en-female-2");
}

TEST(SpeakCli, StreamsSeededSpeakersAndReadsStdin) {
  REQUIRE_ESPEAK();
  TempDir dir;
  auto r = run_attune("speak --stream --seed 11 --sex male --out " + (dir / "b.wav").string() + " -",
                      std::string("First sentence. Second one!"));
  SKIP_IF_NOT_BUILT(r);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("sentence 2:"), std::string::npos) << r.err;
  auto summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary["sentences"], 2);
  EXPECT_NE(summary["voice"].get<std::string>().find("~11"), std::string::npos);
}

TEST(SpeakCli, ListsVoices) {
  auto r = run_attune("speak --list-voices");
  SKIP_IF_NOT_BUILT(r);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("en-female-1"), std::string::npos);
  EXPECT_NE(r.out.find("zh-male-1"), std::string::npos);
  EXPECT_NE(r.out.find("engine"), std::string::npos);
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(en-flite-slt +flite +en +female +slt)"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(en-male-1 +espeak +en +male +en-us\+m3)"))) << r.out;
}

TEST(SpeakCli, FliteVoicesSpeakSadLowerAndSofterThanAnger) {
  if (!flite_available()) GTEST_SKIP() << "attune-flite not built (flite1-dev); skipping";
  TempDir dir;
  nlohmann::json summaries[2];
  double f0[2], loudness[2];
  const char* emotions[] = {"sad", "anger"};
  for (int i = 0; i < 2; ++i) {
    const std::string out = (dir / (std::string(emotions[i]) + ".wav")).string();
    auto r = run_attune(std::string("speak --voice en-flite-awb --emotion ") + emotions[i] + " --out " + out +
                        " 'Nobody told me the meeting was moved to today.'");
    SKIP_IF_NOT_BUILT(r);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    summaries[i] = nlohmann::json::parse(r.out);
    const AudioBuffer a = audio::load_audio(out);
    const audio::Prosody p = audio::analyse_prosody(a.samples, a.sample_rate);
    f0[i] = p.get("f0_p50_hz");
    loudness[i] = p.get("loudness_db");
  }
  EXPECT_EQ(summaries[0]["engine"], "flite");
  EXPECT_EQ(summaries[0]["engine_voice"], "awb");
  EXPECT_LT(f0[0], f0[1]);
  EXPECT_LT(loudness[0], loudness[1]);
}

TEST(SpeakCli, ErrorsAreOneLineAndLeaveNoFile) {
  TempDir dir;
  const std::string out = (dir / "c.wav").string();
  // For each engine: a bad voice name, empty text, text with nothing to say.
  for (const std::string& args :
       {"speak --emotion bored --out " + out + " hi", "speak --out " + out + " ' ... '",
        "speak --voice en-flite-nobody --out " + out + " hi", "speak --voice en-flite-slt --out " + out + " ''",
        "speak --voice en-female-1 --out " + out + " ''", "speak --voice en-flite-kal16 --out " + out + " ' ... '",
        "speak --engine flite --lang zh --out " + out + " hi"}) {
    auto r = run_attune(args);
    SKIP_IF_NOT_BUILT(r);
    EXPECT_EQ(r.exit_code, 1) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("attune: error: ", 0), 0u) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace attune::tts
