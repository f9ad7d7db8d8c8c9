// HF config.json parsing (Whisper, Qwen2, Qwen3, Llama) and attune's composite config. The configs
// below are the published config.json files of real checkpoints (copied inline); the parameter
// counts they are checked against are the ones Hugging Face publishes for those checkpoints
// (Qwen2.5-0.5B: 494,032,768; Llama-3.2-1B: 1,235,814,400; Qwen3-0.6B: 0.6B of which 0.44B
// non-embedding), so the counting is checked against an outside number, not against itself.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "attune/error.h"
#include "io/model_config.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using attune::ConfigError;
using attune::InputError;
using attune::testing::TempDir;
using attune::testing::write_bytes;
using namespace attune::io;
using nlohmann::json;
using ::testing::HasSubstr;

namespace {

// Qwen/Qwen2.5-0.5B-Instruct config.json
const char* kQwen25_05B = R"({
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "hidden_act": "silu",
  "hidden_size": 896,
  "initializer_range": 0.02,
  "intermediate_size": 4864,
  "max_position_embeddings": 32768,
  "max_window_layers": 21,
  "model_type": "qwen2",
  "num_attention_heads": 14,
  "num_hidden_layers": 24,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 32768,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.43.1",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
})";

// Qwen/Qwen3-0.6B config.json
const char* kQwen3_06B = R"({
  "architectures": ["Qwen3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 1024,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "max_position_embeddings": 40960,
  "max_window_layers": 28,
  "model_type": "qwen3",
  "num_attention_heads": 16,
  "num_hidden_layers": 28,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "sliding_window": null,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.51.0",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
})";

// meta-llama/Llama-3.2-1B-Instruct config.json
const char* kLlama32_1B = R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009],
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 16,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 32.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
})";

// openai/whisper-tiny config.json (token-suppression lists shortened)
const char* kWhisperTiny = R"({
  "_name_or_path": "openai/whisper-tiny",
  "activation_dropout": 0.0,
  "activation_function": "gelu",
  "architectures": ["WhisperForConditionalGeneration"],
  "attention_dropout": 0.0,
  "begin_suppress_tokens": [220, 50257],
  "bos_token_id": 50257,
  "d_model": 384,
  "decoder_attention_heads": 6,
  "decoder_ffn_dim": 1536,
  "decoder_layerdrop": 0.0,
  "decoder_layers": 4,
  "decoder_start_token_id": 50258,
  "dropout": 0.0,
  "encoder_attention_heads": 6,
  "encoder_ffn_dim": 1536,
  "encoder_layerdrop": 0.0,
  "encoder_layers": 4,
  "eos_token_id": 50257,
  "init_std": 0.02,
  "is_encoder_decoder": true,
  "max_length": 448,
  "max_source_positions": 1500,
  "max_target_positions": 448,
  "model_type": "whisper",
  "num_hidden_layers": 4,
  "num_mel_bins": 80,
  "pad_token_id": 50257,
  "scale_embedding": false,
  "suppress_tokens": [1, 2, 7, 8, 9],
  "torch_dtype": "float32",
  "transformers_version": "4.27.0.dev0",
  "use_cache": true,
  "vocab_size": 51865
})";

// openai/whisper-base config.json (the keys that differ from tiny, plus the required ones)
const char* kWhisperBase = R"({
  "architectures": ["WhisperForConditionalGeneration"],
  "d_model": 512,
  "decoder_attention_heads": 8,
  "decoder_ffn_dim": 2048,
  "decoder_layers": 6,
  "encoder_attention_heads": 8,
  "encoder_ffn_dim": 2048,
  "encoder_layers": 6,
  "max_source_positions": 1500,
  "model_type": "whisper",
  "num_mel_bins": 80,
  "torch_dtype": "float32",
  "vocab_size": 51865
})";

json parse(const char* text) { return json::parse(text); }

// Expects `fn` to throw ConfigError whose message contains every one of `parts`.
template <typename Fn>
void expect_config_error(Fn fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    FAIL() << "accepted; expected an error containing \"" << *parts.begin() << "\"";
  } catch (const ConfigError& e) {
    for (const auto& p : parts) EXPECT_THAT(e.what(), HasSubstr(p)) << e.what();
  }
}

