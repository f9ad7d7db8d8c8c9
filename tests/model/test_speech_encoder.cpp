// SpeechEncoder (Whisper encoder) and Adapter: hand-derived cases, equivalences, and a reference
// computed independently in numpy float64 from the published formulas
// (tests/model/make_encoder_reference.py -> tests/fixtures/whisper_tiny_random/,
// tests/fixtures/encoder_reference.safetensors). Fixtures made with transformers itself are still
// missing (no transformers installation on this machine); see docs/model.md.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>

#include "attune/error.h"
#include "audio/log_mel.h"
#include "io/model_config.h"
#include "io/safetensors.h"
#include "model/adapter.h"
#include "model/speech_encoder.h"
#include "model/weights.h"
#include "support/test_support.h"
#include "text/chat_template.h"

namespace attune::model {
namespace {

namespace fs = std::filesystem;

constexpr double kReferenceTolerance = 1e-4;  // fp32 against a float64 reference

io::WhisperConfig tiny_config(int64_t max_source_positions = 48) {
  io::WhisperConfig c;
  c.d_model = 32;
  c.encoder_layers = 2;
  c.encoder_attention_heads = 4;
  c.encoder_ffn_dim = 64;
  c.num_mel_bins = 80;
  c.max_source_positions = max_source_positions;
  c.decoder_layers = 0;
  return c;
}

fs::path encoder_dir() { return attune::testing::fixtures_dir() / "whisper_tiny_random"; }
fs::path reference_path() { return attune::testing::fixtures_dir() / "encoder_reference.safetensors"; }

torch::Tensor reference_tensor(const io::SafetensorsCheckpoint& ckpt, const std::string& name) {
  return to_torch(ckpt.tensor(name), name).to(torch::kFloat32);
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return INFINITY;
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

void report(const char* what, const torch::Tensor& got, const torch::Tensor& want) {
  const double diff = max_abs_diff(got, want);
  std::printf("  %-34s max abs diff %.3g (tolerance %.0e); got[0,:3] = %.6f %.6f %.6f, want %.6f %.6f %.6f\n", what,
              diff, kReferenceTolerance, got[0][0].item<double>(), got[0][1].item<double>(), got[0][2].item<double>(),
              want[0][0].item<double>(), want[0][1].item<double>(), want[0][2].item<double>());
  EXPECT_LE(diff, kReferenceTolerance) << what;
}

SpeechEncoder load_fixture_encoder(SpeechEncoderOptions options = {}) {
  io::HfConfig hf = io::load_hf_config(encoder_dir());
  SpeechEncoder encoder(*hf.whisper(), options);
  load_weights(*encoder, io::SafetensorsCheckpoint::open(encoder_dir()));
  encoder->eval();
  return encoder;
}

using testing::error_message_of;

// ---- hand-derived cases -----------------------------------------------------------------------------

TEST(SpeechEncoder, SinusoidsFollowWhispersFormula) {
  const int64_t C = 32, L = 1500;
  auto table = whisper_sinusoids(L, C);
  ASSERT_EQ(table.sizes(), (std::vector<int64_t>{L, C}));
  auto acc = table.accessor<float, 2>();
  double worst = 0;
  for (int64_t t = 0; t < L; t += 7) {
    for (int64_t i = 0; i < C / 2; ++i) {
      const double angle = static_cast<double>(t) / std::pow(10000.0, static_cast<double>(i) / (C / 2 - 1));
      worst = std::max(worst, std::abs(acc[t][i] - std::sin(angle)));
      worst = std::max(worst, std::abs(acc[t][C / 2 + i] - std::cos(angle)));
    }
  }
  EXPECT_LE(worst, 1e-6);
  // Position 0: sin 0 = 0 in the first half, cos 0 = 1 in the second; the last channel of each half
  // has timescale 10000.
  EXPECT_EQ(acc[0][0], 0.0f);
  EXPECT_EQ(acc[0][C / 2], 1.0f);
  EXPECT_NEAR(acc[1000][C / 2 - 1], std::sin(0.1), 1e-7);
  EXPECT_NEAR(acc[1][0], std::sin(1.0), 1e-7);
  // A fresh encoder holds the table, frozen.
  SpeechEncoder encoder(tiny_config(100));
  EXPECT_TRUE(torch::equal(encoder->embed_positions->weight, whisper_sinusoids(100, 32)));
  EXPECT_FALSE(encoder->embed_positions->weight.requires_grad());
}

TEST(SpeechEncoder, OutputLengthIsHalfTheMelFramesRoundedUp) {
  torch::manual_seed(1);
  SpeechEncoder encoder(tiny_config(16));  // windows of 32 mel frames
  encoder->eval();
  torch::NoGradGuard no_grad;
  for (int64_t T : {1, 2, 3, 4, 31, 32, 33, 64, 65, 100}) {
    auto out = encoder->encode(torch::randn({80, T}));
    EXPECT_EQ(out.size(0), (T + 1) / 2) << "T = " << T;
    EXPECT_EQ(out.size(0), SpeechEncoderImpl::output_frames(T));
    EXPECT_EQ(out.size(1), 32);
  }
}

TEST(SpeechEncoder, AttentionOverASingleFrameIsTheValuePath) {
  torch::manual_seed(2);
  SelfAttention attn(32, 4);
  torch::NoGradGuard no_grad;
  for (auto* l : {&attn->q_proj, &attn->k_proj, &attn->v_proj, &attn->out_proj}) (*l)->weight.normal_(0, 0.3);
  attn->q_proj->bias.normal_();
  attn->v_proj->bias.normal_();
  attn->out_proj->bias.normal_();
  auto x = torch::randn({1, 1, 32});
  // softmax over one key is 1: the output is out_proj(v_proj(x)), whatever q and k are.
  auto want = attn->out_proj(attn->v_proj(x));
  EXPECT_LE(max_abs_diff(attn(x), want), 1e-6);
  EXPECT_FALSE(attn->k_proj->bias.defined());  // Whisper's k_proj has no bias
}

TEST(SpeechEncoder, LayerNormMatchesADoublePrecisionFormula) {
  torch::manual_seed(3);
  SpeechEncoder encoder(tiny_config());
  torch::NoGradGuard no_grad;
  encoder->layer_norm->weight.normal_(1, 0.2);
  encoder->layer_norm->bias.normal_(0, 0.2);
  auto x = torch::randn({5, 32}) * 3 + 1;
  auto got = encoder->layer_norm(x);
  auto xd = x.to(torch::kFloat64);
  auto mean = xd.mean(-1, true);
  auto var = (xd - mean).pow(2).mean(-1, true);  // biased, as torch.nn.LayerNorm
  auto want = (xd - mean) / torch::sqrt(var + 1e-5) * encoder->layer_norm->weight.to(torch::kFloat64) +
              encoder->layer_norm->bias.to(torch::kFloat64);
  EXPECT_LE(max_abs_diff(got, want), 1e-5);
}

TEST(SpeechEncoder, ParameterNamesAreHuggingFaces) {
  SpeechEncoder encoder(tiny_config());
  std::vector<std::string> names;
  for (const auto& p : encoder->named_parameters()) names.push_back(p.key());
  for (const char* want :
       {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "embed_positions.weight",
        "layers.0.self_attn.q_proj.weight", "layers.0.self_attn.q_proj.bias", "layers.0.self_attn.k_proj.weight",
        "layers.0.self_attn.v_proj.bias", "layers.0.self_attn.out_proj.bias", "layers.0.self_attn_layer_norm.weight",
        "layers.1.fc1.weight", "layers.1.fc2.bias", "layers.1.final_layer_norm.bias", "layer_norm.weight",
        "layer_norm.bias"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
  EXPECT_EQ(std::find(names.begin(), names.end(), "layers.0.self_attn.k_proj.bias"), names.end());
  // The count transformers' config implies for the encoder alone.
  int64_t count = 0;
  for (const auto& p : encoder->parameters()) count += p.numel();
  EXPECT_EQ(static_cast<uint64_t>(count), io::expected_encoder_parameter_count(tiny_config()));
}

// ---- the independent reference ----------------------------------------------------------------------

TEST(SpeechEncoder, MatchesTheFloat64Reference) {
  auto ref = io::SafetensorsCheckpoint::open(reference_path());
  SpeechEncoder encoder = load_fixture_encoder();
  torch::NoGradGuard no_grad;
  std::printf("whisper_tiny_random (d_model 32, 2 layers, 4 heads, windows of 96 mel frames) vs numpy float64:\n");
  // Shorter than one window: unpadded.
  report("mel_short [80, 37] -> [19, 32]", encoder->encode(reference_tensor(ref, "mel_short")),
         reference_tensor(ref, "hidden_short"));
  // Longer: windows 96 + 96 + 8 mel frames -> 48 + 48 + 4.
  report("mel_long [80, 200] -> [100, 32]", encoder->encode(reference_tensor(ref, "mel_long")),
         reference_tensor(ref, "hidden_long"));
  // The same two as one padded batch: each row equals its reference.
  auto outs = encoder->encode(
      std::vector<torch::Tensor>{reference_tensor(ref, "mel_short"), reference_tensor(ref, "mel_long")});
  ASSERT_EQ(outs.size(), 2u);
  report("batched: short row", outs[0], reference_tensor(ref, "hidden_short"));
  report("batched: long row", outs[1], reference_tensor(ref, "hidden_long"));
}

TEST(SpeechEncoder, LogMelInputFromTheExtractor) {
  SpeechEncoder encoder = load_fixture_encoder();
  audio::LogMel mel;
  mel.n_mels = 80;
  mel.frames = 37;
  auto ref = io::SafetensorsCheckpoint::open(reference_path());
  auto values = reference_tensor(ref, "mel_short").contiguous();
  mel.data.assign(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
  torch::NoGradGuard no_grad;
  EXPECT_LE(max_abs_diff(encoder->encode(mel), reference_tensor(ref, "hidden_short")), kReferenceTolerance);
  // 128-bin features for an 80-bin encoder: named in the error.
  audio::LogMel wrong;
  wrong.n_mels = 128;
  wrong.frames = 10;
  wrong.data.assign(128 * 10, 0.0f);
  const std::string err = error_message_of([&] { encoder->encode(wrong); });
  EXPECT_NE(err.find("128 mel bins"), std::string::npos) << err;
  EXPECT_NE(err.find("num_mel_bins is 80"), std::string::npos) << err;
}

TEST(SpeechEncoder, LongInputEqualsSeparatelyEncodedWindows) {
  torch::manual_seed(4);
  SpeechEncoder encoder(tiny_config(24));  // windows of 48 mel frames
  encoder->eval();
  torch::NoGradGuard no_grad;
  auto mel = torch::randn({80, 125});
  auto whole = encoder->encode(mel);
  auto parts = torch::cat({encoder->encode(mel.slice(1, 0, 48)), encoder->encode(mel.slice(1, 48, 96)),
                           encoder->encode(mel.slice(1, 96, 125))},
                          0);
  ASSERT_EQ(whole.size(0), 63);
  EXPECT_LE(max_abs_diff(whole, parts), 1e-6);
  // Padding changes a result under full attention, which is why short inputs are not padded: the
  // first frames of a padded window differ from the unpadded encoding.
  auto padded = encoder->encode(torch::cat({mel.slice(1, 0, 30), torch::zeros({80, 18})}, 1));
  EXPECT_GT(max_abs_diff(padded.slice(0, 0, 15), encoder->encode(mel.slice(1, 0, 30))), 1e-3);
}

TEST(SpeechEncoder, BatchWithLengthsEqualsRowsAlone) {
  torch::manual_seed(5);
  SpeechEncoder encoder(tiny_config(24));
  encoder->eval();
  torch::NoGradGuard no_grad;
  auto batch = torch::randn({3, 80, 101});
  auto lengths = torch::tensor({101, 7, 50}, torch::kInt64);
  auto out = encoder->forward(batch, lengths);
  EXPECT_TRUE(torch::equal(out.lengths, torch::tensor({51, 4, 25}, torch::kInt64)));
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t L = lengths[b].item<int64_t>(), n = (L + 1) / 2;
    auto alone = encoder->encode(batch[b].slice(1, 0, L));
    EXPECT_LE(max_abs_diff(out.hidden[b].slice(0, 0, n), alone), 1e-5) << "row " << b;
    EXPECT_EQ(out.hidden[b].slice(0, n).abs().sum().item<double>(), 0.0) << "row " << b;
  }
}

TEST(SpeechEncoder, SlotCountOfTheChatTemplateMatchesTheModels) {
  SpeechEncoder encoder(tiny_config(24));
  io::AdapterConfig ac;
  ac.type = "conv";
  ac.stride = 4;
  ac.num_layers = 1;
  ac.input_size = 32;
  ac.hidden_size = 32;
  ac.output_size = 16;
  Adapter adapter(ac);
  torch::NoGradGuard no_grad;
  for (int64_t samples : {160, 1600, 16000, 17777, 48000}) {
    const int64_t mel_frames = samples / audio::kWhisperHop;
    auto enc = encoder->encode(torch::randn({80, mel_frames}));
    auto out = adapter->adapt(enc);
    EXPECT_EQ(out.size(0), text::audio_slot_count(samples, 4)) << samples << " samples";
  }
}

// ---- weights: names, prefixes, bad checkpoints -------------------------------------------------------

// Writes the fixture encoder's tensors under `prefix`, minus `drop`, plus `extra`, reshaping `reshape`.
fs::path write_variant(const attune::testing::TempDir& dir, const std::string& prefix, const std::string& drop = "",
                       const std::string& extra = "", const std::string& reshape = "") {
  SpeechEncoder encoder = load_fixture_encoder();
  NamedTensors named = collect_weights(*encoder, io::Dtype::kF32, prefix);
  std::vector<io::TensorToWrite> tensors;
  torch::Tensor odd = torch::zeros({3, 3});
  for (auto& t : named.tensors) {
    if (t.name == prefix + drop) continue;
    if (t.name == prefix + reshape) {
      t.shape = {3, 3};
      t.data = {static_cast<const std::byte*>(odd.data_ptr()), 9 * sizeof(float)};
    }
    tensors.push_back(t);
  }
  if (!extra.empty())
    tensors.push_back({extra, io::Dtype::kF32, {3, 3}, {static_cast<const std::byte*>(odd.data_ptr()), 36}});
  fs::path path = dir / "model.safetensors";
  io::write_safetensors(path, tensors);
  return path;
}

TEST(SpeechEncoder, LoadsEveryHuggingFacePrefix) {
  attune::testing::TempDir dir;
  SpeechEncoder reference = load_fixture_encoder();
  for (const std::string prefix : {"model.encoder.", "encoder.", ""}) {
    fs::path path = write_variant(dir, prefix);
    auto ckpt = io::SafetensorsCheckpoint::open(path);
    EXPECT_EQ(find_encoder_prefix(ckpt), prefix);
    SpeechEncoder encoder(tiny_config());
    load_weights(*encoder, ckpt);
    EXPECT_TRUE(torch::equal(encoder->layers[1]->as<EncoderLayer>()->fc2->weight,
                             reference->layers[1]->as<EncoderLayer>()->fc2->weight))
        << "prefix \"" << prefix << "\"";
  }
  // Inside a composite: "encoder." + the HF name.
  fs::path path = write_variant(dir, "encoder.model.encoder.");
  EXPECT_EQ(find_encoder_prefix(io::SafetensorsCheckpoint::open(path), "encoder."), "encoder.model.encoder.");
}

TEST(SpeechEncoder, BadCheckpointsNameTheTensor) {
  attune::testing::TempDir dir;
  auto load = [&](const fs::path& path) {
    SpeechEncoder encoder(tiny_config());
    load_weights(*encoder, io::SafetensorsCheckpoint::open(path));
  };
  std::string err = error_message_of([&] { load(write_variant(dir, "model.encoder.", "layers.1.fc1.bias")); });
  EXPECT_NE(err.find("missing 1 tensor"), std::string::npos) << err;
  EXPECT_NE(err.find("model.encoder.layers.1.fc1.bias"), std::string::npos) << err;

  err = error_message_of(
      [&] { load(write_variant(dir, "model.encoder.", "", "model.encoder.layers.0.self_attn.k_proj.bias")); });
  EXPECT_NE(err.find("unexpected tensor"), std::string::npos) << err;
  EXPECT_NE(err.find("model.encoder.layers.0.self_attn.k_proj.bias"), std::string::npos) << err;

  // A full Whisper checkpoint's decoder is not the encoder's business.
  EXPECT_EQ(
      error_message_of([&] { load(write_variant(dir, "model.encoder.", "", "model.decoder.layers.0.fc1.weight")); }),
      "(no error)");

  err = error_message_of([&] { load(write_variant(dir, "model.encoder.", "", "", "conv1.weight")); });
  EXPECT_NE(err.find("model.encoder.conv1.weight"), std::string::npos) << err;
  EXPECT_NE(err.find("[3, 3]"), std::string::npos) << err;
  EXPECT_NE(err.find("[32, 80, 3]"), std::string::npos) << err;

  err = error_message_of([&] { load(write_variant(dir, "something.else.")); });
  EXPECT_NE(err.find("no Whisper encoder tensors"), std::string::npos) << err;
  EXPECT_NE(err.find("model.encoder.conv1.weight"), std::string::npos) << err;
}

TEST(SpeechEncoder, BadInputsAreClearErrors) {
  torch::manual_seed(6);
  SpeechEncoderOptions strict;
  strict.allow_long_input = false;
  SpeechEncoder encoder(tiny_config(24), strict);
  std::string err = error_message_of([&] { encoder->encode(torch::zeros({128, 20})); });
  EXPECT_NE(err.find("num_mel_bins is 80"), std::string::npos) << err;
  err = error_message_of([&] { encoder->encode(torch::zeros({80, 49})); });
  EXPECT_NE(err.find("allow_long_input"), std::string::npos) << err;
  EXPECT_NE(err.find("49 mel frames"), std::string::npos) << err;
  EXPECT_EQ(error_message_of([&] { encoder->encode(torch::zeros({80, 48})); }), "(no error)");
  err = error_message_of([&] { encoder->encode(torch::zeros({80, 0})); });
  EXPECT_NE(err.find("no frames"), std::string::npos) << err;
  err = error_message_of([&] { encoder->forward(torch::zeros({2, 80, 10}), torch::tensor({10, 11}, torch::kInt64)); });
  EXPECT_NE(err.find("lengths must be in [1, 10]"), std::string::npos) << err;

  SpeechEncoderOptions short_limit;
  short_limit.max_audio_seconds = 1.0;
  SpeechEncoder limited(tiny_config(24), short_limit);
  err = error_message_of([&] { limited->encode(torch::zeros({80, 101})); });
  EXPECT_NE(err.find("max_audio_seconds"), std::string::npos) << err;
  EXPECT_NE(err.find("101 mel frames"), std::string::npos) << err;

  io::WhisperConfig bad = tiny_config();
  bad.encoder_attention_heads = 5;
  err = error_message_of([&] { SpeechEncoder e(bad); });
  EXPECT_NE(err.find("encoder_attention_heads"), std::string::npos) << err;
}

// ---- the adapter --------------------------------------------------------------------------------------

io::AdapterConfig fixture_adapter_config(const std::string& type) {
  io::AdapterConfig c;
  c.type = type;
  c.stride = 4;
  c.num_layers = type == "conv" ? 1 : 2;
  c.input_size = 32;
  c.hidden_size = 48;
  c.output_size = 40;
  c.activation = "gelu";
  return c;
}

TEST(Adapter, MatchesTheFloat64Reference) {
  auto ref = io::SafetensorsCheckpoint::open(reference_path());
  torch::NoGradGuard no_grad;
  std::printf("adapters (stride 4, hidden 48, output 40) on the reference encoder outputs vs numpy float64:\n");
  for (const std::string type : {"conv", "concat_mlp"}) {
    Adapter adapter(fixture_adapter_config(type));
    const std::string prefix = type == "conv" ? "adapter_conv." : "adapter_mlp.";
    WeightLoadOptions options;
    options.prefix = prefix;
    load_weights(*adapter, ref, options);
    adapter->eval();
    const std::string out = type == "conv" ? "adapter_conv_" : "adapter_mlp_";
    report((type + ": 19 frames -> 5").c_str(), adapter->adapt(reference_tensor(ref, "hidden_short")),
           reference_tensor(ref, out + "short"));
    report((type + ": 100 frames -> 25").c_str(), adapter->adapt(reference_tensor(ref, "hidden_long")),
           reference_tensor(ref, out + "long"));
  }
}

TEST(Adapter, StagesAndHeads) {
  EXPECT_EQ(adapter_stage_strides(1), (std::vector<int64_t>{1}));
  EXPECT_EQ(adapter_stage_strides(4), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(adapter_stage_strides(6), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(adapter_stage_strides(5), (std::vector<int64_t>{5}));
  Adapter a(fixture_adapter_config("conv"));
  EXPECT_EQ(a->num_heads(), 3);  // head_dim gcd(48, 64) = 16
  torch::NoGradGuard no_grad;
  for (int64_t stride : {1, 2, 3, 4, 6, 8}) {
    for (const std::string type : {"conv", "concat_mlp"}) {
      auto c = fixture_adapter_config(type);
      c.stride = stride;
      Adapter adapter(c);
      for (int64_t T : {1, 5, 24, 25}) {
        auto out = adapter->adapt(torch::randn({T, 32}));
        EXPECT_EQ(out.size(0), (T + stride - 1) / stride) << type << " stride " << stride << " T " << T;
        EXPECT_EQ(out.size(1), 40);
      }
    }
  }
}

TEST(Adapter, BatchWithLengthsEqualsRowsAlone) {
  torch::manual_seed(7);
  torch::NoGradGuard no_grad;
  for (const std::string type : {"conv", "concat_mlp"}) {
    Adapter adapter(fixture_adapter_config(type));
    adapter->eval();
    auto x = torch::randn({3, 30, 32});
    auto lengths = torch::tensor({30, 9, 13}, torch::kInt64);
    auto out = adapter->forward(x, lengths);
    EXPECT_TRUE(torch::equal(out.lengths, torch::tensor({8, 3, 4}, torch::kInt64))) << type;
    for (int64_t b = 0; b < 3; ++b) {
      const int64_t L = lengths[b].item<int64_t>(), n = (L + 3) / 4;
      auto alone = adapter->adapt(x[b].slice(0, 0, L));
      EXPECT_LE(max_abs_diff(out.hidden[b].slice(0, 0, n), alone), 1e-5) << type << " row " << b;
    }
  }
}

TEST(Adapter, BadConfigsAndInputs) {
  auto c = fixture_adapter_config("conv");
  c.type = "lstm";
  std::string err = error_message_of([&] { Adapter a(c); });
  EXPECT_NE(err.find("adapter.type"), std::string::npos) << err;
  c = fixture_adapter_config("conv");
  c.activation = "mish";
  err = error_message_of([&] { Adapter a(c); });
  EXPECT_NE(err.find("adapter.activation"), std::string::npos) << err;
  c = fixture_adapter_config("concat_mlp");
  c.stride = 0;
  err = error_message_of([&] { Adapter a(c); });
  EXPECT_NE(err.find("adapter.stride"), std::string::npos) << err;
  Adapter a(fixture_adapter_config("concat_mlp"));
  err = error_message_of([&] { a->adapt(torch::zeros({10, 31})); });
  EXPECT_NE(err.find("adapter.input_size"), std::string::npos) << err;
}

}  // namespace
}  // namespace attune::model
