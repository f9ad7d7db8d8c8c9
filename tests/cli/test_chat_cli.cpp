// `attune chat` and `attune demo` on the shipped model (models/attune-small), with user turns spoken
// by `attune speak`: the dialogue record, KV-cache reuse across turns, hidden thinking, the reply
// audio, and bad input (corrupt audio, silence, a model from another version, a tiny context).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <set>

#include "audio/audio_file.h"
#include "support/test_support.h"

namespace attune {
namespace {

namespace fs = std::filesystem;
using testing::run_attune;

fs::path shipped_model() { return testing::source_dir() / "models" / "attune-small"; }

bool has_chat() { return run_attune("--help").out.find("chat") != std::string::npos; }

class ChatCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!has_chat()) GTEST_SKIP() << "attune was built without libtorch: no chat";
    ASSERT_TRUE(fs::exists(shipped_model() / "config.json")) << "the shipped model is missing: " << shipped_model();
  }
  // A user turn said by the talker in `emotion`.
  std::string speak(const std::string& name, const std::string& emotion, const std::string& words) {
    const std::string path = (dir_ / name).string();
    const auto r = run_attune("speak --emotion " + emotion + " --intensity 0.8 --out " + path + " \"" + words + "\"");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return path;
  }
  std::string model_arg() const { return "--model " + shipped_model().string() + " --max-new-tokens 200"; }
  testing::TempDir dir_;
};

const std::set<std::string> kLabels = {"happy", "sad", "anger", "fear", "neutral", "surprise", "disgust", ""};

TEST_F(ChatCli, RunsAWholeDialogueAndWritesItsRecord) {
  const std::string t1 = speak("t1.wav", "neutral", "Hi. I had my job interview this morning.");
  const std::string t2 = speak("t2.wav", "sad", "They just emailed me. I did not get the job.");
  const fs::path out = dir_ / "out";
  const auto r = run_attune("--threads 2 chat " + model_arg() + " --json --out " + out.string() + " " + t1 + " " + t2);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json record = nlohmann::json::parse(r.out);
  ASSERT_EQ(record["turns"].size(), 2u) << r.out;
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(out / "dialogue.json")), record);

  for (size_t i = 0; i < 2; ++i) {
    const nlohmann::json& turn = record["turns"][i];
    const std::string reply = turn["response_text"];
    EXPECT_EQ(reply.find("<think>"), std::string::npos) << reply;
    EXPECT_EQ(reply.find("</think>"), std::string::npos) << reply;
    EXPECT_TRUE(kLabels.count(turn["emotion"].get<std::string>())) << turn["emotion"];
    EXPECT_EQ(turn["split_audio_file"], i == 0 ? t1 : t2);
    const nlohmann::json& a = turn["attune"];
    EXPECT_EQ(a["trajectory"].size(), i + 1);
    if (!turn["emotion"].get<std::string>().empty()) {
      double total = 0;
      for (const auto& [label, p] : a["probabilities"].items()) total += p.get<double>();
      EXPECT_NEAR(total, 1.0, 1e-6);
      EXPECT_EQ(a["probabilities"].size(), 7u);
    }
    // The reply audio is real speech at 16 kHz when there is a reply to speak.
    if (!reply.empty()) {
      const AudioBuffer spoken = audio::load_audio(turn["response_audio"].get<std::string>());
      EXPECT_EQ(spoken.sample_rate, 16000);
      EXPECT_GT(spoken.duration_s(), 0.2);
      EXPECT_GT(a["timings_s"]["first_audio"].get<double>(), 0.0);
      EXPECT_LE(a["timings_s"]["first_audio"].get<double>(), a["timings_s"]["total"].get<double>());
    }
    const double first = a["timings_s"]["first_token"], last = a["timings_s"]["last_token"];
    EXPECT_GT(first, 0.0);
    EXPECT_LE(first, last);
  }
  // Turn 2 only feeds its own tokens (closing the previous exchange + its audio + template), not the
  // whole history again: fewer than turn 1's prompt plus everything turn 1 generated.
  const auto p1 = record["turns"][0]["attune"]["prompt_tokens"].get<int64_t>();
  const auto g1 = record["turns"][0]["attune"]["generated_tokens"].get<int64_t>();
  const auto p2 = record["turns"][1]["attune"]["prompt_tokens"].get<int64_t>();
  EXPECT_LT(p2, p1 + g1) << "turn 2 re-read the dialogue";
  EXPECT_LT(p2, p1 + 20);
  // The readable transcript went to stderr, without the thinking.
  EXPECT_NE(r.err.find("heard:"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("thinking:"), std::string::npos);
  EXPECT_NE(r.err.find("medians over 2 turns"), std::string::npos);
}