// A copy of `text` with `key` set to `value` (null removes it).
json with(const char* text, const std::string& key, const json& value) {
  json j = parse(text);
  if (value.is_null()) {
    j.erase(key);
  } else {
    j[key] = value;
  }
  return j;
}

void write_json(const fs::path& path, const json& j) {
  fs::create_directories(path.parent_path());
  write_bytes(path, j.dump(2));
}

}  // namespace

// ---- decoder language models ------------------------------------------------------------------

TEST(HfConfig, Qwen25_05B_Instruct) {
  auto c = parse_language_model_config(parse(kQwen25_05B), "config.json");
  EXPECT_EQ(c.family, ModelFamily::kQwen2);
  EXPECT_EQ(c.model_type, "qwen2");
  EXPECT_EQ(c.architectures, std::vector<std::string>{"Qwen2ForCausalLM"});
  EXPECT_EQ(c.vocab_size, 151936);
  EXPECT_EQ(c.hidden_size, 896);
  EXPECT_EQ(c.intermediate_size, 4864);
  EXPECT_EQ(c.num_hidden_layers, 24);
  EXPECT_EQ(c.num_attention_heads, 14);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 64);  // 896 / 14
  EXPECT_EQ(c.max_position_embeddings, 32768);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_FALSE(c.rope_scaling);
  EXPECT_TRUE(c.qkv_bias);  // Qwen2: q/k/v biased, o_proj not
  EXPECT_FALSE(c.o_bias);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.use_sliding_window);
  EXPECT_EQ(c.max_window_layers, 21);
  EXPECT_EQ(c.bos_token_id, 151643);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{151645});
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_EQ(expected_parameter_count(c), 494032768u);
  EXPECT_EQ(summary(c),
            "qwen2: 24 layers, hidden 896, 14 heads (2 kv, head_dim 64), ffn 4864, vocab 151936, tied embeddings");
}

TEST(HfConfig, Qwen3_06B) {
  auto hf = parse_hf_config(parse(kQwen3_06B), "config.json");
  ASSERT_EQ(hf.family(), ModelFamily::kQwen3);
  const auto& c = *hf.language_model();
  EXPECT_EQ(c.hidden_size, 1024);
  EXPECT_EQ(c.num_attention_heads, 16);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 128);  // not hidden_size / heads (64): q_proj is 1024 -> 2048
  EXPECT_TRUE(c.qk_norm);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_FALSE(c.o_bias);
  EXPECT_FALSE(c.sliding_window);       // null
  EXPECT_FALSE(c.rope_scaling);         // null
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);  // written as an integer
  EXPECT_EQ(c.max_position_embeddings, 40960);
  const uint64_t total = expected_parameter_count(c);
  const uint64_t embedding = 151936u * 1024u;
  EXPECT_EQ(total, 596049920u);              // "0.6B"
  EXPECT_EQ(total - embedding, 440467456u);  // "0.44B non-embedding"
}

TEST(HfConfig, Llama32_1B_Instruct) {
  auto c = parse_language_model_config(parse(kLlama32_1B), "config.json");
  EXPECT_EQ(c.family, ModelFamily::kLlama);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  ASSERT_TRUE(c.rope_scaling);
  EXPECT_EQ(c.rope_scaling->rope_type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope_scaling->factor, 32.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling->low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling->high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling->original_max_position_embeddings, 8192);
  EXPECT_EQ(c.rope_scaling->raw["rope_type"], "llama3");
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_EQ(c.bos_token_id, 128000);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(expected_parameter_count(c), 1235814400u);
  // Llama's attention_bias covers o_proj too; mlp_bias the three MLP projections.
  auto biased = parse_language_model_config(with(kLlama32_1B, "attention_bias", true), "c");
  EXPECT_TRUE(biased.qkv_bias && biased.o_bias);
  EXPECT_TRUE(parse_language_model_config(with(kLlama32_1B, "mlp_bias", true), "c").mlp_bias);
}

