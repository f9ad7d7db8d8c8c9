// `attune train` end to end on shards built from ../shared/data validation splits: the three smoke
// recipes with falling validation loss, exact resume after SIGKILL, two-process data parallelism equal
// to one process, and bad input (missing shards, another tokenizer, a NaN loss, a failed checkpoint).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "io/safetensors.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using attune::testing::run_attune;
using nlohmann::json;

namespace {

std::vector<json> metrics(const fs::path& run) {
  std::vector<json> out;
  std::ifstream in(run / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));
  return out;
}

std::map<int64_t, double> losses(const fs::path& run) {
  std::map<int64_t, double> out;
  for (const json& j : metrics(run)) {
    if (j.contains("loss")) out[j["step"]] = j["loss"];
  }
  return out;
}

std::pair<double, double> first_last_valid(const fs::path& run) {
  std::vector<double> v;
  for (const json& j : metrics(run)) {
    if (j.contains("valid_loss")) v.push_back(j["valid_loss"]);
  }
  if (v.empty()) return {NAN, NAN};
  return {v.front(), v.back()};
}

class TrainCli : public ::testing::Test {
 protected:
  // Small shards from validation splits: RECCON dialogues (voiced) with RAVDESS clips to train on,
  // DailyDialog with EmoDB clips to validate on.
  void build_data(const fs::path& shared) {
    const std::string tok = (attune::testing::source_dir() / "models/attune-bpe-8k").string();
    auto a =
        run_attune("data build --corpus reccon,ravdess --split valid --limit 24 --voices --no-progress --data-root " +
                   (shared / "data").string() + " --tokenizer " + tok + " --out " + (dir_ / "train").string());
    ASSERT_EQ(a.exit_code, 0) << a.err;
    auto b =
        run_attune("data build --corpus dailydialog,emodb --split valid --limit 8 --voices --no-progress --data-root " +
                   (shared / "data").string() + " --tokenizer " + tok + " --out " + (dir_ / "valid").string());
    ASSERT_EQ(b.exit_code, 0) << b.err;
  }
  std::string recipe(const std::string& name, const std::string& out, const std::string& extra = "") const {
    const fs::path src = attune::testing::source_dir();
    return "train " + (src / "recipes" / name).string() +
           " --no-progress --set data.train=" + (dir_ / "train").string() +
           " --set data.valid=" + (dir_ / "valid").string() +
           " --set model.tokenizer=" + (src / "models/attune-bpe-8k").string() + " --set out=" + (dir_ / out).string() +
           " --set data.batch_tokens=3072 " + extra;
  }
  attune::testing::TempDir dir_;
};

}  // namespace

