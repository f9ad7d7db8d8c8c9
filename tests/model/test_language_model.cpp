// Language model tests. No Hugging Face transformers fixtures exist yet (no transformers or GPU machine
// was available): the references are hand-derived identities (RMSNorm and RoPE in closed form,
// attention over one token, GQA == MHA with duplicated heads, causality, cache == recompute) and an
// independent numpy implementation of the published formulas (tests/model/make_lm_reference.py ->
// tests/fixtures/lm_*_tiny, lm_reference.safetensors). Every numeric test prints its max abs diff.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "io/model_config.h"
#include "io/safetensors.h"
#include "model/generate.h"
#include "model/kv_cache.h"
#include "model/language_model.h"
#include "model/weights.h"
#include "support/test_support.h"
#include "text/pretokenizer.h"
#include "text/tokenizer.h"

namespace fs = std::filesystem;
using attune::io::ModelFamily;

namespace attune::model {
namespace {

constexpr double kTolF32 = 1e-4;  // the tolerance for fp32 against a reference

io::LanguageModelConfig tiny_config(ModelFamily family, int64_t kv_heads = 2) {
  io::LanguageModelConfig c = io::language_model_defaults(family);
  c.vocab_size = 96;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = kv_heads;
  c.head_dim = 8;
  c.max_position_embeddings = 128;
  c.initializer_range = 0.2;
  c.eos_token_ids.clear();
  c.bos_token_id.reset();
  c.pad_token_id.reset();
  c.rope_scaling.reset();
  c.use_sliding_window = false;
  c.tie_word_embeddings = family == ModelFamily::kQwen2;
  c.qkv_bias = family != ModelFamily::kQwen3;
  c.o_bias = family == ModelFamily::kLlama;
  c.mlp_bias = family == ModelFamily::kLlama;
  c.qk_norm = family == ModelFamily::kQwen3;
  if (family == ModelFamily::kQwen3) c.head_dim = 16;  // explicit head_dim != hidden / heads
  return c;
}

LanguageModel make_model(const io::LanguageModelConfig& c, uint64_t seed = 7) {
  torch::manual_seed(seed);
  LanguageModel lm(c);
  lm->eval();
  return lm;
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

at::Tensor ids_tensor(const std::vector<int64_t>& ids) { return torch::tensor(ids, torch::kLong).unsqueeze(0); }

std::vector<int64_t> random_ids(int64_t n, int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> ids(n);
  for (auto& id : ids) id = static_cast<int64_t>(rng() % static_cast<uint64_t>(vocab));
  return ids;
}

// ---- the weight-name table ------------------------------------------------------------------------

TEST(LanguageModel, NamedParametersAreTheHfNames) {
  for (auto family : {ModelFamily::kQwen2, ModelFamily::kQwen3, ModelFamily::kLlama}) {
    for (bool tied : {true, false}) {
      io::LanguageModelConfig c = tiny_config(family);
      c.tie_word_embeddings = tied;
      LanguageModel lm = make_model(c);
      std::vector<std::string> names;
      int64_t count = 0;
      for (const auto& p : lm->named_parameters()) {
        names.push_back(p.key());
        count += p.value().numel();
      }
      EXPECT_EQ(names, LanguageModelImpl::expected_parameter_names(c)) << io::family_name(family) << " tied " << tied;
      EXPECT_EQ(static_cast<uint64_t>(count), io::expected_parameter_count(c)) << io::family_name(family);
      EXPECT_EQ(lm->named_buffers().size(), 0u);  // inv_freq is not state (HF: non-persistent)
    }
  }
  // Spot checks of the table itself against the HF layout.
  const auto q3 = LanguageModelImpl::expected_parameter_names(tiny_config(ModelFamily::kQwen3));
  EXPECT_NE(std::find(q3.begin(), q3.end(), "model.layers.1.self_attn.k_norm.weight"), q3.end());
  EXPECT_EQ(std::find(q3.begin(), q3.end(), "model.layers.0.self_attn.q_proj.bias"), q3.end());
  const auto q2 = LanguageModelImpl::expected_parameter_names(tiny_config(ModelFamily::kQwen2));
  EXPECT_NE(std::find(q2.begin(), q2.end(), "model.layers.0.self_attn.v_proj.bias"), q2.end());
  EXPECT_EQ(std::find(q2.begin(), q2.end(), "model.layers.0.self_attn.o_proj.bias"), q2.end());
  EXPECT_EQ(std::find(q2.begin(), q2.end(), "lm_head.weight"), q2.end());  // tied
  const auto ll = LanguageModelImpl::expected_parameter_names(tiny_config(ModelFamily::kLlama));
  EXPECT_NE(std::find(ll.begin(), ll.end(), "model.layers.0.mlp.down_proj.bias"), ll.end());
  EXPECT_NE(std::find(ll.begin(), ll.end(), "model.layers.0.self_attn.o_proj.bias"), ll.end());
}

TEST(LanguageModel, TiedEmbeddingsShareStorage) {
  LanguageModel tied = make_model(tiny_config(ModelFamily::kQwen2));
  EXPECT_FALSE(tied->lm_head);
  EXPECT_EQ(tied->output_weight().data_ptr(), tied->model->embed_tokens->weight.data_ptr());
  // Changing the embedding table changes the output head.
  {
    torch::NoGradGuard g;
    tied->model->embed_tokens->weight[5].fill_(0.5);
  }
  EXPECT_EQ(tied->output_weight()[5][0].item<float>(), 0.5f);
  io::LanguageModelConfig c = tiny_config(ModelFamily::kQwen2);
  c.tie_word_embeddings = false;
  LanguageModel separate = make_model(c);
  ASSERT_TRUE(separate->lm_head);
  EXPECT_NE(separate->output_weight().data_ptr(), separate->model->embed_tokens->weight.data_ptr());
}

// ---- blocks against closed forms ----------------------------------------------------------------------

TEST(LanguageModel, RmsNormMatchesTheFormula) {
  RMSNorm norm(5, 1e-6);
  const std::vector<double> x = {0.5, -1.25, 3.0, 0.0, -0.75};
  const std::vector<double> w = {1.0, 0.5, -2.0, 3.0, 1.5};
  {
    torch::NoGradGuard g;
    norm->weight.copy_(torch::tensor(w, torch::kDouble).to(torch::kFloat));
  }
  at::Tensor y = norm->forward(torch::tensor(x, torch::kDouble).to(torch::kFloat).unsqueeze(0))[0];
  double ms = 0;
  for (double v : x) ms += v * v;
  ms /= x.size();
  double max_diff = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double expected = w[i] * x[i] / std::sqrt(ms + 1e-6);
    max_diff = std::max(max_diff, std::abs(y[i].item<double>() - expected));
  }
  std::printf("RMSNorm vs formula (double): max abs diff %.3g\n", max_diff);
  EXPECT_LE(max_diff, 1e-6);
}

TEST(LanguageModel, RopeRotatesHalvesByTheClosedForm) {
  io::LanguageModelConfig c = tiny_config(ModelFamily::kQwen2);
  c.rope_theta = 10000.0;
  const int64_t D = c.head_dim;  // 8
  at::Tensor inv_freq = rope_inverse_frequencies(c);
  ASSERT_EQ(inv_freq.size(0), D / 2);
  const std::vector<double> q = {0.3, -1.2, 0.7, 2.0, -0.4, 0.9, 1.5, -0.6};
  double max_diff = 0;
  for (int64_t p : {0, 1, 5, 17, 100}) {
    auto [cos, sin] = rope_cos_sin(inv_freq, torch::tensor({p}, torch::kLong));
    at::Tensor rotated = apply_rope(torch::tensor(q, torch::kDouble).to(torch::kFloat).view({1, 1, 1, D}),
                                    cos.view({1, 1, 1, D}), sin.view({1, 1, 1, D}))
                             .view({D});
    for (int64_t i = 0; i < D / 2; ++i) {
      const double angle = p * std::pow(10000.0, -2.0 * i / D);
      const double a = q[i], b = q[i + D / 2];
      max_diff = std::max(max_diff, std::abs(rotated[i].item<double>() - (a * std::cos(angle) - b * std::sin(angle))));
      max_diff =
          std::max(max_diff, std::abs(rotated[i + D / 2].item<double>() - (b * std::cos(angle) + a * std::sin(angle))));
    }
  }
  std::printf("RoPE vs closed form cos/sin (double): max abs diff %.3g\n", max_diff);
  EXPECT_LE(max_diff, 1e-4);  // float32 angles up to 100 rad
}

TEST(LanguageModel, RopeDotProductDependsOnlyOnRelativePosition) {
  io::LanguageModelConfig c = tiny_config(ModelFamily::kQwen2);
  at::Tensor inv_freq = rope_inverse_frequencies(c);
  const int64_t D = c.head_dim;
  torch::manual_seed(3);
  at::Tensor q = torch::randn({1, 1, 1, D}), k = torch::randn({1, 1, 1, D});
  auto dot_at = [&](int64_t pq, int64_t pk) {
    auto [cq, sq] = rope_cos_sin(inv_freq, torch::tensor({pq}, torch::kLong));
    auto [ck, sk] = rope_cos_sin(inv_freq, torch::tensor({pk}, torch::kLong));
    at::Tensor rq = apply_rope(q, cq.view({1, 1, 1, D}), sq.view({1, 1, 1, D}));
    at::Tensor rk = apply_rope(k, ck.view({1, 1, 1, D}), sk.view({1, 1, 1, D}));
    return (rq * rk).sum().item<double>();
  };
  double max_diff = 0;
  for (int64_t shift : {1, 7, 30}) {
    max_diff = std::max(max_diff, std::abs(dot_at(5, 2) - dot_at(5 + shift, 2 + shift)));
    max_diff = std::max(max_diff, std::abs(dot_at(3, 3) - dot_at(3 + shift, 3 + shift)));
  }
  std::printf("RoPE q.k under a common shift: max abs diff %.3g\n", max_diff);
  EXPECT_LE(max_diff, 1e-4);
  EXPECT_GT(std::abs(dot_at(5, 2) - dot_at(5, 4)), 1e-3);  // but it does depend on the offset
}

TEST(LanguageModel, Llama3RopeScalingFollowsMetasFormula) {
  io::LanguageModelConfig c = tiny_config(ModelFamily::kLlama);
  c.head_dim = 16;
  c.rope_theta = 10000.0;
  io::RopeScaling rs;
  rs.rope_type = "llama3";
  rs.factor = 8.0;
  rs.low_freq_factor = 1.0;
  rs.high_freq_factor = 4.0;
  rs.original_max_position_embeddings = 64;
  c.rope_scaling = rs;
  at::Tensor f = rope_inverse_frequencies(c);
  double max_diff = 0;
  int kept = 0, scaled = 0, blended = 0;
  for (int64_t i = 0; i < 8; ++i) {
    const double freq = std::pow(10000.0, -2.0 * i / 16);
    const double wavelen = 2 * M_PI / freq;
    double expected;
    if (wavelen < 64 / 4.0) {
      expected = freq;
      ++kept;
    } else if (wavelen > 64 / 1.0) {
      expected = freq / 8;
      ++scaled;
    } else {
      const double s = (64 / wavelen - 1) / (4 - 1);
      expected = (1 - s) * freq / 8 + s * freq;
      ++blended;
    }
    max_diff = std::max(max_diff, std::abs(f[i].item<double>() - expected) / expected);
  }
  std::printf("llama3 rope scaling vs Meta's apply_scaling: max rel diff %.3g (%d kept, %d blended, %d scaled)\n",
              max_diff, kept, blended, scaled);
  EXPECT_LE(max_diff, 1e-6);
  EXPECT_GT(kept * blended * scaled, 0);
}

TEST(LanguageModel, AttentionOverOneTokenIsProjectedValue) {
  io::LanguageModelConfig c = tiny_config(ModelFamily::kLlama);  // biases on q/k/v and o
  torch::manual_seed(11);
  Attention attn(c, InitOptions{});
  torch::NoGradGuard g;
  at::Tensor x = torch::randn({1, 1, c.hidden_size});
  auto [cos, sin] = rope_cos_sin(rope_inverse_frequencies(c), torch::tensor({{3}}, torch::kLong));
  at::Tensor y = attn->forward(x, cos.unsqueeze(1), sin.unsqueeze(1), at::Tensor(), nullptr, 0);
  // softmax over one key is 1: out = o_proj(v), v of kv head h / G repeated for each of its G heads.
  at::Tensor v = at::linear(x, attn->v_proj->weight, attn->v_proj->bias).view({c.num_key_value_heads, c.head_dim});
  at::Tensor heads = v.repeat_interleave(c.num_attention_heads / c.num_key_value_heads, 0).reshape({1, 1, -1});
  at::Tensor expected = at::linear(heads, attn->o_proj->weight, attn->o_proj->bias);
  const double d = max_abs_diff(y, expected);
  std::printf("attention over one token vs o_proj(v_proj(x)): max abs diff %.3g\n", d);
  EXPECT_LE(d, 1e-6);
}

TEST(LanguageModel, GroupedQueryAttentionEqualsMhaWithDuplicatedHeads) {
  io::LanguageModelConfig gqa = tiny_config(ModelFamily::kQwen2, /*kv_heads=*/1);
  io::LanguageModelConfig mha = tiny_config(ModelFamily::kQwen2, /*kv_heads=*/4);
  LanguageModel a = make_model(gqa, 5);
  LanguageModel b = make_model(mha, 6);
  {
    torch::NoGradGuard g;
    auto pa = a->named_parameters();
    for (auto& item : b->named_parameters()) {
      const at::Tensor& src = pa[item.key()];
      if (item.key().find("k_proj") != std::string::npos || item.key().find("v_proj") != std::string::npos) {
        // One key/value head repeated for all four query heads.
        const int64_t reps = mha.num_key_value_heads / gqa.num_key_value_heads;
        item.value().copy_(src.dim() == 2 ? src.repeat({reps, 1}) : src.repeat({reps}));
      } else {
        item.value().copy_(src);
      }
    }
  }
  torch::NoGradGuard g;
  at::Tensor ids = ids_tensor(random_ids(12, gqa.vocab_size, 1));
  const double d = max_abs_diff(a->forward(ids).logits, b->forward(ids).logits);
  std::printf("GQA (1 kv head) vs MHA with duplicated k/v heads: max abs diff %.3g\n", d);
  EXPECT_LE(d, 1e-5);
}

// ---- the whole model ------------------------------------------------------------------------------------

TEST(LanguageModel, CausalLogitsDoNotChangeWhenTokensAreAppended) {
  for (auto family : {ModelFamily::kQwen2, ModelFamily::kQwen3, ModelFamily::kLlama}) {
    LanguageModel lm = make_model(tiny_config(family));
    torch::NoGradGuard g;
    const auto ids = random_ids(20, 96, 2);
    at::Tensor full = lm->forward(ids_tensor(ids)).logits;
    at::Tensor prefix = lm->forward(ids_tensor({ids.begin(), ids.begin() + 11})).logits;
    const double d = max_abs_diff(full.narrow(1, 0, 11), prefix);
    std::printf("%s causality: logits of 11 tokens alone vs inside 20: max abs diff %.3g\n",
                std::string(io::family_name(family)).c_str(), d);
    EXPECT_LE(d, 1e-5);
  }
}

TEST(LanguageModel, KvCacheDecodeMatchesFullRecompute) {
  for (auto family : {ModelFamily::kQwen2, ModelFamily::kQwen3, ModelFamily::kLlama}) {
    LanguageModel lm = make_model(tiny_config(family));
    c10::InferenceMode guard;
    const auto ids = random_ids(24, 96, 3);
    at::Tensor full = lm->forward(ids_tensor(ids)).logits;
    KvCache cache = lm->make_cache(1, 4, 64);  // starts small: exercises growth too
    ForwardOptions opts;
    opts.cache = &cache;
    std::vector<at::Tensor> pieces;
    pieces.push_back(lm->forward(ids_tensor({ids.begin(), ids.begin() + 9}), opts).logits);  // prompt
    for (size_t t = 9; t < ids.size(); ++t) {
      pieces.push_back(lm->forward(ids_tensor({ids[t]}), opts).logits);  // one token per step
    }
    EXPECT_EQ(cache.length(), 24);
    EXPECT_GE(cache.capacity(), 24);
    const double d = max_abs_diff(at::cat(pieces, 1), full);
    std::printf("%s KV-cache decode vs full recompute (fp32): max abs diff %.3g\n",
                std::string(io::family_name(family)).c_str(), d);
    EXPECT_LE(d, kTolF32);
  }
}

// A second line that copies a prefix of the cache and goes on with other tokens sees the same logits
// as the full recompute of prefix + those tokens; the source cache is left as it was.
TEST(LanguageModel, ACopiedCachePrefixContinuesLikeAFullRecompute) {
  LanguageModel lm = make_model(tiny_config(ModelFamily::kQwen2));
  c10::InferenceMode guard;
  const auto ids = random_ids(20, 96, 7), other = random_ids(6, 96, 8);
  KvCache source = lm->make_cache(1, 32);
  ForwardOptions opts;
  opts.cache = &source;
  lm->forward(ids_tensor(ids), opts);
  KvCache line = lm->make_cache(1, 18);
  line.copy_prefix(source, 12);
  EXPECT_EQ(line.length(), 12);
  opts.cache = &line;
  const at::Tensor continued = lm->forward(ids_tensor(other), opts).logits;
  std::vector<int64_t> joined(ids.begin(), ids.begin() + 12);
  joined.insert(joined.end(), other.begin(), other.end());
  const at::Tensor full = lm->forward(ids_tensor(joined)).logits.narrow(1, 12, 6);
  const double d = max_abs_diff(continued, full);
  std::printf("copied cache prefix + 6 tokens vs full recompute: max abs diff %.3g\n", d);
  EXPECT_LE(d, kTolF32);
  EXPECT_EQ(source.length(), 20);
  KvCache small = lm->make_cache(1, 8);
  EXPECT_THROW(small.copy_prefix(source, 12), InputError);  // over its capacity
  EXPECT_THROW(line.copy_prefix(source, 21), InputError);   // past the source's length
}

TEST(LanguageModel, PaddedBatchMatchesSingleSequences) {
  LanguageModel lm = make_model(tiny_config(ModelFamily::kQwen3));
  torch::NoGradGuard g;
  const auto a = random_ids(9, 96, 4), b = random_ids(6, 96, 5);
  // Left padding for b (3 pads), with the mask and positions starting at 0 on the first real token.
  std::vector<int64_t> b_padded = {0, 0, 0};
  b_padded.insert(b_padded.end(), b.begin(), b.end());
  at::Tensor ids = at::cat({ids_tensor(a), ids_tensor(b_padded)}, 0);
  at::Tensor mask = torch::ones({2, 9}, torch::kLong);
  mask[1].narrow(0, 0, 3).zero_();
  at::Tensor pos = torch::stack({torch::arange(9), (torch::arange(9) - 3).clamp_min(0)});
  ForwardOptions opts;
  opts.attention_mask = mask;
  opts.position_ids = pos;
  at::Tensor batched = lm->forward(ids, opts).logits;
  const double da = max_abs_diff(batched[0], lm->forward(ids_tensor(a)).logits[0]);
  const double db = max_abs_diff(batched[1].narrow(0, 3, 6), lm->forward(ids_tensor(b)).logits[0]);
  std::printf("left-padded batch vs single sequences: max abs diff %.3g / %.3g\n", da, db);
  EXPECT_LE(std::max(da, db), 1e-5);
}

TEST(LanguageModel, HiddenStatesAndEmbeddingInput) {
  io::LanguageModelConfig c = tiny_config(ModelFamily::kQwen2);
  LanguageModel lm = make_model(c);
  torch::NoGradGuard g;
  at::Tensor ids = ids_tensor(random_ids(7, 96, 6));
  ForwardOptions opts;
  opts.output_hidden_states = true;
  ForwardOutput from_ids = lm->forward(ids, opts);
  ASSERT_EQ(static_cast<int64_t>(from_ids.hidden_states.size()), c.num_hidden_layers + 1);
  EXPECT_EQ(max_abs_diff(from_ids.hidden_states[0], lm->embed_tokens(ids)), 0.0);
  EXPECT_EQ(max_abs_diff(from_ids.hidden_states.back(), from_ids.last_hidden_state), 0.0);
  ForwardOutput from_embeds = lm->forward_embeds(lm->embed_tokens(ids), opts);
  EXPECT_EQ(max_abs_diff(from_ids.logits, from_embeds.logits), 0.0);
  EXPECT_EQ(max_abs_diff(lm->logits_from_hidden(from_ids.last_hidden_state), from_ids.logits), 0.0);
  opts.logits_to_keep = 1;
  at::Tensor last = lm->forward(ids, opts).logits;
  EXPECT_EQ(last.size(1), 1);
  // One row goes through the matrix-vector path: the same sums in another order.
  EXPECT_LE(max_abs_diff(last[0][0], from_ids.logits[0][6]), 1e-5);
}

TEST(LanguageModel, SaveAndReloadGivesIdenticalLogits) {
  attune::testing::TempDir tmp;
  for (auto family : {ModelFamily::kQwen2, ModelFamily::kQwen3, ModelFamily::kLlama}) {
    io::LanguageModelConfig c = tiny_config(family);
    LanguageModel lm = make_model(c);
    const fs::path dir = tmp / std::string(io::family_name(family));
    lm->save_pretrained(dir);
    LanguageModel back(LanguageModelImpl::from_pretrained(dir));
    torch::NoGradGuard g;
    at::Tensor ids = ids_tensor(random_ids(10, 96, 8));
    const double d = max_abs_diff(lm->forward(ids).logits, back->forward(ids).logits);
    std::printf("%s save_pretrained -> from_pretrained: max abs diff %.3g\n",
                std::string(io::family_name(family)).c_str(), d);
    EXPECT_EQ(d, 0.0);
  }
}

TEST(LanguageModel, Bf16RunsCloseToFp32) {
  io::LanguageModelConfig c = tiny_config(ModelFamily::kQwen2);
  LanguageModel lm = make_model(c);
  attune::testing::TempDir tmp;
  lm->save_pretrained(tmp.path());
  LanguageModel bf(LanguageModelImpl::from_pretrained(tmp.path(), {.dtype = at::kBFloat16}));
  EXPECT_EQ(bf->dtype(), at::kBFloat16);
  c10::InferenceMode guard;
  const auto ids = random_ids(12, 96, 9);
  at::Tensor ref = lm->forward(ids_tensor(ids)).logits;
  at::Tensor got = bf->forward(ids_tensor(ids)).logits;
  EXPECT_EQ(got.scalar_type(), at::kFloat);
  const double d = max_abs_diff(ref, got);
  const double scale = ref.abs().max().item<double>();
  // The same with the cache in bf16.
  KvCache cache = bf->make_cache(1, 12);
  EXPECT_EQ(cache.dtype(), at::kBFloat16);
  ForwardOptions opts;
  opts.cache = &cache;
  std::vector<at::Tensor> steps = {bf->forward(ids_tensor({ids.begin(), ids.begin() + 6}), opts).logits};
  for (size_t t = 6; t < ids.size(); ++t) steps.push_back(bf->forward(ids_tensor({ids[t]}), opts).logits);
  const double dc = max_abs_diff(at::cat(steps, 1), got);
  std::printf("bf16 vs fp32 logits: max abs diff %.3g (logit scale %.3g); bf16 cache vs bf16 recompute %.3g\n", d,
              scale, dc);
  EXPECT_LE(d, 0.05 * scale);
  EXPECT_LE(dc, 0.05 * scale);
}

// ---- the independent numpy reference (tests/model/make_lm_reference.py) --------------------------------

struct Reference {
  std::vector<int64_t> input_ids, greedy_ids;
  at::Tensor logits, hidden_states;
};

Reference load_reference(const std::string& family) {
  static const io::SafetensorsFile file =
      io::SafetensorsFile::open(attune::testing::fixtures_dir() / "lm_reference.safetensors");
  Reference r;
  for (float v : io::to_f32(file.tensor(family + ".input_ids"))) r.input_ids.push_back(static_cast<int64_t>(v));
  for (float v : io::to_f32(file.tensor(family + ".greedy_ids"))) r.greedy_ids.push_back(static_cast<int64_t>(v));
  r.logits = to_torch(file.tensor(family + ".logits"), family);
  r.hidden_states = to_torch(file.tensor(family + ".hidden_states"), family);
  return r;
}

TEST(LanguageModel, MatchesTheNumpyReference) {
  for (const std::string family : {"qwen2", "qwen3", "llama"}) {
    const fs::path dir = attune::testing::fixtures_dir() / ("lm_" + family + "_tiny");
    LanguageModel lm(LanguageModelImpl::from_pretrained(dir));
    Reference ref = load_reference(family);
    c10::InferenceMode guard;
    ForwardOptions opts;
    opts.output_hidden_states = true;
    ForwardOutput out = lm->forward(ids_tensor(ref.input_ids), opts);
    const double dl = max_abs_diff(out.logits[0], ref.logits);
    double dh = 0;
    for (size_t i = 0; i < out.hidden_states.size(); ++i) {
      dh = std::max(dh, max_abs_diff(out.hidden_states[i][0], ref.hidden_states[i]));
    }
    // Greedy continuation through the KV cache.
    GenerateOptions gen;
    gen.max_new_tokens = static_cast<int64_t>(ref.greedy_ids.size());
    gen.use_model_eos = false;
    std::vector<int32_t> prompt(ref.input_ids.begin(), ref.input_ids.end());
    GenerateResult result = generate(*lm, prompt, gen);
    std::vector<int64_t> got(result.ids.begin(), result.ids.end());
    std::printf(
        "%s vs numpy float64 reference: logits max abs diff %.3g (range %.1f), hidden states %.3g, "
        "greedy %s\n",
        family.c_str(), dl, ref.logits.abs().max().item<double>(), dh,
        got == ref.greedy_ids ? "identical" : "DIFFERENT");
    EXPECT_LE(dl, kTolF32) << family;
    EXPECT_LE(dh, kTolF32) << family;
    EXPECT_EQ(got, ref.greedy_ids) << family;
  }
}

TEST(LanguageModel, Bf16CheckpointLoadsIntoFp32Exactly) {
  // The qwen3 fixture stores BF16: every value must arrive unchanged in the fp32 model.
  const fs::path dir = attune::testing::fixtures_dir() / "lm_qwen3_tiny";
  LanguageModel lm(LanguageModelImpl::from_pretrained(dir));
  io::SafetensorsCheckpoint ckpt = io::SafetensorsCheckpoint::open(dir);
  double d = 0;
  for (const auto& p : lm->named_parameters()) {
    const io::TensorView& v = ckpt.tensor(p.key());
    EXPECT_EQ(v.dtype, io::Dtype::kBF16);
    d = std::max(d, max_abs_diff(p.value(), to_torch(v, p.key()).to(at::kFloat)));
  }
  std::printf("BF16 checkpoint -> fp32 parameters: max abs diff %.3g\n", d);
  EXPECT_EQ(d, 0.0);
}

// ---- generation -----------------------------------------------------------------------------------------

TEST(Generate, GreedyIsReproducibleAndSeedsRepeat) {
  LanguageModel lm = make_model(tiny_config(ModelFamily::kQwen2));
  const auto ids64 = random_ids(5, 96, 10);
  std::vector<int32_t> prompt(ids64.begin(), ids64.end());
  GenerateOptions greedy;
  greedy.max_new_tokens = 12;
  EXPECT_EQ(generate(*lm, prompt, greedy).ids, generate(*lm, prompt, greedy).ids);
  GenerateOptions sampled = greedy;
  sampled.sampling.greedy = false;
  sampled.sampling.temperature = 1.5;
  sampled.sampling.top_k = 40;
  sampled.sampling.top_p = 0.95;
  sampled.sampling.seed = 1234;
  const auto a = generate(*lm, prompt, sampled).ids;
  const auto b = generate(*lm, prompt, sampled).ids;
  EXPECT_EQ(a, b);
  sampled.sampling.seed = 99;
  const auto c = generate(*lm, prompt, sampled).ids;
  EXPECT_NE(a, c);
  EXPECT_EQ(a.size(), 12u);
}

TEST(Generate, ReturnedLogitsEqualAFullForwardOverTheSequence) {
  LanguageModel lm = make_model(tiny_config(ModelFamily::kLlama));
  const auto ids64 = random_ids(6, 96, 11);
  std::vector<int32_t> prompt(ids64.begin(), ids64.end());
  GenerateOptions opts;
  opts.max_new_tokens = 5;
  opts.return_logits = true;
  int calls = 0;
  opts.on_token = [&](int32_t, std::string_view) { return ++calls > 0; };
  GenerateResult r = generate(*lm, prompt, opts);
  EXPECT_EQ(calls, 5);
  ASSERT_EQ(r.ids.size(), 5u);
  EXPECT_EQ(r.logits_rows, 6 + 5 - 1);
  EXPECT_EQ(r.decode_steps, 4);
  std::vector<int64_t> seq(ids64.begin(), ids64.end());
  seq.insert(seq.end(), r.ids.begin(), r.ids.end() - 1);
  torch::NoGradGuard g;
  at::Tensor full = lm->forward(ids_tensor(seq)).logits[0];
  at::Tensor got = torch::from_blob(r.logits.data(), {r.logits_rows, r.vocab_size}, torch::kFloat);
  const double d = max_abs_diff(got, full);
  std::printf("generate(return_logits) rows vs one forward over prompt + generated: max abs diff %.3g\n", d);
  EXPECT_LE(d, kTolF32);
}

TEST(Generate, StopsAtEosAndCallback) {
  // The qwen3 fixture's greedy continuation starts with its eos (63).
  const fs::path dir = attune::testing::fixtures_dir() / "lm_qwen3_tiny";
  LanguageModel lm(LanguageModelImpl::from_pretrained(dir));
  Reference ref = load_reference("qwen3");
  ASSERT_EQ(ref.greedy_ids[0], 63);
  std::vector<int32_t> prompt(ref.input_ids.begin(), ref.input_ids.end());
  GenerateOptions opts;
  opts.max_new_tokens = 8;
  GenerateResult r = generate(*lm, prompt, opts);
  EXPECT_EQ(r.ids, std::vector<int32_t>{63});
  EXPECT_EQ(r.stop_reason, StopReason::kStopToken);
  opts.stop_token_ids = {static_cast<int32_t>(ref.greedy_ids[2])};  // overrides eos
  r = generate(*lm, prompt, opts);
  EXPECT_EQ(r.ids.size(), 3u);
  opts.stop_token_ids.clear();
  opts.use_model_eos = false;
  opts.on_token = [n = 0](int32_t, std::string_view) mutable { return ++n < 2; };
  r = generate(*lm, prompt, opts);
  EXPECT_EQ(r.ids.size(), 2u);
  EXPECT_EQ(r.stop_reason, StopReason::kCancelled);
}

TEST(Generate, StopStringsAndStreamedText) {
  // Byte-level tokenizer (id b = byte b) and a model over the ASCII ids 32..127 only.
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[text::detail::bytes_to_token(std::string(1, static_cast<char>(b)))] = b;
  nlohmann::json tj = {{"version", "1.0"},
                       {"added_tokens", nlohmann::json::array()},
                       {"normalizer", nullptr},
                       {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
                       {"decoder", {{"type", "ByteLevel"}}},
                       {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::json::array()}}}};
  const text::Tokenizer tok = text::Tokenizer::from_json_text(tj.dump(), "bytes");
  io::LanguageModelConfig c = tiny_config(ModelFamily::kQwen2);
  c.vocab_size = 128;
  LanguageModel lm = make_model(c, 21);
  {
    torch::NoGradGuard g;  // never pick a control character
    lm->model->embed_tokens->weight.narrow(0, 0, 32).zero_();
  }
  const std::vector<int32_t> prompt = {'H', 'i', ' '};
  GenerateOptions opts;
  opts.max_new_tokens = 16;
  opts.sampling.greedy = false;
  opts.sampling.seed = 5;
  opts.sampling.top_k = 20;
  std::string streamed;
  opts.on_token = [&](int32_t, std::string_view piece) {
    streamed += piece;
    return true;
  };
  GenerateResult full = generate(*lm, prompt, opts, &tok);
  ASSERT_EQ(full.ids.size(), 16u);
  EXPECT_EQ(full.text, tok.decode(full.ids));
  EXPECT_EQ(streamed, full.text);
  // Stop at a string made of generated characters 6..7: the text ends right before its first occurrence.
  const std::string stop = full.text.substr(6, 2);
  const size_t at = full.text.find(stop);
  opts.stop_strings = {stop, "never-there"};
  streamed.clear();
  GenerateResult cut = generate(*lm, prompt, opts, &tok);
  EXPECT_EQ(cut.stop_reason, StopReason::kStopString);
  EXPECT_EQ(cut.text, full.text.substr(0, at));
  EXPECT_EQ(streamed, cut.text);  // the held-back stop-string prefix never reached the callback
  EXPECT_EQ(cut.ids.size(), at + 2);
}

// ---- bad input -------------------------------------------------------------------------------------------

template <typename E, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no exception";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(LanguageModelErrors, BadCheckpoints) {
  attune::testing::TempDir tmp;
  io::LanguageModelConfig c = tiny_config(ModelFamily::kQwen2);
  LanguageModel lm = make_model(c);
  const fs::path good = tmp / "good";
  lm->save_pretrained(good);
  auto write_variant = [&](const std::string& name, const std::function<void(NamedTensors&)>& edit) {
    const fs::path dir = tmp / name;
    fs::create_directories(dir);
    fs::copy_file(good / "config.json", dir / "config.json");
    NamedTensors named = collect_weights(*lm);
    edit(named);
    io::write_safetensors(dir / "model.safetensors", named.tensors);
    return dir;
  };
  auto find = [](NamedTensors& n, const std::string& key) -> io::TensorToWrite& {
    for (auto& t : n.tensors) {
      if (t.name == key) return t;
    }
    throw std::runtime_error("no " + key);
  };
  const fs::path missing = write_variant("missing", [&](NamedTensors& n) {
    std::erase_if(n.tensors, [](const auto& t) { return t.name == "model.layers.1.mlp.up_proj.weight"; });
  });
  std::string e = error_of<InputError>([&] { LanguageModelImpl::from_pretrained(missing); });
  EXPECT_TRUE(contains(e, "missing 1 tensor") && contains(e, "model.layers.1.mlp.up_proj.weight") &&
              contains(e, "model.safetensors"))
      << e;

