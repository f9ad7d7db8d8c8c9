// `attune train`: runs a recipe (recipe.h) to a model directory the runtime loads (docs/training.md).
//
//   train::TrainResult r = train::run_training(train::load_recipe("recipes/smoke-stage0.json"), {});
//
// The run directory (recipe.out) receives:
//   recipe.json             the recipe as run (after --set overrides)
//   metrics.jsonl           one JSON line per logged step and per validation
//   loss.svg                the loss curves
//   checkpoints/step-NNNNNNNN/  a loadable model directory plus trainer_state.json, trainable.safetensors
//                           (fp32 trained parameters) and optimizer.pt; written under a temporary name and
//                           renamed, then named in checkpoints/latest, so a kill never leaves a torn one
//   final/                  the model directory of the last step (model.save_dtype)
// A resumed run (--resume RUN_DIR or a checkpoint directory) continues with the same next batch and
// reproduces the uninterrupted run's losses. Torch-free header.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>

#include "train/recipe.h"

namespace attune::train {

struct TrainOptions {
  std::filesystem::path resume;  // a run directory (its latest checkpoint) or one checkpoint directory
  bool progress = true;
  int threads = 0;  // 0: recipe.threads, else all cores
  // > 0: end the run after this step (evaluation, checkpoint and final/ as at the last step) while the
  // learning-rate schedule still spans recipe.steps, so a run stopped early is reproducible.
  int64_t stop_at_step = 0;
};

struct TrainResult {
  std::filesystem::path final_dir;
  int64_t steps = 0, tokens = 0;
  double first_valid_loss = NAN, last_valid_loss = NAN, last_train_loss = NAN;
  double tokens_per_second = 0;
};

TrainResult run_training(const Recipe& recipe, const TrainOptions& options = {});

}  // namespace attune::train
