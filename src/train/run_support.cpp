#include "train/run_support.h"

#include <torch/cuda.h>
#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdlib>

#include "attune/error.h"
#include "common/file_util.h"
#include "io/model_config.h"
#include "io/safetensors.h"
#include "model/spoken_language_model.h"
#include "model/weights.h"
#include "train/metrics.h"
#include "train/recipe.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace attune::train {

namespace {
std::atomic<bool> g_stop_requested{false};
extern "C" void on_stop_signal(int) { g_stop_requested = true; }
}  // namespace

StopSignals::StopSignals()
    : previous_int_(std::signal(SIGINT, on_stop_signal)), previous_term_(std::signal(SIGTERM, on_stop_signal)) {}

StopSignals::~StopSignals() {
  std::signal(SIGINT, previous_int_);
  std::signal(SIGTERM, previous_term_);
}

bool StopSignals::requested() const { return g_stop_requested; }

std::unique_ptr<torch::optim::AdamW> make_adamw(const Recipe& r, const NamedParameters& trainable) {
  std::vector<at::Tensor> decay, no_decay;
  for (const auto& [name, p] : trainable) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  auto adamw = [&](double wd) {
    return torch::optim::AdamWOptions(r.lr).betas({r.beta1, r.beta2}).eps(r.eps).weight_decay(wd);
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decay.empty()) groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(adamw(r.weight_decay)));
  if (!no_decay.empty()) groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(adamw(0.0)));
  return std::make_unique<torch::optim::AdamW>(groups, adamw(r.weight_decay));
}

void record_validation(MetricsLog& log, json& line, int64_t step, TrainResult& result) {
  line["step"] = step;
  log.write(line);
  if (std::isnan(result.first_valid_loss)) result.first_valid_loss = line["valid_loss"];
  result.last_valid_loss = line["valid_loss"];
}

std::unique_ptr<MetricsLog> open_run_directory(const Recipe& recipe, int64_t resumed_at) {
  fs::create_directories(recipe.out);
  common::write_file_atomically(recipe.out / "recipe.json", recipe.resolved.dump(2) + "\n");
  if (resumed_at < 0) {
    std::error_code ec;
    fs::remove(recipe.out / "metrics.jsonl", ec);
  }
  return std::make_unique<MetricsLog>(recipe.out / "metrics.jsonl", resumed_at);
}

fs::path write_final_directory(const fs::path& run_dir, const std::function<void(const fs::path&)>& save_model,
                               const std::string& title) {
  const fs::path final_dir = run_dir / "final", tmp = run_dir / "final.tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);
  save_model(tmp);
  fs::remove_all(final_dir, ec);
  fs::rename(tmp, final_dir);
  write_loss_plot(read_metrics(run_dir / "metrics.jsonl"), run_dir / "loss.svg", title);
  return final_dir;
}

at::Device pick_device(const std::string& name, int local_rank) {
  if (name == "cpu") return at::kCPU;
  if (name == "auto") {
    return torch::cuda::is_available() ? at::Device(at::kCUDA, static_cast<int8_t>(local_rank)) : at::Device(at::kCPU);
  }
  if (!torch::cuda::is_available())
    throw ConfigError("device " + name + ": this machine (or this libtorch) has no CUDA");
  at::Device d(name);
  if (!d.has_index()) d.set_index(static_cast<int8_t>(local_rank));
  return d;
}

std::shared_ptr<model::SpokenLanguageModelImpl> build_spoken_model(const Recipe& r) {
  if (!r.from.empty()) {
    auto slm = model::SpokenLanguageModelImpl::from_pretrained(
        r.from, {.allow_untrained_adapter = r.stage != 2, .words_in_prompt = r.words_in_prompt});
    if (!r.language_model_from.empty()) {
      model::load_weights(slm->language_model(), io::SafetensorsCheckpoint::open(r.language_model_from));
    }
    return slm;
  }
  json j = r.slm;
  j["model_type"] = io::kSlmModelType;
  io::SlmConfig c = io::parse_slm_config(j, r.source.string() + ": model.slm", fs::current_path());
  const fs::path lm_dir = c.language_model.dir, encoder_dir = c.encoder.dir;
  c.language_model.path.clear(), c.language_model.dir.clear();
  c.encoder.path.clear(), c.encoder.dir.clear();
  auto slm =
      std::make_shared<model::SpokenLanguageModelImpl>(c, model::SlmLoadOptions{}, /*random_init=*/lm_dir.empty());
  if (!lm_dir.empty()) model::load_weights(slm->language_model(), io::SafetensorsCheckpoint::open(lm_dir));
  if (!encoder_dir.empty()) model::load_weights(slm->encoder(), io::SafetensorsCheckpoint::open(encoder_dir));
  return slm;
}