TEST_F(ChatCli, ShowsTheThinkingOnlyOnRequest) {
  const std::string t1 = speak("t1.wav", "fear", "I think something is wrong with my car.");
  const auto r = run_attune("chat " + model_arg() + " --no-speech --show-thinking " + t1);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("thinking:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reply:"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("<think>"), std::string::npos) << r.out;
}

TEST_F(ChatCli, UnusualAudioIsAnsweredWithAWarning) {
  AudioBuffer silence;
  silence.sample_rate = 16000;
  silence.samples.assign(16000, 0.0f);
  const fs::path quiet = dir_ / "silence.wav";
  audio::write_audio(quiet, silence);
  AudioBuffer tiny;
  tiny.sample_rate = 16000;
  tiny.samples.assign(80, 0.1f);
  const fs::path blip = dir_ / "blip.wav";
  audio::write_audio(blip, tiny);
  const auto r = run_attune("chat " + model_arg() + " --no-speech --json " + quiet.string() + " " + blip.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json record = nlohmann::json::parse(r.out);
  ASSERT_EQ(record["turns"].size(), 2u);
  EXPECT_NE(record["turns"][0]["attune"]["warnings"].dump().find("silent"), std::string::npos) << r.out;
  EXPECT_NE(record["turns"][1]["attune"]["warnings"].dump().find("very short"), std::string::npos) << r.out;
}

TEST_F(ChatCli, ATinyContextDropsTheOldestExchanges) {
  const std::string t1 = speak("t1.wav", "happy", "I passed my exam today.");
  const auto r = run_attune("chat --model " + shipped_model().string() +
                            " --no-speech --json --context 320 --max-new-tokens 120 " + t1 + " " + t1 + " " + t1);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json record = nlohmann::json::parse(r.out);
  ASSERT_EQ(record["turns"].size(), 3u);
  const std::string warnings =
      record["turns"][2]["attune"]["warnings"].dump() + record["turns"][1]["attune"]["warnings"].dump();
  EXPECT_NE(warnings.find("outgrew"), std::string::npos) << r.out;
  EXPECT_EQ(record["turns"][2]["attune"]["trajectory"].size(), 3u);  // the session remembers every turn
}

TEST_F(ChatCli, BadInputFailsWithOneLineNamingTheProblem) {
  const fs::path corrupt = dir_ / "corrupt.wav";
  testing::write_bytes(corrupt, "RIFF\x10\x00\x00\x00WAVEjunkjunkjunk");
  auto r = run_attune("chat " + model_arg() + " " + corrupt.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(corrupt.string()), std::string::npos) << r.err;

  const std::string t1 = speak("t1.wav", "neutral", "Hello there.");
  r = run_attune("chat --model " + (dir_ / "nowhere").string() + " " + t1);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nowhere"), std::string::npos) << r.err;

  // A model directory written by another version of attune.
  const fs::path other = dir_ / "other-version";
  fs::create_directories(other);
  for (const auto& entry : fs::directory_iterator(shipped_model())) {
    fs::create_symlink(entry.path(), other / entry.path().filename());
  }
  fs::remove(other / "config.json");
  nlohmann::json config = nlohmann::json::parse(std::ifstream(shipped_model() / "config.json"));
  config["format_version"] = 99;
  std::ofstream(other / "config.json") << config.dump(2);
  r = run_attune("chat --model " + other.string() + " " + t1);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("format_version"), std::string::npos) << r.err;

  // No turns and no terminal.
  r = run_attune("chat " + model_arg());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("audio files"), std::string::npos) << r.err;
}

TEST_F(ChatCli, DemoVoicesTheExamplesAndAnswersThem) {
  const fs::path out = dir_ / "demo";
  const auto r = run_attune("--threads 2 demo --max-new-tokens 200 --dialogue neutral-words --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Neutral words"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("heard:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("medians over 2 turns"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(out / "neutral-words" / "user-1.wav"));
  EXPECT_TRUE(fs::exists(out / "neutral-words" / "dialogue.json"));
}

}  // namespace
}  // namespace attune
