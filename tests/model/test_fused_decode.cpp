// The fused decode path (model/fused_decode.h, kernels/) against the libtorch path and the float64
// numpy reference of tests/fixtures (make_lm_reference.py), on every kernel family this CPU runs:
// fp32 within 1e-4 and the same greedy tokens; bf16 and int8 within the bounds stated below.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "attune/error.h"
#include "io/safetensors.h"
#include "kernels/cpu_features.h"
#include "model/fused_decode.h"
#include "model/generate.h"
#include "model/language_model.h"
#include "model/spoken_language_model.h"
#include "support/test_support.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace attune::model {
namespace {

struct FusedGuard {  // restores the default (fused on, best kernels) after each case
  explicit FusedGuard(bool fused) { set_fused_decode(fused); }
  ~FusedGuard() {
    set_fused_decode(true);
    kernels::force_isa(kernels::best_isa());
  }
};

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// Logits [N, V] of feeding `ids` one token at a time through a cache (every step a decode step).
at::Tensor stepwise_logits(LanguageModelImpl& lm, const std::vector<int64_t>& ids) {
  c10::InferenceMode guard;
  KvCache cache = lm.make_cache(1, 4, 1024);
  std::vector<at::Tensor> rows;
  for (int64_t id : ids) {
    ForwardOptions o;
    o.cache = &cache;
    rows.push_back(lm.forward(torch::tensor({id}, torch::kLong).view({1, 1}), o).logits.view({-1}));
  }
  return at::stack(rows);
}

struct Reference {
  std::vector<int64_t> input_ids, greedy_ids;
  at::Tensor logits;  // [T, V]
};

Reference load_reference(const std::string& family) {
  const io::SafetensorsFile file =
      io::SafetensorsFile::open(attune::testing::fixtures_dir() / "lm_reference.safetensors");
  Reference r;
  for (float v : io::to_f32(file.tensor(family + ".input_ids"))) r.input_ids.push_back(static_cast<int64_t>(v));
  for (float v : io::to_f32(file.tensor(family + ".greedy_ids"))) r.greedy_ids.push_back(static_cast<int64_t>(v));
  const io::TensorView& t = file.tensor(family + ".logits");
  std::vector<float> values = io::to_f32(t);
  r.logits = torch::tensor(values).view({t.shape[0], t.shape[1]});
  return r;
}

std::vector<int32_t> greedy(LanguageModelImpl& lm, const std::vector<int64_t>& prompt, int64_t steps) {
  GenerateOptions gen;
  gen.max_new_tokens = steps;
  gen.use_model_eos = false;
  std::vector<int32_t> p(prompt.begin(), prompt.end());
  return generate(lm, p, gen).ids;
}

TEST(FusedDecode, Float32MatchesTheNumpyReferenceAndTheLibtorchPath) {
  for (const std::string family : {"qwen2", "qwen3", "llama"}) {
    LanguageModel lm(LanguageModelImpl::from_pretrained(attune::testing::fixtures_dir() / ("lm_" + family + "_tiny")));
    const Reference ref = load_reference(family);
    at::Tensor torch_logits;
    std::vector<int32_t> torch_tokens;
    {
      FusedGuard off(false);
      torch_logits = stepwise_logits(*lm, ref.input_ids);
      torch_tokens = greedy(*lm, ref.input_ids, 64);
    }
    for (kernels::Isa isa : kernels::runnable_isas()) {
      FusedGuard on(true);
      kernels::force_isa(isa);
      const at::Tensor logits = stepwise_logits(*lm, ref.input_ids);
      const double d_ref = max_abs_diff(logits, ref.logits), d_torch = max_abs_diff(logits, torch_logits);
      const std::vector<int32_t> tokens = greedy(*lm, ref.input_ids, 64);
      std::printf("%s fp32 %s: logits vs numpy max abs diff %.3g, vs libtorch %.3g; 64 greedy tokens %s\n",
                  family.c_str(), std::string(kernels::isa_name(isa)).c_str(), d_ref, d_torch,
                  tokens == torch_tokens ? "equal" : "DIFFER");
      EXPECT_LE(d_ref, 1e-4);
      EXPECT_LE(d_torch, 1e-4);
      EXPECT_EQ(tokens, torch_tokens);
      std::vector<int32_t> ref_greedy(ref.greedy_ids.begin(), ref.greedy_ids.end());
      EXPECT_EQ(std::vector<int32_t>(tokens.begin(), tokens.begin() + static_cast<int64_t>(ref_greedy.size())),
                ref_greedy);
    }
  }
}

TEST(FusedDecode, Bf16StaysWithinItsRoundingOfTheReference) {
  // bf16 keeps 8 significant bits. The fused path rounds the weights and each product's input to bf16
  // but keeps the residual stream, norms and sums in float32, so it lands closer to the float64
  // reference than libtorch's all-bf16 path; the bound is 3 % of the logits' range.
  for (const std::string family : {"qwen2", "qwen3", "llama"}) {
    PretrainedOptions o;
    o.dtype = at::kBFloat16;
    LanguageModel lm(
        LanguageModelImpl::from_pretrained(attune::testing::fixtures_dir() / ("lm_" + family + "_tiny"), o));
    const Reference ref = load_reference(family);
    const double range = (ref.logits.max() - ref.logits.min()).item<double>();
    double d_torch = 0;
    {
      FusedGuard off(false);
      d_torch = max_abs_diff(stepwise_logits(*lm, ref.input_ids), ref.logits);
    }
    FusedGuard on(true);
    const double d = max_abs_diff(stepwise_logits(*lm, ref.input_ids), ref.logits);
    std::printf("%s bf16: logits vs numpy max abs diff %.3g fused, %.3g libtorch (range %.3g)\n", family.c_str(), d,
                d_torch, range);
    EXPECT_LE(d, 0.03 * range);
  }
}

TEST(FusedDecode, Int8StaysCloseToFloat32) {
  // A random Qwen2 whose rows are whole int8 blocks; int8 quantises weights and inputs to blocks of 32.
  io::LanguageModelConfig c = io::language_model_defaults(io::ModelFamily::kQwen2);
  c.vocab_size = 256;
  c.hidden_size = 128;
  c.intermediate_size = 352;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 32;
  c.max_position_embeddings = 256;
  c.initializer_range = 0.08;
  torch::manual_seed(7);
  LanguageModel f32(c);
  torch::manual_seed(7);
  LanguageModel q8(c);
  q8->eval();
  f32->eval();
  q8->quantize_int8();
  std::mt19937 rng(3);
  std::vector<int64_t> ids(150);  // more than one prompt chunk of 64
  for (auto& id : ids) id = static_cast<int64_t>(rng() % 256);
  const at::Tensor ref = stepwise_logits(*f32, ids);
  for (kernels::Isa isa : kernels::runnable_isas()) {
    FusedGuard on(true);
    kernels::force_isa(isa);
    const at::Tensor got = stepwise_logits(*q8, ids);
    const double d = max_abs_diff(got, ref), spread = ref.std().item<double>();
    const double mean = (got - ref).abs().mean().item<double>();
    const double agree = got.argmax(-1).eq(ref.argmax(-1)).to(at::kDouble).mean().item<double>();
    std::printf(
        "int8 %s vs fp32: logits max abs diff %.3g, mean %.3g (logit std %.3g), argmax agreement %.3f over 150 steps\n",
        std::string(kernels::isa_name(isa)).c_str(), d, mean, spread, agree);
    // The bound: worst logit within 20 % of the logits' spread, the mean within 3 %.
    EXPECT_LE(d, 0.2 * spread);
    EXPECT_LE(mean, 0.03 * spread);
    EXPECT_GE(agree, 0.9);
  }
  EXPECT_LT(q8->parameter_bytes(), f32->parameter_bytes() / 3);
  // A whole prompt in one forward (chunks of tokens through kernels::decode_tokens) gives the same
  // logits as one step per token.
  {
    c10::InferenceMode guard;
    const at::Tensor whole = q8->forward(torch::tensor(ids, torch::kLong).unsqueeze(0)).logits[0];
    const double d = max_abs_diff(whole, stepwise_logits(*q8, ids));
    std::printf("int8 prompt in one forward vs step by step: max abs diff %.3g\n", d);
    EXPECT_LE(d, 1e-5);
  }
  EXPECT_EQ(q8->parameter_count(), f32->parameter_count());  // norms and biases stay float32
}

TEST(FusedDecode, Int8DefaultModelFollowsFloat32For256GreedySteps) {
  // The shipped model's language model: 256 greedy tokens in float32 from a chat prompt, then the
  // int8 model fed the same tokens; the share of steps whose argmax agrees, and where free-running
  // int8 greedy decoding first departs from float32.
  const auto dir = attune::testing::source_dir() / "models" / "attune-small";
  auto f32 = SpokenLanguageModelImpl::from_pretrained(dir);
  auto q8 = SpokenLanguageModelImpl::from_pretrained(dir, {.int8_language_model = true});
  text::ChatTemplate chat(text::Tokenizer::load(dir));
  text::ChatMessage user;
  user.role = text::Role::kUser;
  user.text = "I finally finished the marathon, but my knee hurts and I am worried it is serious.";
  text::RenderOptions render;
  render.add_generation_prompt = true;
  const std::vector<int32_t> prompt = chat.render({user}, render).ids;
  GenerateOptions gen;
  gen.max_new_tokens = 256;
  gen.use_model_eos = false;
  const std::vector<int32_t> ref = generate(f32->language_model(), prompt, gen).ids;
  const std::vector<int32_t> free_running = generate(q8->language_model(), prompt, gen).ids;
  std::vector<int64_t> sequence(prompt.begin(), prompt.end());
  sequence.insert(sequence.end(), ref.begin(), ref.end() - 1);
  const at::Tensor logits = stepwise_logits(q8->language_model(), sequence);
  const at::Tensor predicted = logits.narrow(0, static_cast<int64_t>(prompt.size()) - 1, 256).argmax(-1);
  int64_t agree = 0, first_departure = 256;
  for (int64_t i = 0; i < 256; ++i) agree += predicted[i].item<int64_t>() == ref[static_cast<size_t>(i)];
  for (int64_t i = 0; i < 256; ++i) {
    if (free_running[static_cast<size_t>(i)] != ref[static_cast<size_t>(i)]) {
      first_departure = i;
      break;
    }
  }
  std::printf(
      "attune-small int8 vs fp32: greedy argmax agreement %lld of 256 teacher-forced steps; free-running "
      "greedy first departs at step %lld\n",
      static_cast<long long>(agree), static_cast<long long>(first_departure));
  EXPECT_GE(agree, 240);
}

TEST(FusedDecode, Int8RefusesWhatItCannotRun) {
  LanguageModel odd(LanguageModelImpl::from_pretrained(attune::testing::fixtures_dir() / "lm_qwen2_tiny"));
  EXPECT_THROW(odd->quantize_int8(), ConfigError);  // rows of 48: not whole blocks of 32
  io::LanguageModelConfig c = io::language_model_defaults(io::ModelFamily::kLlama);
  c.vocab_size = 64, c.hidden_size = 64, c.intermediate_size = 128, c.num_hidden_layers = 1;
  c.num_attention_heads = 2, c.num_key_value_heads = 1, c.head_dim = 32;
  LanguageModel lm(c);
  lm->quantize_int8();
  c10::InferenceMode guard;
  EXPECT_THROW(lm->forward(torch::zeros({2, 3}, torch::kLong)), ConfigError);  // batch 2
  ForwardOptions hidden;
  hidden.output_hidden_states = true;
  EXPECT_THROW(lm->forward(torch::zeros({1, 3}, torch::kLong), hidden), ConfigError);
  attune::testing::TempDir dir;
  EXPECT_THROW(lm->save_pretrained(dir.path()), ConfigError);
  // Without a cache it still runs (a scratch one), and gives logits for every position.
  EXPECT_EQ(lm->forward(torch::zeros({1, 3}, torch::kLong)).logits.size(1), 3);
}

}  // namespace
}  // namespace attune::model
