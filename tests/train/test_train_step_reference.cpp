// An llm.c-style check of the training step: attune's language model (its training path, fused
// kernels with hand-written backward passes included) and its AdamW set-up against PyTorch eager in
// float64 on the same weights and batch (tests/model/make_train_step_reference.py writes
// tests/fixtures/train_step_reference.safetensors): the loss of each step, the first step's
// gradients, and the weights after three steps of clipping + AdamW.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>

#include "io/safetensors.h"
#include "model/language_model.h"
#include "model/weights.h"
#include "support/test_support.h"
#include "train/recipe.h"
#include "train/run_support.h"

namespace attune::train {
namespace {

at::Tensor reference(const io::SafetensorsFile& file, const std::string& name) {
  return model::to_torch(file.tensor(name), "train_step_reference.safetensors").to(at::kDouble);
}

// max |a - b| / (max |b| + floor): the error relative to the tensor's scale.
double relative_error(const at::Tensor& ours, const at::Tensor& ref, double floor = 1e-6) {
  const at::Tensor a = ours.detach().to(at::kDouble);
  return (a - ref).abs().max().item<double>() / (ref.abs().max().item<double>() + floor);
}

at::Tensor next_token_loss(model::LanguageModelImpl& lm, const at::Tensor& ids) {
  const at::Tensor logits = lm.forward(ids).logits;  // [B, T, V]
  const int64_t t = ids.size(1), v = logits.size(-1);
  return at::cross_entropy_loss(logits.narrow(1, 0, t - 1).reshape({-1, v}), ids.narrow(1, 1, t - 1).reshape({-1}));
}

TEST(TrainStep, LossesGradientsAndAdamWMatchPyTorchEager) {
  torch::set_num_threads(1);
  const auto file = io::SafetensorsFile::open(testing::fixtures_dir() / "train_step_reference.safetensors");
  auto lm = model::LanguageModelImpl::from_pretrained(testing::fixtures_dir() / "lm_qwen2_tiny");
  lm->train();
  const at::Tensor ids = reference(file, "input_ids").to(at::kLong);
  const at::Tensor losses = reference(file, "losses");

  NamedParameters trainable;
  for (const auto& p : lm->named_parameters())
    trainable.emplace_back(p.key(), p.value());  // HF names (model.layers.0...)
  ASSERT_FALSE(trainable.empty());
  Recipe r;
  r.lr = 1e-2, r.beta1 = 0.9, r.beta2 = 0.95, r.eps = 1e-8, r.weight_decay = 0.1;  // as the script
  auto optimizer = make_adamw(r, trainable);
  std::vector<at::Tensor> params;
  for (const auto& [name, p] : trainable) params.push_back(p);

  const int64_t steps = losses.size(0) - 1;
  for (int64_t step = 0; step < steps; ++step) {
    optimizer->zero_grad();
    at::Tensor loss = next_token_loss(*lm, ids);
    loss.backward();
    const double want = losses[step].item<double>();
    std::printf("step %lld: loss %.6f (PyTorch eager %.6f)\n", static_cast<long long>(step), loss.item<double>(), want);
    EXPECT_NEAR(loss.item<double>(), want, 2e-5 * std::abs(want)) << "step " << step;
    if (step == 0) {
      for (const auto& [name, p] : trainable) {
        ASSERT_TRUE(file.contains("grad." + name)) << name << " has no reference gradient";
        ASSERT_TRUE(p.grad().defined()) << name << " got no gradient";
        EXPECT_LT(relative_error(p.grad(), reference(file, "grad." + name)), 1e-4) << "gradient of " << name;
      }
    }
    torch::nn::utils::clip_grad_norm_(params, 1.0);
    optimizer->step();
  }
  {
    at::NoGradGuard no_grad;
    const double last = next_token_loss(*lm, ids).item<double>();
    EXPECT_NEAR(last, losses[steps].item<double>(), 1e-4 * std::abs(losses[steps].item<double>()));
  }
  for (const auto& [name, p] : trainable) {
    EXPECT_LT(relative_error(p, reference(file, "after." + name)), 1e-4)
        << "weights of " << name << " after " << steps << " steps";
  }
}

}  // namespace
}  // namespace attune::train