TEST(HfConfig, TransformersDefaultsForOmittedKeys) {
  const json minimal = {{"model_type", "qwen2"},    {"vocab_size", 1000},     {"hidden_size", 64},
                        {"intermediate_size", 128}, {"num_hidden_layers", 2}, {"num_attention_heads", 4}};
  auto q2 = parse_language_model_config(minimal, "c");
  EXPECT_EQ(q2.num_key_value_heads, 4);  // None -> num_attention_heads
  EXPECT_EQ(q2.head_dim, 16);
  EXPECT_EQ(q2.hidden_act, "silu");
  EXPECT_EQ(q2.max_position_embeddings, 32768);
  EXPECT_DOUBLE_EQ(q2.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(q2.rope_theta, 10000.0);
  EXPECT_FALSE(q2.tie_word_embeddings);
  EXPECT_FALSE(q2.bos_token_id);
  EXPECT_TRUE(q2.eos_token_ids.empty());

  json q3j = minimal;
  q3j["model_type"] = "qwen3";
  auto q3 = parse_language_model_config(q3j, "c");
  EXPECT_EQ(q3.head_dim, 128);  // Qwen3Config default, not hidden/heads
  EXPECT_FALSE(q3.qkv_bias);

  json lj = minimal;
  lj["model_type"] = "llama";
  auto l = parse_language_model_config(lj, "c");
  EXPECT_EQ(l.max_position_embeddings, 2048);
  EXPECT_EQ(l.bos_token_id, 1);
  EXPECT_EQ(l.eos_token_ids, std::vector<int64_t>{2});
  EXPECT_FALSE(l.qkv_bias);

  // Without model_type the architecture decides.
  json arch = minimal;
  arch.erase("model_type");
  arch["architectures"] = {"LlamaForCausalLM"};
  EXPECT_EQ(parse_hf_config(arch, "c").family(), ModelFamily::kLlama);

  // transformers v5 writes rope_parameters instead of rope_theta / rope_scaling.
  json v5 = minimal;
  v5["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1e6}};
  auto c5 = parse_language_model_config(v5, "c");
  EXPECT_DOUBLE_EQ(c5.rope_theta, 1e6);
  EXPECT_FALSE(c5.rope_scaling);
}

TEST(HfConfig, BadLanguageModelConfigsNameTheFileAndKey) {
  const std::string f = "/models/x/config.json";
  auto bad = [&](const json& j, std::initializer_list<std::string> parts) {
    expect_config_error([&] { parse_hf_config(j, f); }, parts);
  };
  bad(with(kQwen25_05B, "hidden_size", nullptr), {f, "missing required key `hidden_size`"});
  bad(with(kQwen25_05B, "num_hidden_layers", 0), {f, "key `num_hidden_layers`", "positive integer, got 0"});
  bad(with(kQwen25_05B, "vocab_size", -5), {f, "key `vocab_size`", "got -5"});
  bad(with(kQwen25_05B, "hidden_size", "896"), {f, "key `hidden_size`", "expected an integer, got \"896\""});
  bad(with(kQwen25_05B, "hidden_size", 896.5), {f, "key `hidden_size`", "expected an integer"});
  bad(with(kQwen25_05B, "hidden_size", 900),
      {f, "key `num_attention_heads`", "hidden_size 900 is not divisible by 14"});
  bad(with(kQwen25_05B, "num_key_value_heads", 3), {f, "key `num_key_value_heads`", "14 attention heads"});
  bad(with(kQwen25_05B, "tie_word_embeddings", "yes"), {f, "key `tie_word_embeddings`", "true or false"});
  bad(with(kQwen25_05B, "eos_token_id", 200000), {f, "key `eos_token_id`", "outside the vocabulary [0, 151936)"});
  bad(with(kQwen25_05B, "hidden_act", "swiglu9"), {f, "key `hidden_act`", "unknown activation"});
  bad(with(kQwen25_05B, "rms_norm_eps", 0), {f, "key `rms_norm_eps`"});
  bad(with(kQwen3_06B, "head_dim", 63), {f, "key `head_dim`", "even"});
  bad(with(kQwen25_05B, "model_type", "mistral"), {f, "key `model_type`", "unsupported model type \"mistral\""});
  json no_type = with(kQwen25_05B, "model_type", nullptr);
  no_type.erase("architectures");
  bad(no_type, {f, "missing required key `model_type`"});
  json rope = parse(kLlama32_1B);
  rope["rope_scaling"].erase("low_freq_factor");
  bad(rope, {f, "`rope_scaling.low_freq_factor`", "llama3"});
  rope = parse(kLlama32_1B);
  rope["rope_scaling"]["factor"] = 0.5;
  bad(rope, {f, "`rope_scaling.factor`", ">= 1"});
  bad(json::array(), {f, "expected a JSON object"});
}

// ---- Whisper ----------------------------------------------------------------------------------

TEST(HfConfig, WhisperTinyAndBase) {
  auto hf = parse_hf_config(parse(kWhisperTiny), "config.json");
  ASSERT_EQ(hf.family(), ModelFamily::kWhisper);
  const auto& t = *hf.whisper();
  EXPECT_EQ(t.d_model, 384);
  EXPECT_EQ(t.encoder_layers, 4);
  EXPECT_EQ(t.encoder_attention_heads, 6);
  EXPECT_EQ(t.encoder_ffn_dim, 1536);
  EXPECT_EQ(t.num_mel_bins, 80);
  EXPECT_EQ(t.max_source_positions, 1500);
  EXPECT_EQ(t.activation_function, "gelu");
  EXPECT_EQ(t.head_dim(), 64);
  EXPECT_EQ(t.decoder_layers, 4);
  EXPECT_EQ(t.vocab_size, 51865);
  EXPECT_EQ(t.torch_dtype, "float32");
  // Hand count: conv1 384*80*3+384, conv2 384*384*3+384, positions 1500*384,
  // 4 layers x (4*384^2 + 3*384 attention, 4*384 norms, 384*1536+1536 + 1536*384+384 MLP), final norm 768.
  EXPECT_EQ(expected_encoder_parameter_count(t), 92544u + 442752u + 576000u + 4u * 1774080u + 768u);

  auto b = parse_whisper_config(parse(kWhisperBase), "config.json");
  EXPECT_EQ(b.d_model, 512);
  EXPECT_EQ(b.encoder_layers, 6);
  EXPECT_EQ(b.encoder_attention_heads, 8);
  EXPECT_EQ(b.encoder_ffn_dim, 2048);
  EXPECT_EQ(b.activation_function, "gelu");  // default
  EXPECT_EQ(summary(b), "whisper encoder: 6 layers, d_model 512, 8 heads, ffn 2048, 80 mel bins, 1500 positions");

  // whisper-large-v3 uses 128 mel bins.
  auto l = parse_whisper_config(with(kWhisperBase, "num_mel_bins", 128), "c");
  EXPECT_EQ(l.num_mel_bins, 128);
}

TEST(HfConfig, BadWhisperConfigs) {
  const std::string f = "enc/config.json";
  auto bad = [&](const json& j, std::initializer_list<std::string> parts) {
    expect_config_error([&] { parse_whisper_config(j, f); }, parts);
  };
  bad(with(kWhisperTiny, "d_model", nullptr), {f, "missing required key `d_model`"});
  bad(with(kWhisperTiny, "d_model", 385), {f, "key `encoder_attention_heads`", "d_model 385 is not divisible by 6"});
  bad(with(kWhisperTiny, "num_mel_bins", 0), {f, "key `num_mel_bins`"});
  bad(with(kWhisperTiny, "activation_function", "gelu2"), {f, "key `activation_function`"});
  bad(with(kWhisperTiny, "dropout", 1.5), {f, "key `dropout`", "probability"});
}

// ---- files and round trips ----------------------------------------------------------------------

TEST(HfConfig, LoadsFromDirectoryOrFileAndRoundTrips) {
  TempDir dir;
  for (const char* text : {kQwen25_05B, kQwen3_06B, kLlama32_1B, kWhisperTiny, kWhisperBase}) {
    write_bytes(dir / "config.json", text);
    auto from_dir = load_hf_config(dir.path());
    auto from_file = load_hf_config(dir / "config.json");
    EXPECT_EQ(to_json(from_dir), to_json(from_file));
    // Unmodelled keys survive.
    EXPECT_EQ(to_json(from_dir)["transformers_version"], parse(text).value("transformers_version", json()));

    write_hf_config(dir / "out.json", from_dir);
    auto again = load_hf_config(dir / "out.json");
    EXPECT_EQ(to_json(again), to_json(from_dir));
    // Every key of the original is still there with the same meaning.
    json original = parse(text), written = to_json(again);
    for (auto it = original.begin(); it != original.end(); ++it) {
      ASSERT_TRUE(written.contains(it.key())) << it.key();
      if (it.value().is_number()) {
        EXPECT_DOUBLE_EQ(written[it.key()].get<double>(), it.value().get<double>()) << it.key();
      } else {
        EXPECT_EQ(written[it.key()], it.value()) << it.key();
      }
    }
  }
}

TEST(HfConfig, FileErrorsAreInputErrors) {
  TempDir dir;
  EXPECT_THROW(load_hf_config(dir.path()), InputError);  // no config.json
  write_bytes(dir / "config.json", "{\"model_type\": ");
  try {
    load_hf_config(dir.path());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("config.json"));
    EXPECT_THAT(e.what(), HasSubstr("not valid JSON"));
  }
  write_bytes(dir / "config.json", std::string("{}\0{}", 5));
  EXPECT_THROW(load_hf_config(dir.path()), InputError);
}

// A value nested 60k deep (found by fuzz_model_config: copying it overflowed the stack) is refused
// while parsing; 60 levels still load.
TEST(HfConfig, DeeplyNestedJsonIsRefusedWhileParsing) {
  TempDir dir;
  auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  write_bytes(dir / "config.json", R"({"model_type": "qwen2", "rope_scaling": )" + nested(60000) + "}");
  try {
    load_hf_config(dir.path());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("config.json"));
    EXPECT_THAT(e.what(), HasSubstr("JSON nested deeper than 64 levels"));
  }
  write_bytes(dir / "config.json", R"({"extra": )" + nested(60) + "}");
  EXPECT_EQ(read_json_file(dir / "config.json").size(), 1u);
}