TEST_F(TrainCli, StagesZeroOneTwoRunFromTheSmokeRecipesWithFallingValidationLoss) {
  ATTUNE_REQUIRE_SHARED(shared);
  build_data(shared);
  auto s0 = run_attune(recipe("smoke-stage0.json", "s0", "--set steps=16 --set eval.interval=16"));
  ASSERT_EQ(s0.exit_code, 0) << s0.err;
  auto [v0, v1] = first_last_valid(dir_ / "s0");
  std::printf("stage 0 validation loss %.4f -> %.4f\n", v0, v1);
  EXPECT_LT(v1, v0 - 1.0);
  EXPECT_TRUE(fs::exists(dir_ / "s0/loss.svg"));
  EXPECT_TRUE(fs::exists(dir_ / "s0/final/tokenizer.json"));
  // The final directory is a model the runtime loads.
  auto gen = run_attune("generate --model " + (dir_ / "s0/final").string() + " --prompt hello --max-new-tokens 3");
  EXPECT_EQ(gen.exit_code, 0) << gen.err;

  // 16 steps: after 8 the loss had moved by +-0.002, which way depending on the traces' wording.
  auto s1 = run_attune(recipe("smoke-stage1.json", "s1",
                              "--set steps=16 --set optim.warmup_steps=2 --set eval.interval=16 "
                              "--set model.slm.language_model.path=" +
                                  (dir_ / "s0/final").string()));
  ASSERT_EQ(s1.exit_code, 0) << s1.err;
  auto [w0, w1] = first_last_valid(dir_ / "s1");
  std::printf("stage 1 validation loss %.4f -> %.4f\n", w0, w1);
  EXPECT_LT(w1, w0);
  for (const json& j : metrics(dir_ / "s1")) {
    if (j.contains("loss")) {
      EXPECT_TRUE(j.contains("kl"));
    }
  }

  auto s2 = run_attune(recipe("smoke-stage2.json", "s2",
                              "--set steps=8 --set optim.warmup_steps=2 --set eval.interval=8 "
                              "--set model.from=" +
                                  (dir_ / "s1/final").string()));
  ASSERT_EQ(s2.exit_code, 0) << s2.err;
  auto [x0, x1] = first_last_valid(dir_ / "s2");
  std::printf("stage 2 validation loss %.4f -> %.4f\n", x0, x1);
  EXPECT_LT(x1, x0);
  const json last = metrics(dir_ / "s2").back();
  EXPECT_TRUE(last.contains("valid_style_accuracy"));
  // The composite carries the speech-style head and loads for spoken generation.
  auto ckpt = attune::io::SafetensorsCheckpoint::open(dir_ / "s2/final");
  EXPECT_TRUE(ckpt.contains("style_head.mlp.0.weight"));
  EXPECT_FALSE(ckpt.contains("language_model.model.layers.0.self_attn.q_proj.lora_A"));
  // Stage 1 started from a model with a speech-style head keeps the head in what it saves (it does not
  // train it), so the saved config.json's "style_head" has its weights.
  auto s1b = run_attune(recipe("smoke-stage1.json", "s1b",
                               "--set steps=2 --set optim.warmup_steps=1 --set eval.interval=2 --set model.slm=null "
                               "--set model.from=" +
                                   (dir_ / "s2/final").string()));
  ASSERT_EQ(s1b.exit_code, 0) << s1b.err;
  EXPECT_TRUE(attune::io::SafetensorsCheckpoint::open(dir_ / "s1b/final").contains("style_head.mlp.0.weight"));
  fs::path clip;
  for (const auto& e : fs::recursive_directory_iterator(dir_ / "valid/audio")) {
    if (e.is_regular_file()) clip = e.path();
  }
  auto spoken = run_attune("generate --model " + (dir_ / "s2/final").string() + " --audio " + clip.string() +
                           " --max-new-tokens 3");
  EXPECT_EQ(spoken.exit_code, 0) << spoken.err;
}