  at::Tensor extra_storage = torch::zeros({4});
  const fs::path extra = write_variant("extra", [&](NamedTensors& n) {
    n.tensors.push_back({"model.layers.0.self_attn.extra.weight",
                         io::Dtype::kF32,
                         {4},
                         {static_cast<const std::byte*>(extra_storage.data_ptr()), 16}});
  });
  e = error_of<InputError>([&] { LanguageModelImpl::from_pretrained(extra); });
  EXPECT_TRUE(contains(e, "unexpected tensor") && contains(e, "model.layers.0.self_attn.extra.weight")) << e;

  const fs::path shape = write_variant("shape", [&](NamedTensors& n) {
    auto& t = find(n, "model.norm.weight");
    t.shape = {16, 2};
  });
  e = error_of<InputError>([&] { LanguageModelImpl::from_pretrained(shape); });
  EXPECT_TRUE(contains(e, "model.norm.weight") && contains(e, "[16, 2]") && contains(e, "[32]")) << e;

  const fs::path dtype = write_variant("dtype", [&](NamedTensors& n) {
    auto& t = find(n, "model.layers.0.input_layernorm.weight");
    t.dtype = io::Dtype::kI32;  // same byte size as F32
  });
  e = error_of<InputError>([&] { LanguageModelImpl::from_pretrained(dtype); });
  EXPECT_TRUE(contains(e, "model.layers.0.input_layernorm.weight") && contains(e, "I32")) << e;

