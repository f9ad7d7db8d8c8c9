// `attune inspect` run as a user would: tiny model directories with HF tensor names are written
// here (Qwen2 layout, Whisper encoder layout, a sharded checkpoint, an attune_slm composite) and
// inspected; broken ones must produce warnings, or a one-line error and a non-zero exit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <nlohmann/json.hpp>

#include "io/model_config.h"
#include "io/safetensors.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using attune::testing::run_attune;
using attune::testing::TempDir;
using attune::testing::write_bytes;
using namespace attune::io;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

// Tensors with zero-filled bytes, kept alive for the writer.
class TensorSet {
 public:
  void add(const std::string& name, std::vector<int64_t> shape, Dtype dtype = Dtype::kBF16) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    storage_.emplace_back(static_cast<size_t>(n) * dtype_size(dtype), '\0');
    const std::string& bytes = storage_.back();
    tensors_.push_back(
        {name, dtype, std::move(shape), {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}});
  }
  void erase(const std::string& name) {
    std::erase_if(tensors_, [&](const TensorToWrite& t) { return t.name == name; });
  }
  void reshape(const std::string& name, std::vector<int64_t> shape) {
    for (auto& t : tensors_) {
      if (t.name == name) {
        storage_.emplace_back(t.data.size(), '\0');  // same numel is not required: rebuild the bytes
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        storage_.back().resize(static_cast<size_t>(n) * dtype_size(t.dtype));
        t.shape = std::move(shape);
        t.data = {reinterpret_cast<const std::byte*>(storage_.back().data()), storage_.back().size()};
      }
    }
  }
  const std::vector<TensorToWrite>& tensors() const { return tensors_; }

 private:
  std::deque<std::string> storage_;
  std::vector<TensorToWrite> tensors_;
};

const json kTinyQwen2 = {{"architectures", {"Qwen2ForCausalLM"}},
                         {"model_type", "qwen2"},
                         {"vocab_size", 32},
                         {"hidden_size", 16},
                         {"intermediate_size", 24},
                         {"num_hidden_layers", 2},
                         {"num_attention_heads", 4},
                         {"num_key_value_heads", 2},
                         {"tie_word_embeddings", false},
                         {"torch_dtype", "bfloat16"}};

// Qwen2ForCausalLM names and shapes for kTinyQwen2, under `prefix`.
TensorSet qwen2_tensors(const std::string& prefix = "") {
  TensorSet t;
  const int64_t V = 32, H = 16, I = 24, Q = 16, KV = 8;
  t.add(prefix + "model.embed_tokens.weight", {V, H});
  for (int l = 0; l < 2; ++l) {
    const std::string p = prefix + "model.layers." + std::to_string(l) + ".";
    t.add(p + "self_attn.q_proj.weight", {Q, H});
    t.add(p + "self_attn.q_proj.bias", {Q});
    t.add(p + "self_attn.k_proj.weight", {KV, H});
    t.add(p + "self_attn.k_proj.bias", {KV});
    t.add(p + "self_attn.v_proj.weight", {KV, H});
    t.add(p + "self_attn.v_proj.bias", {KV});
    t.add(p + "self_attn.o_proj.weight", {H, Q});
    t.add(p + "mlp.gate_proj.weight", {I, H});
    t.add(p + "mlp.up_proj.weight", {I, H});
    t.add(p + "mlp.down_proj.weight", {H, I});
    t.add(p + "input_layernorm.weight", {H});
    t.add(p + "post_attention_layernorm.weight", {H});
  }
  t.add(prefix + "model.norm.weight", {H});
  t.add(prefix + "lm_head.weight", {V, H});
  return t;
}

// embed 512 + lm_head 512 + norm 16 + 2 x (q 256+16, k 128+8, v 128+8, o 256, mlp 3 x 384, norms 32).
constexpr uint64_t kTinyQwen2Params = 512 + 512 + 16 + 2 * (272 + 136 + 136 + 256 + 1152 + 32);

void write_lm_dir(const fs::path& dir, const json& config, const TensorSet& tensors, bool tokenizer = true) {
  fs::create_directories(dir);
  write_bytes(dir / "config.json", config.dump(2));
  write_safetensors(dir / "model.safetensors", tensors.tensors(), {{"format", "pt"}});
  if (tokenizer) write_bytes(dir / "tokenizer.json", "{}");
}

json inspect_json(const std::string& args) {
  auto r = run_attune("inspect --json " + args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out);
}

}  // namespace