// The encoder stage on voiced RECCON turns and RAVDESS clips: CTC and emotion losses fall, a run
// stopped and resumed gives the uninterrupted run's losses bit for bit, and the final directory is a
// composite the runtime loads with its encoder heads.
TEST_F(TrainCli, EncoderPretrainingLearnsAndResumesBitForBit) {
  ATTUNE_REQUIRE_SHARED(shared);
  build_data(shared);
  const fs::path src = attune::testing::source_dir();
  auto encoder = [&](const std::string& out, const std::string& extra) {
    return "train " + (src / "recipes/smoke-encoder.json").string() +
           " --no-progress --set data.train=" + (dir_ / "train").string() +
           " --set data.valid=" + (dir_ / "valid").string() +
           " --set model.tokenizer=" + (src / "models/attune-bpe-8k").string() + " --set out=" + (dir_ / out).string() +
           " --set steps=40 --set eval.interval=40 --set checkpoint.interval=10 " + extra;
  };
  auto whole = run_attune(encoder("enc", ""));
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  std::map<std::string, std::vector<double>> curves;
  for (const json& j : metrics(dir_ / "enc")) {
    if (!j.contains("loss")) continue;
    for (const char* k : {"loss", "ctc", "emotion"}) curves[k].push_back(j[k]);
  }
  ASSERT_EQ(curves["loss"].size(), 40u);
  auto mean = [](const std::vector<double>& v, size_t from, size_t to) {
    double s = 0;
    for (size_t i = from; i < to; ++i) s += v[i];
    return s / static_cast<double>(to - from);
  };
  for (const char* k : {"loss", "ctc", "emotion"}) {
    const double first = mean(curves[k], 0, 8), last = mean(curves[k], 32, 40);
    std::printf("encoder pre-training %s: first 8 steps %.3f, last 8 %.3f\n", k, first, last);
    EXPECT_LT(last, first) << k;
  }
  const json last = metrics(dir_ / "enc").back();
  EXPECT_TRUE(last.contains("valid_ua_recorded")) << last.dump();
  EXPECT_TRUE(last.contains("valid_cer_synthetic")) << last.dump();

  auto first_part = run_attune(encoder("parts", "--stop-at-step 20"));
  ASSERT_EQ(first_part.exit_code, 0) << first_part.err;
  auto rest = run_attune(encoder("parts", "--resume " + (dir_ / "parts").string()));
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  const auto a = losses(dir_ / "enc"), b = losses(dir_ / "parts");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [step, loss] : a) EXPECT_EQ(b.at(step), loss) << "step " << step;  // bit for bit

  auto ckpt = attune::io::SafetensorsCheckpoint::open(dir_ / "enc/final");
  EXPECT_TRUE(ckpt.contains("encoder_heads.mlp.0.weight"));
  EXPECT_TRUE(ckpt.contains("encoder_heads.ctc.weight"));
  fs::path clip;
  for (const auto& e : fs::recursive_directory_iterator(dir_ / "valid/audio")) {
    if (e.is_regular_file()) clip = e.path();
  }
  auto chat = run_attune("chat --model " + (dir_ / "enc/final").string() + " --no-speech --max-new-tokens 4 --json " +
                         clip.string());
  ASSERT_EQ(chat.exit_code, 0) << chat.err;
  EXPECT_NE(chat.out.find("\"emotion_source\":\"encoder head\""), std::string::npos) << chat.out;

  // Transcription blocks and an encoder of its own added to the trained heads and trained alone
  // (train.parts ["ctc"]): the blocks start as the identity and the encoder as a copy of the shared
  // one (the first evaluation repeats the last one of "enc"), and nothing but the transcription
  // changes.
  auto ctc = run_attune(encoder("ctc", "--set model.slm=null --set model.from=" + (dir_ / "enc/final").string() +
                                           " --set 'train.parts=[\"ctc\"]' --set model.heads.ctc_layers=1"
                                           " --set model.heads.ctc_encoder=true --set steps=6 --set eval.interval=6"));
  ASSERT_EQ(ctc.exit_code, 0) << ctc.err;
  const json start = metrics(dir_ / "ctc").front();
  ASSERT_TRUE(start.contains("valid_cer_synthetic")) << start.dump();
  EXPECT_NEAR(start["valid_cer_synthetic"].get<double>(), last["valid_cer_synthetic"].get<double>(), 1e-12);
  auto grown = attune::io::SafetensorsCheckpoint::open(dir_ / "ctc/final");
  EXPECT_TRUE(grown.contains("encoder_heads.ctc_layers.0.fc1.weight"));
  auto same = [&](const std::string& name) {
    const auto a = ckpt.tensor(name).bytes(), b = grown.tensor(name).bytes();
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
  };
  EXPECT_TRUE(same("encoder_heads.mlp.0.weight"));
  EXPECT_TRUE(same("encoder.model.encoder.layers.0.fc1.weight"));
  EXPECT_FALSE(same("encoder_heads.ctc.weight"));
  ASSERT_TRUE(grown.contains("encoder_heads.ctc_encoder.layers.0.fc1.weight"));
  const auto shared_fc1 = grown.tensor("encoder.model.encoder.layers.0.fc1.weight").bytes();
  const auto own = grown.tensor("encoder_heads.ctc_encoder.layers.0.fc1.weight").bytes();
  EXPECT_FALSE(std::equal(shared_fc1.begin(), shared_fc1.end(), own.begin(), own.end())) << "the copy has learnt";
  // The runtime transcribes with it.
  auto grown_chat = run_attune("chat --model " + (dir_ / "ctc/final").string() +
                               " --no-speech --max-new-tokens 4 --json " + clip.string());
  ASSERT_EQ(grown_chat.exit_code, 0) << grown_chat.err;
  // A character LM for its words (`data char-lm --model`): written into the model directory and named
  // in its config; the runtime decodes with it, or greedily when asked; a later stage carries it.
  const fs::path grown_dir = dir_ / "ctc/final";
  auto lm = run_attune("data char-lm " + (dir_ / "valid").string() + " --order 3 --model " + grown_dir.string());
  ASSERT_EQ(lm.exit_code, 0) << lm.err;
  EXPECT_TRUE(fs::exists(grown_dir / "ctc_lm.arpa.gz"));
  const json with_lm = json::parse(std::ifstream(grown_dir / "config.json"));
  EXPECT_EQ(with_lm["encoder_heads"]["ctc_lm"], "ctc_lm.arpa.gz");
  for (const char* flags : {"", " --greedy-words"}) {
    auto heard = run_attune("chat --model " + grown_dir.string() + flags + " --no-speech --max-new-tokens 4 --json " +
                            clip.string());
    EXPECT_EQ(heard.exit_code, 0) << flags << heard.err;
  }
  auto carried =
      run_attune(encoder("carried", "--set model.slm=null --set model.from=" + grown_dir.string() +
                                        " --set 'train.parts=[\"ctc\"]' --set steps=4 --set eval.interval=0"));
  ASSERT_EQ(carried.exit_code, 0) << carried.err;
  EXPECT_TRUE(fs::exists(dir_ / "carried/final/ctc_lm.arpa.gz"));
  std::ofstream(grown_dir / "ctc_lm.arpa.gz", std::ios::trunc) << "\\data\\\nngram 1=2\n";  // truncated
  auto broken = run_attune("chat --model " + grown_dir.string() + " --no-speech --json " + clip.string());
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.err.find("ctc_lm.arpa.gz"), std::string::npos) << broken.err;

  // The prosody expert trained alone (train.parts ["prosody_expert"]) learns from the clips' clean
  // functionals, measured once: its loss falls, and no other tensor moves.
  auto expert =
      run_attune(encoder("expert", "--set model.slm=null --set model.from=" + (dir_ / "enc/final").string() +
                                       " --set 'train.parts=[\"prosody_expert\"]' --set data.batch_clips=64"
                                       " --set steps=60 --set eval.interval=60 --set checkpoint.interval=60"));
  ASSERT_EQ(expert.exit_code, 0) << expert.err;
  std::vector<double> expert_curve;
  for (const json& j : metrics(dir_ / "expert")) {
    if (j.contains("prosody_expert")) expert_curve.push_back(j["prosody_expert"]);
  }
  ASSERT_EQ(expert_curve.size(), 60u);
  EXPECT_TRUE(metrics(dir_ / "expert").back().contains("valid_ua_expert_recorded"));
  const double expert_first = mean(expert_curve, 0, 10), expert_last = mean(expert_curve, 50, 60);
  std::printf("prosody expert alone: first 10 steps %.3f, last 10 %.3f\n", expert_first, expert_last);
  EXPECT_LT(expert_last, expert_first);
  auto retrained = attune::io::SafetensorsCheckpoint::open(dir_ / "expert/final");
  for (const std::string& name : retrained.names()) {
    const auto a = ckpt.tensor(name).bytes(), b = retrained.tensor(name).bytes();
    const bool equal = a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
    EXPECT_EQ(equal, name.rfind("encoder_heads.prosody_expert.", 0) != 0) << name;
  }

  auto bad = run_attune(encoder("bad", "--set augment.reel=1"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("augment.reel: unknown key"), std::string::npos) << bad.err;
}

