// What every training stage's run shares: its device, and atomic checkpoints (docs/training.md,
// "Checkpoints"):
//   <run>/checkpoints/step-NNNNNNNN/  a loadable model directory + trainable.safetensors (fp32 trained
//                                     parameters) + optimizer.pt + trainer_state.json
//   <run>/checkpoints/latest          the newest step's name
// A checkpoint is written under a temporary name and renamed, so a kill never leaves a torn one.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/trainer.h"

namespace torch::optim {
class Optimizer;
class AdamW;
}  // namespace torch::optim

namespace attune::model {
class SpokenLanguageModelImpl;
}

namespace attune::train {

struct Recipe;
class MetricsLog;
using NamedParameters = std::vector<std::pair<std::string, at::Tensor>>;

// SIGINT / SIGTERM ask the run to stop after the current step (a checkpoint is written first); the
// previous handlers come back when the guard ends.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  bool requested() const;

 private:
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

// AdamW over `trainable` with the recipe's settings; matrices decay, vectors (biases, norms) do not.
std::unique_ptr<torch::optim::AdamW> make_adamw(const Recipe& recipe, const NamedParameters& trainable);

// Appends a validation line (with its step) and keeps the run's first and last validation loss.
void record_validation(MetricsLog& log, nlohmann::json& line, int64_t step, TrainResult& result);

// Makes the run directory and writes recipe.json; a fresh run (resumed_at < 0) starts a new
// metrics.jsonl, a resumed one keeps its lines up to `resumed_at`.
std::unique_ptr<MetricsLog> open_run_directory(const Recipe& recipe, int64_t resumed_at);

// Writes <run>/final with save_model into a temporary directory renamed at the end (a kill never
// leaves a torn final/), and redraws loss.svg. Returns the final directory.
std::filesystem::path write_final_directory(const std::filesystem::path& run_dir,
                                            const std::function<void(const std::filesystem::path&)>& save_model,
                                            const std::string& title);

// The composite a stage 1/2 or encoder recipe starts from: model.from (an attune_slm directory; its
// adapter may be untrained before stage 2) or model.slm (components given by path are loaded and
// then stored inline, so the result is one self-contained directory).
std::shared_ptr<model::SpokenLanguageModelImpl> build_spoken_model(const Recipe& recipe);

// "auto" (CUDA when available, else the CPU), "cpu", "cuda" or "cuda:N"; a device without an index
// gets `local_rank`. ConfigError when CUDA is asked for and missing.
at::Device pick_device(const std::string& name, int local_rank);

std::string checkpoint_step_name(int64_t step);

class CheckpointWriter {
 public:
  CheckpointWriter(std::filesystem::path run_dir, int64_t keep) : root_(run_dir / "checkpoints"), keep_(keep) {}
  // Writes step `step`: save_model(dir) fills the model directory; `state` becomes trainer_state.json.
  // IoError naming the step when anything fails (the previous checkpoint stays intact).
  void write(int64_t step, const std::function<void(const std::filesystem::path&)>& save_model,
             const NamedParameters& trainable, torch::optim::Optimizer& optimizer, const nlohmann::json& state);
  const std::filesystem::path& last() const { return last_; }
  void set_last(std::filesystem::path dir) { last_ = std::move(dir); }

 private:
  std::filesystem::path root_;
  int64_t keep_;
  std::filesystem::path last_;
};

// Loads a run directory's latest checkpoint (or one checkpoint directory) into `trainable` and
// `optimizer`, and returns its trainer_state.json; `dir` receives the checkpoint directory.
// InputError naming the file when it is missing, was written by another stage or number of
// processes, or holds other tensors.
nlohmann::json read_checkpoint(const std::filesystem::path& where, int stage, int world_size,
                               const NamedParameters& trainable, torch::optim::Optimizer& optimizer,
                               std::filesystem::path& dir);

}  // namespace attune::train
