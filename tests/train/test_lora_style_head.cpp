// LoRA projections and the speech-style head: forward against the formula, merged saving, shapes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "attune/error.h"
#include "model/language_model.h"
#include "model/style_head.h"
#include "model/weights.h"
#include "support/test_support.h"

using namespace attune;

TEST(Lora, ForwardEqualsMergedWeightAndSavesMerged) {
  torch::manual_seed(3);
  model::Projection proj(12, 10, /*bias=*/true, model::InitOptions{}, 0.2);
  proj->enable_lora(4, 8.0);
  EXPECT_EQ(proj->lora_A.sizes(), (std::vector<int64_t>{4, 12}));
  EXPECT_EQ(proj->lora_B.sizes(), (std::vector<int64_t>{10, 4}));
  at::Tensor x = torch::randn({3, 5, 12});
  // B starts at zero: the adapted projection is the base one.
  EXPECT_TRUE(torch::allclose(proj->forward(x), at::linear(x, proj->weight, proj->bias)));
  {
    torch::NoGradGuard no_grad;
    proj->lora_B.normal_(0, 0.5);
  }
  const at::Tensor merged = proj->weight + 2.0 * torch::matmul(proj->lora_B, proj->lora_A);  // alpha / r = 2
  const double diff = (proj->forward(x) - at::linear(x, merged, proj->bias)).abs().max().item<double>();
  std::printf("lora forward vs merged formula: max abs diff %.2e\n", diff);
  EXPECT_LT(diff, 1e-5);
  model::NamedTensors named = model::collect_weights(*proj);
  std::vector<std::string> names;
  for (const auto& t : named.tensors) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"weight", "bias"}));
  at::Tensor saved = named.storage[0];
  EXPECT_LT((saved - merged).abs().max().item<double>(), 1e-6);
}

TEST(StyleHead, ShapesAndLoading) {
  io::StyleHeadConfig config;
  config.input_size = 16;
  config.hidden_size = 8;
  model::StyleHead head(config);
  model::StyleHeadOutput out = head->forward(torch::randn({5, 16}));
  EXPECT_EQ(out.emotion_logits.sizes(), (std::vector<int64_t>{5, 7}));
  EXPECT_EQ(out.attributes.sizes(), (std::vector<int64_t>{5, 4}));
  attune::testing::TempDir dir;
  EXPECT_EQ(model::StyleHeadImpl::from_pretrained(dir.path(), config), nullptr);  // no weights at all
  model::save_weights(*head, dir / "model.safetensors", io::Dtype::kF32, model::kStyleHeadPrefix);
  auto loaded = model::StyleHeadImpl::from_pretrained(dir.path(), config);
  ASSERT_NE(loaded, nullptr);
  at::Tensor h = torch::randn({2, 16});
  EXPECT_TRUE(torch::equal(loaded->forward(h).emotion_logits, head->forward(h).emotion_logits));
  config.hidden_size = 9;
  EXPECT_THROW(model::StyleHeadImpl::from_pretrained(dir.path(), config), InputError);
}
