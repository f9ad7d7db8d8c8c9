// `attune generate` against the independent numpy reference (tests/model/make_lm_reference.py):
// greedy tokens from the command line and the dumped logits.
#include <gtest/gtest.h>

#include <sstream>

#include "io/npy.h"
#include "io/safetensors.h"
#include "support/test_support.h"

namespace attune {
namespace {

using testing::run_attune;

TEST(GenerateCli, GreedyTokensAndLogitsMatchTheReference) {
  if (run_attune("--help").out.find("generate") == std::string::npos) {
    GTEST_SKIP() << "attune was built without libtorch (ATTUNE_WITH_TORCH=OFF): no generate command";
  }
  auto fixtures = testing::fixtures_dir();
  auto ref = io::SafetensorsFile::open(fixtures / "lm_reference.safetensors");
  std::vector<float> input = io::to_f32(ref.tensor("qwen2.input_ids"));
  std::vector<float> greedy = io::to_f32(ref.tensor("qwen2.greedy_ids"));
  std::vector<float> logits = io::to_f32(ref.tensor("qwen2.logits"));
  std::string ids;
  for (float v : input) ids += std::to_string(static_cast<int>(v)) + " ";

  testing::TempDir dir;
  auto r = run_attune("generate --model " + (fixtures / "lm_qwen2_tiny").string() + " --prompt-ids '" + ids +
                      "' --max-new-tokens 8 --dtype fp32 --no-stream --dump-logits " + (dir / "logits.npy").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream out(r.out);
  std::vector<int> got;
  for (int id; out >> id;) got.push_back(id);
  ASSERT_EQ(got.size(), greedy.size()) << r.out;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], static_cast<int>(greedy[i])) << "step " << i;

  io::NpyArray dumped = io::read_npy(dir / "logits.npy");
  ASSERT_EQ(dumped.shape.size(), 2u);
  ASSERT_GE(dumped.shape[0], 10);
  ASSERT_EQ(dumped.shape[1], 64);
  double diff = 0;
  for (size_t i = 0; i < logits.size(); ++i) diff = std::max(diff, std::abs(dumped.values[i] - logits[i]));
  std::cout << "prompt logits from the CLI vs numpy reference: max abs diff " << diff << " (limit 1e-4)\n";
  EXPECT_LE(diff, 1e-4);
}

TEST(GenerateCli, BadModelDirectoryIsAOneLineError) {
  if (run_attune("--help").out.find("generate") == std::string::npos) GTEST_SKIP() << "built without libtorch";
  testing::TempDir dir;
  auto r = run_attune("generate --model " + dir.path().string() + " --prompt-ids '1 2'");
  EXPECT_EQ(r.exit_code, 1);
  // The resolved options come first (stderr), then exactly one error line naming the file.
  size_t at = r.err.find("attune: error: ");
  ASSERT_NE(at, std::string::npos) << r.err;
  std::string error = r.err.substr(at);
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 1) << r.err;
  EXPECT_NE(error.find((dir / "config.json").string()), std::string::npos) << r.err;
}

}  // namespace
}  // namespace attune