// ---- attune_slm composite config ------------------------------------------------------------------

TEST(SlmConfig, InlineEncoderAndPathLanguageModel) {
  TempDir root;
  write_json(root / "base-models" / "qwen2.5-0.5b" / "config.json", parse(kQwen25_05B));
  json slm = {{"model_type", "attune_slm"},
              {"format_version", 1},
              {"_comment", "encoder inline, LLM by path"},
              {"encoder", parse(kWhisperBase)},
              {"adapter", {{"stride", 4}, {"num_layers", 2}, {"hidden_size", 2048}}},
              {"language_model", {{"path", "../base-models/qwen2.5-0.5b"}}},
              {"style_head", {{"hidden_size", 128}}}};
  write_json(root / "attune" / "config.json", slm);

  auto c = load_slm_config(root / "attune");
  EXPECT_TRUE(c.encoder.is_inline());
  EXPECT_EQ(c.encoder.config.d_model, 512);
  EXPECT_FALSE(c.language_model.is_inline());
  EXPECT_EQ(c.language_model.path, "../base-models/qwen2.5-0.5b");
  EXPECT_EQ(c.language_model.dir, (root / "base-models" / "qwen2.5-0.5b").lexically_normal());
  EXPECT_EQ(c.language_model.config.hidden_size, 896);
  // Adapter sizes filled from the components.
  EXPECT_EQ(c.adapter.type, "concat_mlp");
  EXPECT_EQ(c.adapter.stride, 4);
  EXPECT_EQ(c.adapter.input_size, 512);
  EXPECT_EQ(c.adapter.hidden_size, 2048);
  EXPECT_EQ(c.adapter.output_size, 896);
  EXPECT_EQ(c.style_head.input_size, 896);
  EXPECT_EQ(c.style_head.hidden_size, 128);
  EXPECT_EQ(c.style_head.emotions.size(), 7u);
  EXPECT_EQ(c.style_head.style_attributes, (std::vector<std::string>{"intensity", "pitch", "pace", "energy"}));

  // Written back into another directory, the LM path still points at the same place.
  fs::create_directories(root / "ckpt" / "step-100");
  write_slm_config(root / "ckpt" / "step-100" / "config.json", c);
  auto again = load_slm_config(root / "ckpt" / "step-100" / "config.json");
  EXPECT_EQ(again.language_model.path, "../../base-models/qwen2.5-0.5b");
  EXPECT_EQ(fs::canonical(again.language_model.dir), fs::canonical(c.language_model.dir));
  EXPECT_EQ(to_json(again.encoder.config), to_json(c.encoder.config));
  EXPECT_EQ(again.adapter.input_size, 512);
  EXPECT_EQ(again.style_head.emotions, c.style_head.emotions);
}