  // A tied checkpoint that also stores lm_head.weight loads (transformers ignores it).
  at::Tensor head = torch::zeros({c.vocab_size, c.hidden_size});
  const fs::path tied_extra = write_variant("tied_extra", [&](NamedTensors& n) {
    n.tensors.push_back({"lm_head.weight",
                         io::Dtype::kF32,
                         {c.vocab_size, c.hidden_size},
                         {static_cast<const std::byte*>(head.data_ptr()), static_cast<size_t>(head.nbytes())}});
  });
  EXPECT_NO_THROW(LanguageModelImpl::from_pretrained(tied_extra));

  // A Whisper config is not a language model.
  e = error_of<ConfigError>(
      [&] { LanguageModelImpl::from_pretrained(attune::testing::fixtures_dir() / "whisper_tiny_random"); });
  EXPECT_TRUE(contains(e, "model_type")) << e;
}

TEST(LanguageModelErrors, UnsupportedConfigOptions) {
  io::LanguageModelConfig c = tiny_config(ModelFamily::kQwen2);
  c.hidden_act = "gelu";
  std::string e = error_of<ConfigError>([&] { LanguageModel lm(c); });
  EXPECT_TRUE(contains(e, "hidden_act") && contains(e, "gelu")) << e;
  c = tiny_config(ModelFamily::kQwen2);
  c.use_sliding_window = true;
  c.sliding_window = 16;
  e = error_of<ConfigError>([&] { LanguageModel lm(c); });
  EXPECT_TRUE(contains(e, "use_sliding_window")) << e;
  c = tiny_config(ModelFamily::kLlama);
  io::RopeScaling yarn;
  yarn.rope_type = "yarn";
  yarn.factor = 4;
  c.rope_scaling = yarn;
  e = error_of<ConfigError>([&] { LanguageModel lm(c); });
  EXPECT_TRUE(contains(e, "rope_scaling") && contains(e, "yarn")) << e;
}