TEST(InspectCli, CompleteQwen2Directory) {
  TempDir dir;
  write_lm_dir(dir / "lm", kTinyQwen2, qwen2_tensors());
  ASSERT_EQ(expected_parameter_count(parse_language_model_config(kTinyQwen2, "c")), kTinyQwen2Params);

  auto r = run_attune("inspect " + (dir / "lm").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("qwen2 (Qwen2ForCausalLM)"));
  EXPECT_THAT(r.out, HasSubstr("2 layers, hidden 16, 4 heads (2 kv, head_dim 4)"));
  EXPECT_THAT(r.out, HasSubstr("parameters:  5.0K (" + std::to_string(kTinyQwen2Params) + ")"));
  EXPECT_THAT(r.out, HasSubstr("dtype BF16:  27 tensors"));
  EXPECT_THAT(r.out, Not(HasSubstr("warnings:")));
  EXPECT_THAT(r.out, Not(HasSubstr("lm_head.weight")));  // no tensor list without --tensors

  json j = inspect_json((dir / "lm").string());
  EXPECT_EQ(j["models"][0]["model_type"], "qwen2");
  EXPECT_EQ(j["models"][0]["expected_parameters"], kTinyQwen2Params);
  EXPECT_EQ(j["parameters"], kTinyQwen2Params);
  EXPECT_EQ(j["bytes"], 2 * kTinyQwen2Params);
  EXPECT_EQ(j["tensors"], 27);
  EXPECT_EQ(j["dtypes"]["BF16"]["tensors"], 27);
  EXPECT_TRUE(j["warnings"].empty()) << j["warnings"].dump();
  EXPECT_FALSE(j.contains("tensor_list"));
}

TEST(InspectCli, ReportsMissingAndInconsistentParts) {
  TempDir dir;
  TensorSet t = qwen2_tensors();
  t.erase("lm_head.weight");
  t.reshape("model.embed_tokens.weight", {30, 16});
  t.erase("model.layers.1.self_attn.q_proj.bias");
  write_lm_dir(dir / "lm", kTinyQwen2, t, /*tokenizer=*/false);

  auto r = run_attune("inspect " + (dir / "lm").string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("warnings:"));
  EXPECT_THAT(r.out, HasSubstr("tie_word_embeddings is false but \"lm_head.weight\" is missing"));
  EXPECT_THAT(r.out, HasSubstr("\"model.embed_tokens.weight\" has shape [30, 16] but the config implies [32, 16]"));
  EXPECT_THAT(r.out, HasSubstr("tokenizer.json is missing"));
  EXPECT_THAT(r.out, HasSubstr("the config implies 5008 parameters but the weights hold 4448"));

  // --strict turns warnings into a failing exit; JSON lists them too.
  EXPECT_EQ(run_attune("inspect --strict " + (dir / "lm").string()).exit_code, 1);
  json j = inspect_json((dir / "lm").string());
  EXPECT_GE(j["warnings"].size(), 3u);

  // A layer count that disagrees with the config.
  json three = kTinyQwen2;
  three["num_hidden_layers"] = 3;
  write_lm_dir(dir / "lm3", three, qwen2_tensors());
  EXPECT_THAT(run_attune("inspect " + (dir / "lm3").string()).out,
              HasSubstr("config has num_hidden_layers = 3 but the weights have 2 layers"));
}

TEST(InspectCli, TensorListAndSingleFilesAndShards) {
  TempDir dir;
  const TensorSet t = qwen2_tensors();
  auto shards = write_safetensors_sharded(dir.path(), t.tensors(), 1500);
  ASSERT_TRUE(shards.index);
  ASSERT_GT(shards.files.size(), 1u);

  // The index alone (no config.json) and the directory give the same totals.
  json by_index = inspect_json(shards.index->string() + " --tensors");
  EXPECT_EQ(by_index["parameters"], kTinyQwen2Params);
  EXPECT_EQ(by_index["weights"][0]["files"].size(), shards.files.size() + 1);
  ASSERT_EQ(by_index["tensor_list"].size(), 27u);
  bool found = false;
  for (const auto& e : by_index["tensor_list"]) {
    if (e["name"] == "model.layers.0.mlp.down_proj.weight") {
      found = true;
      EXPECT_EQ(e["dtype"], "BF16");
      EXPECT_EQ(e["shape"], json({16, 24}));
    }
  }
  EXPECT_TRUE(found);
  json by_dir = inspect_json(dir.path().string());
  EXPECT_EQ(by_dir["parameters"], kTinyQwen2Params);
  EXPECT_THAT(by_dir["warnings"].dump(), HasSubstr("config.json is missing"));

  // One shard on its own.
  json one = inspect_json(shards.files[0].string());
  EXPECT_LT(one["parameters"].get<uint64_t>(), kTinyQwen2Params);

  auto text = run_attune("inspect --tensors " + shards.index->string());
  EXPECT_THAT(text.out, HasSubstr("model.layers.0.mlp.down_proj.weight"));
  EXPECT_THAT(text.out, HasSubstr("BF16    [16, 24]"));
}

