// The training-time fused ops against the plain formulas differentiated by autograd in double precision.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/fused_ops.h"
#include "model/language_model.h"
#include "support/test_support.h"

using namespace attune;

namespace {

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace

TEST(FusedOps, SwigluMatchesTheFormulaAndItsGradient) {
  torch::manual_seed(5);
  for (auto dtype : {at::kFloat, at::kBFloat16}) {
    at::Tensor g0 = torch::randn({4, 7, 24}) * 3, u0 = torch::randn({4, 7, 24}), dy = torch::randn({4, 7, 24});
    at::Tensor g = g0.to(dtype).requires_grad_(), u = u0.to(dtype).requires_grad_();
    at::Tensor y = model::fused_swiglu(g, u);
    EXPECT_EQ(y.scalar_type(), dtype);
    (y.to(at::kFloat) * dy).sum().backward();
    at::Tensor gd = g.detach().to(at::kDouble).requires_grad_(), ud = u.detach().to(at::kDouble).requires_grad_();
    at::Tensor yd = at::silu(gd) * ud;
    (yd * dy.to(at::kDouble).to(dtype).to(at::kDouble)).sum().backward();
    const double tol = dtype == at::kFloat ? 1e-5 : 0.02;  // bf16: one rounding of values up to ~10
    const double fwd = max_diff(y, yd), dg = max_diff(g.grad(), gd.grad()), du = max_diff(u.grad(), ud.grad());
    std::printf("swiglu %s: forward %.2e, d gate %.2e, d up %.2e\n", c10::toString(dtype), fwd, dg, du);
    EXPECT_LT(fwd, tol * 10);
    EXPECT_LT(dg, tol * 10);
    EXPECT_LT(du, tol * 10);
  }
}

TEST(FusedOps, RmsNormMatchesTheFormulaAndItsGradient) {
  torch::manual_seed(6);
  const double eps = 1e-6;
  at::Tensor x0 = torch::randn({3, 5, 32}) * 2, w0 = torch::rand({32}) + 0.5, dy = torch::randn({3, 5, 32});
  at::Tensor x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_();
  at::Tensor y = model::fused_rms_norm(x, w, eps);
  (y * dy).sum().backward();
  at::Tensor xd = x0.to(at::kDouble).requires_grad_(), wd = w0.to(at::kDouble).requires_grad_();
  at::Tensor yd = wd * (xd / at::sqrt(xd.pow(2).mean(-1, true) + eps));
  (yd * dy.to(at::kDouble)).sum().backward();
  const double fwd = max_diff(y, yd), dx = max_diff(x.grad(), xd.grad()), dw = max_diff(w.grad(), wd.grad());
  std::printf("rms_norm float32: forward %.2e, d x %.2e, d weight %.2e\n", fwd, dx, dw);
  EXPECT_LT(fwd, 1e-5);
  EXPECT_LT(dx, 1e-5);
  EXPECT_LT(dw, 1e-4);
  // bf16 input with a float32 weight (bf16 autocast): the output is float32, as the plain formula gives.
  at::Tensor xb = x0.to(at::kBFloat16).requires_grad_();
  at::Tensor wb = w0.clone().requires_grad_();
  at::Tensor yb = model::fused_rms_norm(xb, wb, eps);
  EXPECT_EQ(yb.scalar_type(), at::kFloat);
  at::Tensor h = xb.detach().to(at::kFloat);
  at::Tensor plain = w0 * (h * at::rsqrt(h.pow(2).mean(-1, true) + eps)).to(at::kBFloat16);
  EXPECT_EQ(max_diff(yb, plain), 0.0);  // the same roundings in the same order
  (yb * dy).sum().backward();
  EXPECT_LT(max_diff(xb.grad(), xd.grad()), 0.05);
  EXPECT_LT(max_diff(wb.grad(), wd.grad()), 0.05 * 15);
}

TEST(FusedOps, LanguageModelGivesTheSameLogitsWithAndWithoutGradients) {
  // With gradients recorded the model runs the fused ops; without, the plain ones: same logits.
  auto lm = model::LanguageModelImpl::from_pretrained(attune::testing::fixtures_dir() / "lm_qwen2_tiny");
  at::Tensor ids = torch::randint(0, lm->config().vocab_size, {2, 9}, torch::kLong);
  at::Tensor with_grad = lm->forward(ids).logits;
  at::Tensor plain;
  {
    torch::NoGradGuard no_grad;
    plain = lm->forward(ids).logits;
  }
  const double diff = max_diff(with_grad, plain);
  std::printf("language model logits, fused (training) vs plain (inference): max abs diff %.2e\n", diff);
  EXPECT_LT(diff, 5e-5);  // logits reach ~21 here: float32 rounding of sums in another order
  with_grad.pow(2).mean().backward();
  for (const auto& p : lm->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    const double total = p.value().grad().abs().sum().item<double>();
    EXPECT_GT(total, 0) << p.key();
  }
}