TEST(LanguageModelErrors, BadInputsAndContextLength) {
  io::LanguageModelConfig c = tiny_config(ModelFamily::kQwen2);
  c.max_position_embeddings = 16;
  LanguageModel lm = make_model(c);
  torch::NoGradGuard g;
  std::string e = error_of<InputError>([&] { lm->forward(ids_tensor(random_ids(17, 96, 1))); });
  EXPECT_TRUE(contains(e, "17") && contains(e, "max_position_embeddings = 16")) << e;
  std::vector<int32_t> long_prompt(20, 3);
  e = error_of<InputError>([&] { generate(*lm, long_prompt, GenerateOptions{}); });
  EXPECT_TRUE(contains(e, "20 tokens") && contains(e, "16")) << e;
  e = error_of<InputError>([&] { lm->forward(ids_tensor({1, 96})); });
  EXPECT_TRUE(contains(e, "96") && contains(e, "vocabulary")) << e;
  e = error_of<InputError>([&] { lm->forward(torch::zeros({3}, torch::kLong)); });
  EXPECT_TRUE(contains(e, "2-D")) << e;
  e = error_of<InputError>([&] { lm->forward_embeds(torch::zeros({1, 3, 7})); });
  EXPECT_TRUE(contains(e, "[1, 3, 7]")) << e;
  e = error_of<InputError>([&] { generate(*lm, std::vector<int32_t>{}, GenerateOptions{}); });
  EXPECT_TRUE(contains(e, "empty")) << e;
  // A cache that cannot grow.
  KvCache cache = lm->make_cache(1, 4, 4);
  ForwardOptions opts;
  opts.cache = &cache;
  lm->forward(ids_tensor({1, 2, 3}), opts);
  e = error_of<InputError>([&] { lm->forward(ids_tensor({4, 5}), opts); });
  EXPECT_TRUE(contains(e, "capacity 4")) << e;
  EXPECT_EQ(cache.length(), 3);  // unchanged by the failed step
  // Generation fills the context and stops there.
  GenerateOptions gen;
  gen.max_new_tokens = 50;
  GenerateResult r = generate(*lm, std::vector<int32_t>(10, 3), gen);
  EXPECT_EQ(r.stop_reason, StopReason::kContextFull);
  EXPECT_EQ(r.ids.size(), 7u);  // positions 10..15 fed back, plus the last prediction
}

