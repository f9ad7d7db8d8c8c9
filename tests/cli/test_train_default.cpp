// scripts/train-default.sh --smoke: every step of the default model's pipeline (data, tokenizer,
// stage 0, the encoder stages, stage 1, the heard words, stage 2, the copy, an evaluation) runs from the
// real recipes on a few dialogues, and a second run skips every finished step.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "io/safetensors.h"
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

// The first `n` values of a tensor as floats (F32 or BF16).
std::vector<float> head_values(const fs::path& file, const std::string& name, size_t n) {
  const io::SafetensorsFile f = io::SafetensorsFile::open(file);
  const io::TensorView& t = f.tensor(name);
  std::vector<float> out;
  for (size_t i = 0; i < n && i < static_cast<size_t>(t.numel()); ++i) {
    if (t.dtype == io::Dtype::kBF16) {
      uint16_t bits;
      std::memcpy(&bits, t.data + 2 * i, 2);
      out.push_back(io::bf16_to_f32(bits));
    } else {
      float v;
      std::memcpy(&v, t.data + 4 * i, 4);
      out.push_back(v);
    }
  }
  return out;
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
  EXPECT_EQ(config.at("encoder_heads").at("prosody_expert_hidden"), 64);
  EXPECT_EQ(config.at("encoder_heads").at("prosody_expert_weight"), 0.4);  // set by the expert's own step
  EXPECT_EQ(config.at("encoder_heads").at("ctc_encoder"), true);           // the transcriber's step
  EXPECT_EQ(config.at("encoder_heads").at("ctc_lm"), "ctc_lm.arpa.gz");    // data char-lm on the model
  EXPECT_GT(fs::file_size(tmp / "run/model/ctc_lm.arpa.gz"), 0u);
  EXPECT_EQ(config.at("encoder_heads").at("words_in_prompt"), true);  // stage 2 read the heard words
  EXPECT_NE(slurp(tmp / "run/voiced-train/dialogues.jsonl").find("\"heard_words\""), std::string::npos);
  EXPECT_EQ(config.at("quotes").at("source_prior").size(), 4u);  // learnt from the train traces
  EXPECT_EQ(config.at("quotes").at("prior_weight"), 4.0);
  EXPECT_TRUE(config.contains("style_head"));
  EXPECT_TRUE(fs::exists(tmp / "run/model/tokenizer.json"));
  const nlohmann::json turns = nlohmann::json::parse(slurp(tmp / "run/model-card/turns.json"));
  EXPECT_FALSE(turns.empty());
  const std::string samples = slurp(tmp / "run/model-card/samples.md");
  EXPECT_NE(samples.find("### reccon"), std::string::npos) << samples;
  EXPECT_NE(samples.find("- **user** ("), std::string::npos) << samples;
  // Every step timed (stage 0 beside the encoder stages, and their wall time), and stage 0's log
  // names its corpus weights.
  const std::string times = slurp(tmp / "run/times.tsv");
  for (const char* step :
       {"data: text train", "tokenizer", "stage 0: text teacher [parallel]", "encoder pre-training [parallel]",
        "encoder pre-training, recorded voices [parallel]", "prosody expert on clean functionals [parallel]",
        "transcription encoder [parallel]", "stage 0 beside encoder pre-training (wall)", "stage 1: speech alignment",
        "data: voiced train, heard words", "data: voiced valid shards, heard words", "stage 2: end to end",
        "quote priors from the train traces", "eval: turns (smoke)"}) {
    EXPECT_NE(times.find(std::string(step) + "\t"), std::string::npos) << step << "\n" << times;
  }
  // The encoder stages ran beside stage 0 with a fresh language model; stage 1 swapped in stage 0's.
  const std::string embed = "model.embed_tokens.weight", in_slm = "language_model." + embed;
  const std::vector<float> teacher = head_values(tmp / "run/stage0/final/model.safetensors", embed, 64);
  EXPECT_EQ(head_values(tmp / "run/stage1/final/model.safetensors", in_slm, 64), teacher);
  EXPECT_NE(head_values(tmp / "run/encoder-real/final/model.safetensors", in_slm, 64), teacher);
  EXPECT_NE(slurp(tmp / "run/stage0.log").find("data.corpus_weights: empatheticdialogues x6"), std::string::npos);

  // Again: everything is done, nothing runs.
  const testing::CommandResult second = testing::run_shell(command);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("== stage 2: end to end: done"), std::string::npos) << second.out;
  EXPECT_EQ((second.out + second.err).find("attune train:"), std::string::npos);
}

}  // namespace
}  // namespace attune
