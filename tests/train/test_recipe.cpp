// Recipes: every key checked, overrides, and the learning-rate schedule against hand-derived values.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "train/recipe.h"

using nlohmann::json;
using namespace attune;

namespace {

json stage0() {
  return json::parse(R"({
    "stage": 0, "out": "runs/x",
    "model": {"tokenizer": "tok.json",
              "language_model": {"model_type": "qwen2", "vocab_size": 512, "hidden_size": 64,
                                 "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                                 "num_key_value_heads": 2, "max_position_embeddings": 256}},
    "data": {"train": "shards"},
    "optim": {"lr": 1e-3, "warmup_steps": 10, "min_lr_ratio": 0.1},
    "steps": 110
  })");
}

std::string error_of(json j, std::vector<std::string> overrides = {}) {
  try {
    train::parse_recipe(std::move(j), "r.json", overrides);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Recipe, ParsesDefaultsAndOverrides) {
  train::Recipe r = train::parse_recipe(stage0(), "r.json", {"optim.lr=3e-4", "data.valid=vdir", "name=\"x y\""});
  EXPECT_EQ(r.stage, 0);
  EXPECT_DOUBLE_EQ(r.lr, 3e-4);
  EXPECT_EQ(r.valid_data, "vdir");
  EXPECT_EQ(r.name, "x y");
  EXPECT_EQ(r.parts, std::vector<std::string>{"language_model"});
  EXPECT_EQ(r.grad_accum, 1);
  EXPECT_EQ(r.precision, "fp32");
  EXPECT_DOUBLE_EQ(r.kl_weight, 0.0);
  EXPECT_EQ(r.resolved["optim"]["lr"], 3e-4);
}

TEST(Recipe, RejectsUnknownKeysWrongTypesAndImpossibleValues) {
  json j = stage0();
  j["optim"]["lrr"] = 1;
  EXPECT_NE(error_of(j).find("r.json: optim.lrr: unknown key"), std::string::npos) << error_of(j);
  j = stage0();
  j["stepz"] = 1;
  EXPECT_NE(error_of(j).find("stepz: unknown key"), std::string::npos);
  j = stage0();
  j["steps"] = "many";
  EXPECT_NE(error_of(j).find("steps: expected an integer"), std::string::npos);
  j = stage0();
  j["optim"]["lr"] = -1;
  EXPECT_NE(error_of(j).find("optim.lr: expected a number > 0"), std::string::npos);
  // 64 hidden over 3 heads is not a model.
  j = stage0();
  j["model"]["language_model"]["num_attention_heads"] = 3;
  EXPECT_NE(error_of(j).find("model.language_model"), std::string::npos) << error_of(j);
  j = stage0();
  j["optim"]["warmup_steps"] = 200;
  EXPECT_NE(error_of(j).find("warmup_steps: 200 is not below steps"), std::string::npos);
  j = stage0();
  j["stage"] = 1;
  EXPECT_NE(error_of(j).find("stage 1 needs exactly one of model.from"), std::string::npos) << error_of(j);
  j = stage0();
  j["model"]["language_model_from"] = "lm";
  EXPECT_NE(error_of(j).find("model.language_model_from: only for stages 1 and 2 with model.from"), std::string::npos)
      << error_of(j);
  j = stage0();
  j["train"] = {{"parts", {"encoder"}}};
  EXPECT_NE(error_of(j).find("stage 0 trains the language model only"), std::string::npos);
  j = stage0();
  j["loss"] = {{"kl", 1.0}};
  EXPECT_NE(error_of(j).find("loss.kl"), std::string::npos);
  j = stage0();
  j["precision"] = "fp8";
  EXPECT_NE(error_of(j).find("precision: expected one of fp32, bf16"), std::string::npos);
  j = stage0();
  j.erase("out");
  EXPECT_NE(error_of(j).find("out: missing"), std::string::npos);
  EXPECT_NE(error_of(stage0(), {"optim.lr"}).find("expected KEY=VALUE"), std::string::npos);
  j = stage0();
  j["model"]["words_in_prompt"] = true;
  EXPECT_NE(error_of(j).find("model.words_in_prompt: only for stages 1 and 2 with model.from"), std::string::npos)
      << error_of(j);
  j = stage0();
  j["model"]["words_in_prompt"] = "yes";
  EXPECT_NE(error_of(j).find("model.words_in_prompt: expected true or false, got \"yes\""), std::string::npos)
      << error_of(j);
}

TEST(Recipe, LearningRateFollowsWarmupThenCosine) {
  train::Recipe r = train::parse_recipe(stage0(), "r.json");
  // Warmup: lr * (step + 1) / warmup.
  EXPECT_NEAR(train::learning_rate(r, 0), 1e-4, 1e-15);
  EXPECT_NEAR(train::learning_rate(r, 9), 1e-3, 1e-15);
  // Cosine from lr at step 10 to lr * 0.1 at step 110; halfway (step 60) it is the mean.
  EXPECT_NEAR(train::learning_rate(r, 10), 1e-3, 1e-15);
  EXPECT_NEAR(train::learning_rate(r, 60), 0.55e-3, 1e-15);
  EXPECT_NEAR(train::learning_rate(r, 35), 1e-4 + 0.9e-3 * 0.5 * (1 + std::cos(M_PI * 0.25)), 1e-15);
  EXPECT_NEAR(train::learning_rate(r, 110), 1e-4, 1e-15);
  r.schedule = "linear";
  EXPECT_NEAR(train::learning_rate(r, 60), 0.55e-3, 1e-15);
  EXPECT_NEAR(train::learning_rate(r, 85), 1e-4 + 0.9e-3 * 0.25, 1e-15);
}