TEST(TextGenerator, LoadsAFixtureDirectory) {
  const fs::path dir = attune::testing::fixtures_dir() / "lm_llama_tiny";
  TextGenerator gen = TextGenerator::load(dir, {.dtype = "fp32", .device = "cpu"});
  EXPECT_EQ(gen.dtype_name(), "fp32");
  EXPECT_EQ(gen.device_name(), "cpu");
  EXPECT_EQ(gen.tokenizer(), nullptr);
  EXPECT_EQ(gen.vocab_size(), 64);
  Reference ref = load_reference("llama");
  std::vector<int32_t> prompt(ref.input_ids.begin(), ref.input_ids.end());
  GenerateOptions opts;
  opts.max_new_tokens = static_cast<int64_t>(ref.greedy_ids.size());
  opts.use_model_eos = false;
  GenerateResult r = gen.generate(prompt, opts);
  EXPECT_EQ(std::vector<int64_t>(r.ids.begin(), r.ids.end()), ref.greedy_ids);
  std::string e = error_of<ConfigError>([&] { TextGenerator::load(dir, {.dtype = "fp8"}); });
  EXPECT_TRUE(contains(e, "--dtype") && contains(e, "fp8")) << e;
  e = error_of<InputError>([&] { gen.generate_text("hello", opts); });
  EXPECT_TRUE(contains(e, "tokenizer")) << e;
}

}  // namespace
}  // namespace attune::model