TEST(SlmConfig, TheStyleHeadsLegacyKeyIsReadAndWrittenUnderItsNewName) {
  json slm = {{"model_type", "attune_slm"},
              {"encoder", parse(kWhisperTiny)},
              {"language_model", parse(kQwen3_06B)},
              {"talker", {{"hidden_size", 96}}}};
  const auto c = parse_slm_config(slm, "config.json", ".");
  EXPECT_EQ(c.style_head.hidden_size, 96);
  const json out = to_json(c, ".");
  EXPECT_TRUE(out.contains("style_head"));
  EXPECT_FALSE(out.contains("talker"));
  slm["style_head"] = {{"hidden_size", 64}};
  try {
    parse_slm_config(slm, "config.json", ".");
    FAIL() << "both keys were accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("not both"), std::string::npos) << e.what();
  }
}

TEST(SlmConfig, AllInlineWithDefaults) {
  json slm = {{"model_type", "attune_slm"}, {"encoder", parse(kWhisperTiny)}, {"language_model", parse(kQwen3_06B)}};
  auto c = parse_slm_config(slm, "config.json", ".");
  EXPECT_EQ(c.format_version, 1);
  EXPECT_EQ(c.language_model.config.family, ModelFamily::kQwen3);
  EXPECT_EQ(c.adapter.input_size, 384);
  EXPECT_EQ(c.adapter.output_size, 1024);
  EXPECT_EQ(c.adapter.hidden_size, 1024);
  EXPECT_EQ(c.style_head.backend, "espeak-ng");
  json out = to_json(c, ".");
  EXPECT_EQ(out["model_type"], "attune_slm");
  EXPECT_EQ(out["encoder"]["d_model"], 384);
  EXPECT_EQ(out["adapter"]["output_size"], 1024);
  auto again = parse_slm_config(out, "config.json", ".");
  EXPECT_EQ(to_json(again, "."), out);
  EXPECT_FALSE(out.contains("quotes"));  // no prior: no section
}