TEST_F(TrainCli, KilledRunResumesToTheSameLosses) {
  ATTUNE_REQUIRE_SHARED(shared);
  build_data(shared);
  const std::string args = "--set steps=12 --set log_interval=1 --set eval.interval=0 --set checkpoint.interval=3";
  auto whole = run_attune(recipe("smoke-stage0.json", "whole", args));
  ASSERT_EQ(whole.exit_code, 0) << whole.err;

  // Start the same run, kill it with SIGKILL once a checkpoint exists, then resume it.
  const fs::path pid_file = dir_ / "pid";
  const std::string cmd = attune::testing::attune_bin() + " " + recipe("smoke-stage0.json", "killed", args) +
                          " >/dev/null 2>&1 & echo $! > " + pid_file.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string pid;
  std::ifstream(pid_file) >> pid;
  const fs::path latest = dir_ / "killed/checkpoints/latest";
  for (int i = 0; i < 1200 && !fs::exists(latest); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(latest));
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // mid-way through the next steps
  std::system(("kill -9 " + pid + " 2>/dev/null; while kill -0 " + pid + " 2>/dev/null; do sleep 0.05; done").c_str());
  const size_t before = losses(dir_ / "killed").size();
  std::printf("killed after %zu logged steps of 12\n", before);

  auto resumed = run_attune(recipe("smoke-stage0.json", "killed", args + " --resume " + (dir_ / "killed").string()));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const auto a = losses(dir_ / "whole"), b = losses(dir_ / "killed");
  ASSERT_EQ(a.size(), 12u);
  ASSERT_EQ(b.size(), 12u);
  for (const auto& [step, loss] : a) EXPECT_EQ(b.at(step), loss) << "step " << step;  // bit for bit
  // Without --resume an existing run is not overwritten.
  auto again = run_attune(recipe("smoke-stage0.json", "killed", args));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;
}