std::string checkpoint_step_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step-%08lld", static_cast<long long>(step));
  return buf;
}

void CheckpointWriter::write(int64_t step, const std::function<void(const fs::path&)>& save_model,
                             const NamedParameters& trainable, torch::optim::Optimizer& optimizer, const json& state) {
  const fs::path final_dir = root_ / checkpoint_step_name(step), tmp = root_ / (checkpoint_step_name(step) + ".tmp");
  std::error_code ec;
  fs::remove_all(tmp, ec);
  try {
    fs::create_directories(tmp);
    save_model(tmp);
    // A test hook that stands for a full disk part-way through a checkpoint.
    if (const char* fail = std::getenv("ATTUNE_TEST_FAIL_CHECKPOINT_AT_STEP"); fail && std::atoll(fail) == step) {
      throw IoError((tmp / "optimizer.pt").string() + ": No space left on device");
    }
    std::vector<io::TensorToWrite> tensors;
    std::vector<at::Tensor> keep;
    for (const auto& [name, p] : trainable) {
      at::Tensor t = p.detach().to(at::kCPU, at::kFloat).contiguous();
      keep.push_back(t);
      tensors.push_back({name,
                         io::Dtype::kF32,
                         std::vector<int64_t>(t.sizes().begin(), t.sizes().end()),
                         {static_cast<const std::byte*>(t.data_ptr()), static_cast<size_t>(t.nbytes())}});
    }
    io::write_safetensors(tmp / "trainable.safetensors", std::move(tensors));
    torch::save(optimizer, (tmp / "optimizer.pt").string());
    common::write_file_atomically(tmp / "trainer_state.json", state.dump(2) + "\n");
    fs::remove_all(final_dir, ec);
    fs::rename(tmp, final_dir);
    common::write_file_atomically(root_ / "latest", checkpoint_step_name(step) + "\n");
  } catch (const std::exception& e) {
    fs::remove_all(tmp, ec);
    throw IoError("checkpoint at step " + std::to_string(step) + " failed: " + e.what() +
                  (last_.empty() ? std::string("; no earlier checkpoint exists")
                                 : "; the previous checkpoint " + last_.string() + " is intact"));
  }
  last_ = final_dir;
  // Keep the newest `keep_`.
  std::vector<fs::path> all;
  for (const auto& e : fs::directory_iterator(root_)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && n.rfind("step-", 0) == 0 && n.find(".tmp") == std::string::npos) all.push_back(e.path());
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i + static_cast<size_t>(keep_) < all.size(); ++i) fs::remove_all(all[i], ec);
}

json read_checkpoint(const fs::path& where, int stage, int world_size, const NamedParameters& trainable,
                     torch::optim::Optimizer& optimizer, fs::path& dir) {
  dir = where;
  if (fs::exists(where / "checkpoints" / "latest")) {
    std::string name = common::read_file(where / "checkpoints" / "latest");
    while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
    dir = where / "checkpoints" / name;
  }
  if (!fs::exists(dir / "trainer_state.json")) {
    throw InputError(where.string() +
                     ": not a run directory with checkpoints/latest, nor a checkpoint directory "
                     "(no trainer_state.json)");
  }
  json state = io::read_json_file(dir / "trainer_state.json");
  const fs::path state_file = dir / "trainer_state.json";
  const int written_stage = state.value("stage", -2);
  if (written_stage != stage) {
    auto name = [](int s) { return s == -1 ? std::string("encoder") : std::to_string(s); };
    throw InputError(state_file.string() + ": a stage " + name(written_stage) +
                     " checkpoint, but the recipe is stage " + name(stage));
  }
  if (state.value("world_size", 1) != world_size) {
    throw InputError(state_file.string() + ": written by " + std::to_string(state.value("world_size", 1)) +
                     " processes, resumed with " + std::to_string(world_size) + " (the batch order would differ)");
  }
  auto ckpt = io::SafetensorsCheckpoint::open(dir / "trainable.safetensors");
  at::NoGradGuard no_grad;
  for (const auto& [name, p] : trainable) {
    const io::TensorView* v = ckpt.find(name);
    if (!v) throw InputError((dir / "trainable.safetensors").string() + ": missing " + name + " (another recipe?)");
    at::Tensor dst = p.detach();
    model::copy_into(*v, dst, name, (dir / "trainable.safetensors").string());
  }
  if (ckpt.size() != trainable.size()) {
    throw InputError((dir / "trainable.safetensors").string() + ": holds " + std::to_string(ckpt.size()) +
                     " tensors, the recipe trains " + std::to_string(trainable.size()));
  }
  torch::load(optimizer, (dir / "optimizer.pt").string());
  return state;
}

}  // namespace attune::train
