// `attune train RECIPE [--resume DIR] [--set KEY=VALUE]...`: runs a training recipe (src/train,
// docs/training.md). Distributed runs take RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT from the
// environment, one process per rank.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>

#include "cli/command.h"
#include "common/progress.h"
#include "train/recipe.h"
#include "train/trainer.h"

namespace attune::cli {
namespace {

struct TrainCli {
  std::string recipe;
  std::string resume;
  std::vector<std::string> overrides;
  bool no_progress = false;
  int64_t stop_at_step = 0;
};

int run_train(const TrainCli& c) {
  train::Recipe recipe = train::load_recipe(c.recipe, c.overrides);
  train::TrainOptions options;
  options.resume = c.resume;
  options.progress = !c.no_progress;
  options.stop_at_step = c.stop_at_step;
  options.threads = global_options().threads;
  std::fprintf(stderr, "attune train: %s, stage %s, %lld steps -> %s\n", recipe.name.c_str(),
               train::stage_name(recipe.stage).c_str(), static_cast<long long>(recipe.steps),
               recipe.out.string().c_str());
  train::TrainResult r = train::run_training(recipe, options);
  const char* unit = recipe.stage == train::kEncoderStage ? "clips" : "tokens";
  std::printf("trained %lld steps (%lld %s, %.1f %s/s this run)\n", static_cast<long long>(r.steps),
              static_cast<long long>(r.tokens), unit, r.tokens_per_second, unit);
  if (!std::isnan(r.first_valid_loss)) {
    std::printf("validation loss %.4f -> %.4f\n", r.first_valid_loss, r.last_valid_loss);
  }
  std::printf("model: %s\nmetrics: %s\nloss curve: %s\n", r.final_dir.string().c_str(),
              (recipe.out / "metrics.jsonl").string().c_str(), (recipe.out / "loss.svg").string().c_str());
  return 0;
}

const bool registered = register_command(
    {"train", "Train a model from a recipe (stage encoder, 0, 1 or 2)", [](CLI::App& app) -> Action {
       auto c = std::make_shared<TrainCli>();
       app.add_option("recipe", c->recipe, "Recipe file (JSON; see recipes/ and docs/training.md)")->required();
       app.add_option(
           "--resume", c->resume,
           "Continue a killed or finished run: its run directory (latest checkpoint) or one checkpoint directory");
       app.add_option("--set", c->overrides, "Override a recipe key, e.g. --set optim.lr=3e-4 --set data.train=DIR")
           ->take_all();
       app.add_flag("--no-progress", c->no_progress, "Plain progress lines instead of a live bar");
       app.add_option("--stop-at-step", c->stop_at_step,
                      "End after this step (evaluation, checkpoint, final/) with the schedule still spanning the "
                      "recipe's steps")
           ->check(CLI::PositiveNumber);
       app.footer(
           "Distributed data parallel: start one process per rank with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT "
           "set\n"
           "(as torchrun does); rank 0 writes checkpoints and metrics.");
       return [c] { return run_train(*c); };
     }});

}  // namespace
}  // namespace attune::cli
