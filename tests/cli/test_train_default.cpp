// scripts/train-default.sh --smoke: every step of the default model's pipeline (data, tokenizer,
// stage 0, encoder pre-training in two parts, stages 1 and 2, the copy, an evaluation) runs from the
// real recipes on a few dialogues, and a second run skips every finished step.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "support/test_support.h"

namespace attune {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(TrainDefault, SmokeRunsEveryStageAndResumes) {
  ATTUNE_REQUIRE_SHARED(shared);
  testing::TempDir tmp;
  const std::string command = "ATTUNE_BIN=" + testing::attune_bin() + " ATTUNE_SHARED_DIR=" + shared.string() + " " +
                              (testing::source_dir() / "scripts/train-default.sh").string() +
                              " --smoke --threads 2 --out " + (tmp / "run").string();
  const testing::CommandResult first = testing::run_shell(command);
  ASSERT_EQ(first.exit_code, 0) << first.out.substr(first.out.size() > 4000 ? first.out.size() - 4000 : 0)
                                << first.err.substr(first.err.size() > 4000 ? first.err.size() - 4000 : 0);
  // The model: a composite with encoder heads (evidence weight from the recipe) and the style head.
  const nlohmann::json config = nlohmann::json::parse(slurp(tmp / "run/model/config.json"));
  EXPECT_EQ(config.at("model_type"), "attune_slm");
  EXPECT_EQ(config.at("encoder_heads").at("evidence_weight"), 5.0);
  EXPECT_TRUE(config.contains("talker"));
  EXPECT_TRUE(fs::exists(tmp / "run/model/tokenizer.json"));
  const nlohmann::json turns = nlohmann::json::parse(slurp(tmp / "run/model-card/turns.json"));
  EXPECT_FALSE(turns.empty());
  // Every step timed, and the stages' logs name the corpus weights of stage 0.
  const std::string times = slurp(tmp / "run/times.tsv");
  for (const char* step : {"data: text train", "tokenizer", "stage 0: text teacher", "encoder pre-training",
                           "encoder pre-training, recorded voices", "stage 1: speech alignment", "stage 2: end to end",
                           "eval: turns (smoke)"}) {
    EXPECT_NE(times.find(std::string(step) + "\t"), std::string::npos) << step << "\n" << times;
  }
  EXPECT_NE((first.out + first.err).find("data.corpus_weights: empatheticdialogues x6"), std::string::npos);

  // Again: everything is done, nothing runs.
  const testing::CommandResult second = testing::run_shell(command);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("== stage 2: end to end: done"), std::string::npos) << second.out;
  EXPECT_EQ((second.out + second.err).find("attune train:"), std::string::npos);
}

}  // namespace
}  // namespace attune
