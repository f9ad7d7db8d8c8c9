// `attune generate --audio FILE`: the whole spoken language model from the command line. This binary
// has no torch, so the tiny composite directory is written with attune_io: the encoder by path
// (tests/fixtures/whisper_tiny_random), a concat_mlp adapter and a tiny tied qwen2 LM inline with
// random weights, and a BPE tokenizer trained here.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <regex>

#include "audio/audio_file.h"
#include "io/model_config.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "support/test_support.h"
#include "text/bpe_trainer.h"
#include "text/chat_template.h"

namespace attune {
namespace {

namespace fs = std::filesystem;
using testing::run_attune;

constexpr int64_t kHidden = 32;

bool has_generate() { return run_attune("--help").out.find("generate") != std::string::npos; }

struct RandomTensors {
  std::vector<std::vector<float>> data;  // stable storage (a vector of vectors: moved, never copied)
  std::vector<io::TensorToWrite> tensors;
  std::mt19937 rng{1234};

  void add(const std::string& name, std::vector<int64_t> shape, float scale, float offset = 0.0f) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (float& x : v) x = offset + scale * u(rng);
    data.push_back(std::move(v));
    const auto& stored = data.back();
    tensors.push_back(
        {name, io::Dtype::kF32, std::move(shape), std::as_bytes(std::span<const float>(stored.data(), stored.size()))});
  }
};

text::Tokenizer train_tokenizer(const fs::path& save_to) {
  text::BpeTrainerOptions options;
  options.vocab_size = 300;
  text::BpeTrainer trainer(options);
  for (int i = 0; i < 10; ++i) trainer.add_text("I failed my exam today and I feel terrible. How do I sound?");
  trainer.train();
  trainer.save(save_to);
  return trainer.tokenizer();
}

// The composite directory, written once for the whole binary.
struct SlmDir {
  testing::TempDir dir;
  text::Tokenizer tokenizer{train_tokenizer(dir / "tokenizer.json")};
  io::SlmConfig config;

  SlmDir() {
    const fs::path whisper = testing::fixtures_dir() / "whisper_tiny_random";
    io::SlmConfig& c = config;
    c.encoder.config = *io::load_hf_config(whisper).whisper();
    c.encoder.path = whisper.string();
    c.encoder.dir = whisper;
    c.adapter.type = "concat_mlp";
    c.adapter.stride = 4;
    c.adapter.num_layers = 2;
    c.adapter.input_size = c.encoder.config.d_model;
    c.adapter.hidden_size = kHidden;
    c.adapter.output_size = kHidden;
    auto& lm = c.language_model.config;
    lm = io::language_model_defaults(io::ModelFamily::kQwen2);
    lm.vocab_size = tokenizer.vocab_size();
    lm.hidden_size = kHidden;
    lm.intermediate_size = 48;
    lm.num_hidden_layers = 1;
    lm.num_attention_heads = 4;
    lm.num_key_value_heads = 2;
    lm.head_dim = 8;
    lm.max_position_embeddings = 256;
    lm.tie_word_embeddings = true;
    lm.eos_token_ids = {tokenizer.token_to_id("<|im_end|>")};
    c.style_head.input_size = kHidden;
    io::write_slm_config(dir / "config.json", c);

    RandomTensors w;
    const int64_t in = c.adapter.stride * c.adapter.input_size, kv = 2 * 8;
    w.add("adapter.mlp.0.weight", {kHidden, in}, 0.1f);
    w.add("adapter.mlp.0.bias", {kHidden}, 0.02f);
    w.add("adapter.mlp.1.weight", {kHidden, kHidden}, 0.1f);
    w.add("adapter.mlp.1.bias", {kHidden}, 0.02f);
    const std::string p = "language_model.model.";
    w.add(p + "embed_tokens.weight", {lm.vocab_size, kHidden}, 0.1f);
    const std::string l = p + "layers.0.";
    w.add(l + "self_attn.q_proj.weight", {kHidden, kHidden}, 0.1f);
    w.add(l + "self_attn.q_proj.bias", {kHidden}, 0.02f);
    w.add(l + "self_attn.k_proj.weight", {kv, kHidden}, 0.1f);
    w.add(l + "self_attn.k_proj.bias", {kv}, 0.02f);
    w.add(l + "self_attn.v_proj.weight", {kv, kHidden}, 0.1f);
    w.add(l + "self_attn.v_proj.bias", {kv}, 0.02f);
    w.add(l + "self_attn.o_proj.weight", {kHidden, kHidden}, 0.1f);
    w.add(l + "mlp.gate_proj.weight", {lm.intermediate_size, kHidden}, 0.1f);
    w.add(l + "mlp.up_proj.weight", {lm.intermediate_size, kHidden}, 0.1f);
    w.add(l + "mlp.down_proj.weight", {kHidden, lm.intermediate_size}, 0.1f);
    w.add(l + "input_layernorm.weight", {kHidden}, 0.1f, 1.0f);
    w.add(l + "post_attention_layernorm.weight", {kHidden}, 0.1f, 1.0f);
    w.add(p + "norm.weight", {kHidden}, 0.1f, 1.0f);
    io::write_safetensors(dir / "model.safetensors", std::move(w.tensors));
  }
};

const SlmDir& slm_dir() {
  static SlmDir* d = new SlmDir();
  return *d;
}

fs::path example_clip() { return testing::source_dir() / "examples/audio/fine_calm.flac"; }

int64_t number_after(const std::string& text, const std::string& pattern) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(pattern))) return -1;
  return std::stoll(m[1].str());
}