TEST_F(TrainCli, TwoGlooProcessesAverageToTheSingleProcessRun) {
  ATTUNE_REQUIRE_SHARED(shared);
  build_data(shared);
  const std::string args = "--set steps=3 --set log_interval=1 --set eval.interval=0 --set optim.warmup_steps=0 ";
  // One process with two micro-batches per step = two processes with one each.
  auto single = run_attune(recipe("smoke-stage0.json", "single", args + "--set optim.grad_accum=2"));
  ASSERT_EQ(single.exit_code, 0) << single.err;
  const int port = 29000 + static_cast<int>(::getpid() % 1000);
  std::string launch;
  for (int rank = 0; rank < 2; ++rank) {
    launch += "RANK=" + std::to_string(rank) +
              " WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " " +
              attune::testing::attune_bin() + " " + recipe("smoke-stage0.json", "ddp", args) + " --threads 1 > " +
              (dir_ / "rank").string() + std::to_string(rank) + ".log 2>&1 & ";
  }
  launch += "wait";
  ASSERT_EQ(std::system(("timeout 300 bash -c '" + launch + "'").c_str()), 0);
  const auto a = losses(dir_ / "single"), b = losses(dir_ / "ddp");
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (const auto& [step, loss] : a) EXPECT_NEAR(b.at(step), loss, 1e-5 * std::abs(loss)) << "step " << step;
  // The averaged gradient equals the single process's: its norm, logged every step after averaging.
  std::map<int64_t, double> g1, g2;
  for (const json& j : metrics(dir_ / "single"))
    if (j.contains("grad_norm")) g1[j["step"]] = j["grad_norm"];
  for (const json& j : metrics(dir_ / "ddp"))
    if (j.contains("grad_norm")) g2[j["step"]] = j["grad_norm"];
  for (const auto& [step, norm] : g1) {
    std::printf("step %lld gradient norm: 1 process %.7f, 2 processes %.7f\n", static_cast<long long>(step), norm,
                g2.at(step));
    EXPECT_NEAR(g2.at(step), norm, 1e-5 * norm);
  }
  // The trained weights agree too. AdamW's first steps move each weight by about lr * sign(gradient),
  // so float32 summation order in near-zero gradients shows as differences up to ~1e-5 here.
  auto w1 = attune::io::SafetensorsCheckpoint::open(dir_ / "single/final");
  auto w2 = attune::io::SafetensorsCheckpoint::open(dir_ / "ddp/final");
  double worst = 0;
  for (const std::string& name : w1.names()) {
    const auto& x = w1.tensor(name);
    const auto& y = w2.tensor(name);
    ASSERT_EQ(x.shape, y.shape);
    const auto* p = reinterpret_cast<const float*>(x.data);
    const auto* q = reinterpret_cast<const float*>(y.data);
    for (size_t i = 0; i < x.nbytes / 4; ++i) worst = std::max(worst, static_cast<double>(std::abs(p[i] - q[i])));
  }
  std::printf("2 Gloo processes vs 1 process with 2 micro-batches: max weight diff %.2e\n", worst);
  EXPECT_LT(worst, 5e-5);
}