TEST(InspectCli, UnreadableInputIsAOneLineError) {
  TempDir dir;
  write_bytes(dir / "bad.safetensors", std::string("\xff\xff\xff\xff\x00\x00\x00\x00{}", 10));
  auto r = run_attune("inspect " + (dir / "bad.safetensors").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_THAT(r.err, HasSubstr("attune: error: " + (dir / "bad.safetensors").string() + ": header length"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  auto missing = run_attune("inspect " + (dir / "nope").string());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("no such file or directory"));

  fs::create_directories(dir / "empty");
  EXPECT_THAT(run_attune("inspect " + (dir / "empty").string()).err, HasSubstr("not a model directory"));

  // An invalid config: the report is printed, the error names the key, and the exit is non-zero.
  json bad = kTinyQwen2;
  bad["num_key_value_heads"] = 3;
  write_lm_dir(dir / "badcfg", bad, qwen2_tensors());
  auto c = run_attune("inspect " + (dir / "badcfg").string());
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_THAT(c.err, HasSubstr("key `num_key_value_heads`"));
  EXPECT_THAT(c.out, HasSubstr("parameters:"));
}

TEST(InspectCli, CompositeModelWithInlineEncoderAndPathLanguageModel) {
  TempDir dir;
  write_lm_dir(dir / "lm", kTinyQwen2, qwen2_tensors());
  const json whisper = {{"model_type", "whisper"},      {"d_model", 8},          {"encoder_layers", 1},
                        {"encoder_attention_heads", 2}, {"encoder_ffn_dim", 16}, {"num_mel_bins", 4},
                        {"max_source_positions", 6},    {"decoder_layers", 1},   {"decoder_attention_heads", 2},
                        {"decoder_ffn_dim", 16},        {"vocab_size", 32},      {"max_target_positions", 8}};
  TensorSet t;
  const std::string e = "encoder.model.encoder.";
  t.add(e + "conv1.weight", {8, 4, 3}, Dtype::kF32);
  t.add(e + "conv1.bias", {8}, Dtype::kF32);
  t.add(e + "conv2.weight", {8, 8, 3}, Dtype::kF32);
  t.add(e + "conv2.bias", {8}, Dtype::kF32);
  t.add(e + "embed_positions.weight", {6, 8}, Dtype::kF32);
  for (const char* p : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
    t.add(e + "layers.0.self_attn." + p + ".weight", {8, 8}, Dtype::kF32);
    if (std::string(p) != "k_proj") t.add(e + "layers.0.self_attn." + p + ".bias", {8}, Dtype::kF32);
  }
  for (const char* n : {"self_attn_layer_norm", "final_layer_norm"}) {
    t.add(e + "layers.0." + n + ".weight", {8}, Dtype::kF32);
    t.add(e + "layers.0." + n + ".bias", {8}, Dtype::kF32);
  }
  t.add(e + "layers.0.fc1.weight", {16, 8}, Dtype::kF32);
  t.add(e + "layers.0.fc1.bias", {16}, Dtype::kF32);
  t.add(e + "layers.0.fc2.weight", {8, 16}, Dtype::kF32);
  t.add(e + "layers.0.fc2.bias", {8}, Dtype::kF32);
  t.add(e + "layer_norm.weight", {8}, Dtype::kF32);
  t.add(e + "layer_norm.bias", {8}, Dtype::kF32);
  t.add("adapter.proj.0.weight", {16, 32}, Dtype::kF32);
  t.add("style_head.head.weight", {11, 16}, Dtype::kF32);
  const json slm = {{"model_type", "attune_slm"},
                    {"encoder", whisper},
                    {"adapter", {{"stride", 4}, {"num_layers", 2}}},
                    {"language_model", {{"path", "../lm"}}},
                    {"style_head", {{"hidden_size", 32}}}};
  fs::create_directories(dir / "slm");
  write_bytes(dir / "slm" / "config.json", slm.dump(2));
  write_safetensors(dir / "slm" / "model.safetensors", t.tensors());

  auto r = run_attune("inspect " + (dir / "slm").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("model:       attune_slm"));
  EXPECT_THAT(r.out, HasSubstr("encoder:        whisper encoder: 1 layers, d_model 8"));
  EXPECT_THAT(r.out, HasSubstr("adapter:        concat_mlp, stride 4, 2 layers, 8 -> 16 -> 16"));
  EXPECT_THAT(r.out, HasSubstr("[path ../lm]"));
  EXPECT_THAT(r.out, HasSubstr("style_head:     espeak-ng, 16 -> 32 (2 layers), 7 emotions, 4 style attributes"));
  EXPECT_THAT(r.out, Not(HasSubstr("warnings:"))) << r.out;

  json j = inspect_json((dir / "slm").string() + " --tensors");
  EXPECT_EQ(j["models"][0]["language_model"]["source"], "path ../lm");
  ASSERT_EQ(j["weights"].size(), 2u);
  EXPECT_EQ(j["weights"][1]["component"], "language_model");
  uint64_t encoder = expected_encoder_parameter_count(parse_whisper_config(whisper, "c"));
  EXPECT_EQ(j["parameters"], encoder + 16 * 32 + 11 * 16 + kTinyQwen2Params);

  // A wrong-sized encoder tensor is caught through the composite prefix.
  t.reshape(e + "embed_positions.weight", {7, 8});
  write_safetensors(dir / "slm" / "model.safetensors", t.tensors());
  EXPECT_THAT(
      run_attune("inspect " + (dir / "slm").string()).out,
      HasSubstr("\"encoder.model.encoder.embed_positions.weight\" has shape [7, 8] but the config implies [6, 8]"));
}