TEST(GenerateAudioCli, RunsTheWholeModelAndDumpsEveryLogitRow) {
  if (!has_generate()) GTEST_SKIP() << "attune was built without libtorch: no generate command";
  const SlmDir& slm = slm_dir();
  testing::TempDir out;
  const fs::path logits = out / "logits.npy";
  auto r = run_attune("generate --model " + slm.dir.path().string() + " --audio " + example_clip().string() +
                      " --prompt 'How do I sound?' --max-new-tokens 5 --dtype fp32 --dump-logits " + logits.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::cout << r.err;
  std::smatch rtf;
  ASSERT_TRUE(std::regex_search(r.err, rtf, std::regex(R"(RTF = ([0-9.]+) s / ([0-9.]+) s = ([0-9.]+))"))) << r.err;
  EXPECT_NEAR(std::stod(rtf[2].str()), 6.03, 0.01);  // the clip is 6.03 s long
  EXPECT_GT(std::stod(rtf[1].str()), 0.0);

  // The prompt the CLI must have rendered: one user turn with the clip's slots, then the text.
  const AudioBuffer clip = audio::load_mono(example_clip());
  const text::ChatTemplate chat(slm.tokenizer);
  text::RenderOptions render;
  render.add_generation_prompt = true;
  const int64_t slots = text::audio_slot_count(clip.frames(), 4);
  const auto expected_prompt = static_cast<int64_t>(
      chat.render({{text::Role::kUser, "How do I sound?", slots, std::nullopt}}, render).ids.size());
  const int64_t prompt = number_after(r.err, R"(prompt (\d+) tokens)");
  const int64_t steps = number_after(r.err, R"(decode (\d+) steps)");
  EXPECT_EQ(prompt, expected_prompt) << r.err;
  EXPECT_EQ(number_after(r.err, R"(encoder\+adapter (\d+) audio tokens)"), slots) << r.err;
  ASSERT_GE(steps, 0) << r.err;

  io::NpyArray dumped = io::read_npy(logits);
  ASSERT_EQ(dumped.shape.size(), 2u);
  EXPECT_EQ(dumped.shape[0], prompt + steps);  // as the text path: prompt + generated - 1 rows
  EXPECT_EQ(dumped.shape[1], slm.tokenizer.vocab_size());
  std::cout << "logits [" << dumped.shape[0] << ", " << dumped.shape[1] << "]: prompt " << prompt << " + " << steps
            << " decode steps\n";
}

TEST(GenerateAudioCli, CorruptAudioIsOneErrorLineNamingTheFile) {
  if (!has_generate()) GTEST_SKIP() << "built without libtorch";
  testing::TempDir out;
  const fs::path bad = out / "broken.flac";
  testing::write_bytes(bad, "fLaC this is not really a flac file");
  auto r = run_attune("generate --model " + slm_dir().dir.path().string() + " --audio " + bad.string());
  EXPECT_EQ(r.exit_code, 1);
  const size_t at = r.err.find("attune: error: ");
  ASSERT_NE(at, std::string::npos) << r.err;
  const std::string error = r.err.substr(at);
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 1) << r.err;
  EXPECT_NE(error.find(bad.string()), std::string::npos) << r.err;
}

TEST(GenerateAudioCli, PlainLanguageModelHasNoSpeechEncoder) {
  if (!has_generate()) GTEST_SKIP() << "built without libtorch";
  auto r = run_attune("generate --model " + (testing::fixtures_dir() / "lm_qwen2_tiny").string() + " --audio " +
                      example_clip().string() + " --dtype fp32");
  EXPECT_EQ(r.exit_code, 1);
  const size_t at = r.err.find("attune: error: ");
  ASSERT_NE(at, std::string::npos) << r.err;
  const std::string error = r.err.substr(at);
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 1) << r.err;
  EXPECT_NE(error.find("no speech encoder"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace attune