TEST(SlmConfig, QuoteSourcePriorRoundTrips) {
  json slm = {{"model_type", "attune_slm"},
              {"encoder", parse(kWhisperTiny)},
              {"language_model", parse(kQwen3_06B)},
              {"quotes",
               {{"source_prior", {0.6, 0.25, 0.1, 0.05}}, {"length_hazard", {0.1, 0.2, 1.0}}, {"prior_weight", 1.5}}}};
  auto c = parse_slm_config(slm, "config.json", ".");
  EXPECT_EQ(c.quotes.source_prior, (std::vector<double>{0.6, 0.25, 0.1, 0.05}));
  EXPECT_EQ(c.quotes.length_hazard, (std::vector<double>{0.1, 0.2, 1.0}));
  EXPECT_EQ(c.quotes.prior_weight, 1.5);
  json out = to_json(c, ".");
  EXPECT_EQ(out["quotes"], slm["quotes"]);
}

TEST(SlmConfig, BadCompositeConfigsNameTheKey) {
  TempDir root;
  const std::string f = "attune/config.json";
  json good = {{"model_type", "attune_slm"}, {"encoder", parse(kWhisperTiny)}, {"language_model", parse(kQwen25_05B)}};
  auto bad = [&](json j, std::initializer_list<std::string> parts) {
    expect_config_error([&] { parse_slm_config(j, f, root.path()); }, parts);
  };
  json j = good;
  j["adapter"] = {{"input_size", 512}};
  bad(j, {f, "key `adapter.input_size`", "encoder's d_model is 384"});
  j = good;
  j["adapter"] = {{"output_size", 1024}};
  bad(j, {f, "key `adapter.output_size`", "hidden_size is 896"});
  j = good;
  j["adapter"] = {{"strid", 2}};
  bad(j, {f, "unknown key `adapter.strid`", "allowed here: type, stride"});
  j = good;
  j["adapter"] = {{"stride", 0}};
  bad(j, {f, "key `adapter.stride`"});
  j = good;
  j["adapter"] = {{"type", "qformer"}};
  bad(j, {f, "key `adapter.type`"});
  j = good;
  j["style_head"] = {{"emotions", {"happy", "happy"}}};
  bad(j, {f, "key `style_head.emotions`", "appears twice"});
  j = good;
  j["style_head"] = {{"backend", "piper"}};
  bad(j, {f, "key `style_head.backend`"});
  j = good;
  j["encoder_heads"] = {{"prosody_expert_hidden", 16}};  // an expert with nothing to read
  bad(j, {f, "key `encoder_heads.prosody_expert_hidden`", "prosody_features"});
  j = good;
  j["encoder_heads"] = {
      {"prosody_features", {"f0_mean_hz"}}, {"prosody_expert_hidden", 16}, {"prosody_expert_weight", 1.5}};
  bad(j, {f, "key `encoder_heads.prosody_expert_weight`", "[0, 1]"});
  j = good;
  j["encoder_heads"] = {{"words_in_prompt", true}};  // words to read, but no CTC head to hear them
  bad(j, {f, "key `encoder_heads.words_in_prompt`", "CTC head"});
  j = good;
  j["encoder_heads"] = {{"ctc_layers", 2}};  // transcription blocks, but no alphabet to transcribe into
  bad(j, {f, "key `encoder_heads.ctc_layers`", "ctc_alphabet"});
  j = good;
  j["encoder_heads"] = {{"ctc_alphabet", {"a", "b"}}, {"ctc_layers", -1}};
  bad(j, {f, "key `encoder_heads.ctc_layers`"});
  j["encoder_heads"] = {{"ctc_encoder", true}};  // an encoder for transcription, but no alphabet
  bad(j, {f, "key `encoder_heads.ctc_encoder`", "ctc_alphabet"});
  j["encoder_heads"] = {{"ctc_alphabet", {"a", "b"}}, {"ctc_encoder", 1}};
  bad(j, {f, "encoder_heads.ctc_encoder"});
  j = good;
  j["quotes"] = {{"source_prior", {0.5, 0.0}}};  // a probability of 0 has no logarithm
  bad(j, {f, "key `quotes.source_prior`", "(0, 1]"});
  j["quotes"] = {{"source_prior", "0.5"}};
  bad(j, {f, "key `quotes.source_prior`", "array"});
  j["quotes"] = {{"prior_weight", 1}};
  bad(j, {f, "key `quotes.prior_weight`", "needs quotes.source_prior"});
  j["quotes"] = {{"length_hazard", {1.5}}};
  bad(j, {f, "key `quotes.length_hazard`", "(0, 1]"});
  j["quotes"] = {{"source_prior", {1.0}}, {"weight", 1}};
  bad(j, {f, "unknown key `quotes.weight`"});
  j = good;
  j["format_version"] = 2;
  bad(j, {f, "key `format_version`", "got 2"});
  j = good;
  j.erase("encoder");
  bad(j, {f, "missing required key `encoder`"});
  j = good;
  j["encoder"] = parse(kQwen25_05B);
  bad(j, {"the encoder must be a whisper config"});
  j = good;
  j["language_model"] = parse(kWhisperTiny);
  bad(j, {"expected a decoder language model"});
  j = good;
  j["language_model"] = {{"path", "no/such/dir"}};
  bad(j, {f, "key `language_model.path`", "does not exist"});
  j = good;
  j["language_model"] = {{"path", "x"}, {"hidden_size", 3}};
  bad(j, {f, "unknown key `language_model.hidden_size`"});
  j = good;
  j["extra"] = 1;
  bad(j, {f, "unknown key `extra`"});
  // An inline sub-config's own errors name the component.
  j = good;
  j["language_model"]["num_key_value_heads"] = 3;
  bad(j, {f + " (language_model)", "key `num_key_value_heads`"});
  // A sub-model directory whose config.json is broken names that file.
  write_json(root / "lm" / "config.json", with(kQwen25_05B, "hidden_size", nullptr));
  j = good;
  j["language_model"] = {{"path", "lm"}};
  bad(j, {(root / "lm" / "config.json").string(), "missing required key `hidden_size`"});
  // An HF loader refuses a composite config with a clear message.
  write_json(root / "slm" / "config.json", good);
  expect_config_error([&] { load_hf_config(root / "slm"); }, {"attune_slm composite config"});
}