TEST_F(TrainCli, BadInputStopsWithOneClearLine) {
  ATTUNE_REQUIRE_SHARED(shared);
  build_data(shared);
  // Missing shards.
  auto missing = run_attune(recipe("smoke-stage0.json", "m", "--set data.train=" + (dir_ / "nowhere").string()));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nowhere"), std::string::npos) << missing.err;
  // Shards rendered with another tokenizer.
  auto tok = run_attune("tokenizer-train " + (dir_ / "train/dialogues.jsonl").string() + " --vocab-size 400 --out " +
                        (dir_ / "tok").string());
  ASSERT_EQ(tok.exit_code, 0) << tok.err;
  auto other = run_attune(recipe("smoke-stage0.json", "o", "--set model.tokenizer=" + (dir_ / "tok").string()));
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("rendered with another tokenizer"), std::string::npos) << other.err;
  // An unknown recipe key.
  auto unknown = run_attune(recipe("smoke-stage0.json", "u", "--set optim.learning_rate=1"));
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("optim.learning_rate: unknown key"), std::string::npos) << unknown.err;
  // A loss that blows up: stop, name the last good checkpoint, keep it.
  auto nan = run_attune(recipe("smoke-stage0.json", "nan",
                               "--set optim.lr=1e30 --set optim.clip_norm=0 --set optim.warmup_steps=0 "
                               "--set checkpoint.interval=1 --set eval.interval=0 --set steps=20"));
  EXPECT_EQ(nan.exit_code, 1);
  EXPECT_NE(nan.err.find("training stopped"), std::string::npos) << nan.err;
  EXPECT_NE(nan.err.find("last good checkpoint"), std::string::npos) << nan.err;
  EXPECT_TRUE(fs::exists(dir_ / "nan/checkpoints/latest"));
  // A checkpoint that cannot be written (a full disk): the previous one survives intact.
  const std::string fail = "ATTUNE_TEST_FAIL_CHECKPOINT_AT_STEP=4 ";
  auto full =
      run_attune(recipe("smoke-stage0.json", "full",
                        "--set steps=6 --set checkpoint.interval=2 --set eval.interval=0 --set optim.warmup_steps=0"),
                 std::nullopt, fail);
  EXPECT_EQ(full.exit_code, 1);
  EXPECT_NE(full.err.find("checkpoint at step 4 failed"), std::string::npos) << full.err;
  EXPECT_NE(full.err.find("step-00000002 is intact"), std::string::npos) << full.err;
  EXPECT_TRUE(fs::exists(dir_ / "full/checkpoints/step-00000002/trainer_state.json"));
  EXPECT_FALSE(fs::exists(dir_ / "full/checkpoints/step-00000004.tmp"));
  auto resumed = run_attune(recipe("smoke-stage0.json", "full",
                                   "--set steps=6 --set checkpoint.interval=2 --set eval.interval=0 "
                                   "--set optim.warmup_steps=0 --resume " +
                                       (dir_ / "full").string()));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
}
