#include "train/trainer.h"

#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>

#include <malloc.h>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include <spdlog/spdlog.h>
#include "attune/error.h"
#include "common/file_util.h"
#include "common/progress.h"
#include "data/batches.h"
#include "data/shards.h"
#include "io/safetensors.h"
#include "model/spoken_language_model.h"
#include "model/style_head.h"
#include "model/torch_error.h"
#include "model/weights.h"
#include "text/tokenizer.h"
#include "train/autocast.h"
#include "train/batch.h"
#include "train/distributed.h"
#include "train/encoder_pretrain.h"
#include "train/metrics.h"
#include "train/run_support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace attune::train {
namespace {

// A shard directory given directly or as the build directory that holds shards/.
fs::path shard_dir(const fs::path& p) {
  if (fs::exists(p / "shards" / data::kShardIndexName)) return p / "shards";
  return p;
}

fs::path tokenizer_file(const fs::path& p) { return fs::is_directory(p) ? p / "tokenizer.json" : p; }

// Shards must have been rendered with this tokenizer (and, for audio, this encoder and adapter).
void check_shards(const data::ShardSet& shards, const fs::path& dir, const text::Tokenizer& tokenizer,
                  const fs::path& tokenizer_path) {
  const json& index = shards.index();
  const fs::path file = dir / data::kShardIndexName;
  const std::string want = text::fingerprint(tokenizer);
  const int64_t vocab = index.value("vocab_size", int64_t{-1});
  const std::string have = index.value("tokenizer_fingerprint", std::string());
  if ((!have.empty() && have != want) || (have.empty() && vocab != tokenizer.vocab_size())) {
    throw InputError(file.string() + ": the shards were rendered with another tokenizer (" +
                     index.value("tokenizer", std::string("?")) + ", vocabulary " + std::to_string(vocab) +
                     ") than model.tokenizer " + tokenizer_path.string() + " (vocabulary " +
                     std::to_string(tokenizer.vocab_size()) + "); re-render them with `attune data shards " +
                     dir.parent_path().string() + " --tokenizer " + tokenizer_path.string() + "`");
  }
  if (shards.size() == 0) throw InputError(file.string() + ": the shard set has no records");
}

struct Models {
  model::LanguageModel lm{nullptr};
  model::SpokenLanguageModel slm{nullptr};
  model::StyleHead style_head{nullptr};
  model::LanguageModelImpl& language_model() { return lm ? *lm : slm->language_model(); }
};

Models build_models(const Recipe& r, const text::Tokenizer& tokenizer, at::Device device) {
  Models m;
  torch::manual_seed(r.seed);
  if (r.stage == 0) {
    if (!r.from.empty()) {
      m.lm = model::LanguageModel(model::LanguageModelImpl::from_pretrained(r.from));
    } else {
      io::LanguageModelConfig c =
          io::parse_language_model_config(r.language_model, r.source.string() + ": model.language_model");
      m.lm = model::LanguageModel(c, model::InitOptions{.random = true});
    }
  } else {
    m.slm = model::SpokenLanguageModel(build_spoken_model(r));
  }
  if (r.stage == 2) {
    auto head = model::StyleHeadImpl::from_pretrained(r.from, m.slm->config().style_head);
    m.style_head = head ? model::StyleHead(head) : model::StyleHead(m.slm->config().style_head);
  } else if (r.stage == 1 && !r.from.empty()) {
    // Stage 1 does not train the speech-style head, but a `from` that has one keeps it: the saved
    // model must carry the weights its config.json announces.
    if (auto head = model::StyleHeadImpl::from_pretrained(r.from, m.slm->config().style_head))
      m.style_head = model::StyleHead(head);
  }
  const int64_t lm_vocab = m.language_model().config().vocab_size;
  if (lm_vocab < tokenizer.vocab_size()) {
    throw ConfigError(r.source.string() + ": the language model's vocab_size (" + std::to_string(lm_vocab) +
                      ") is smaller than the tokenizer's (" + std::to_string(tokenizer.vocab_size()) + ")");
  }
  if (m.lm) m.lm->to(device);
  if (m.slm) m.slm->to(device);
  if (m.style_head) m.style_head->to(device);
  return m;
}

// The parameters that train, with unique names ("language_model.model.layers.0...", "adapter...").
std::vector<std::pair<std::string, at::Tensor>> select_trainable(const Recipe& r, Models& m) {
  auto wants = [&](const char* part) { return std::find(r.parts.begin(), r.parts.end(), part) != r.parts.end(); };
  std::vector<std::pair<std::string, torch::nn::Module*>> parts;
  if (m.lm) parts.emplace_back("language_model", m.lm.get());
  if (m.slm) {
    parts.emplace_back("encoder", &m.slm->encoder());
    parts.emplace_back("adapter", &m.slm->adapter());
    parts.emplace_back("language_model", &m.slm->language_model());
  }
  if (m.style_head) parts.emplace_back("style_head", m.style_head.get());
  for (auto& [name, module] : parts) {
    for (auto& p : module->parameters()) p.set_requires_grad(false);
  }
  if (r.lora.rank > 0) {
    int64_t adapted = 0;
    for (auto& item : m.language_model().named_modules()) {
      auto* proj = dynamic_cast<model::ProjectionImpl*>(item.value().get());
      if (!proj) continue;
      const std::string& key = item.key();
      const std::string last = key.substr(key.rfind('.') + 1);
      if (std::find(r.lora.targets.begin(), r.lora.targets.end(), last) == r.lora.targets.end()) continue;
      proj->enable_lora(r.lora.rank, r.lora.alpha);
      ++adapted;
    }
    if (adapted == 0) throw ConfigError(r.source.string() + ": train.lora.targets match no projection of the model");
  }
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (auto& [name, module] : parts) {
    if (!wants(name.c_str())) continue;
    for (auto& item : module->named_parameters()) {
      const std::string& key = item.key();
      if (name == "language_model" && r.lora.rank > 0 && key.find("lora_") == std::string::npos) continue;
      if (name == "encoder") {
        if (key.find("embed_positions") != std::string::npos) continue;  // Whisper's fixed sinusoids
        if (r.freeze_encoder_layers > 0) {
          if (key.rfind("conv", 0) == 0) continue;
          if (key.rfind("layers.", 0) == 0 && std::stoll(key.substr(7)) < r.freeze_encoder_layers) continue;
        }
      }
      at::Tensor p = item.value();
      p.set_requires_grad(true);
      out.emplace_back(name + "." + key, p);
    }
  }
  if (out.empty()) throw ConfigError(r.source.string() + ": train.parts leaves nothing to train");
  return out;
}

struct StepLosses {
  at::Tensor total;
  double ce = 0, kl = 0, style = 0, consistency = 0;
  int64_t targets = 0, correct = 0, styles = 0, style_correct = 0;
};

at::Tensor select_rows(const at::Tensor& hidden, const at::Tensor& positions) {
  return hidden.reshape({-1, hidden.size(-1)}).index_select(0, positions.to(hidden.device()));
}

StepLosses compute_losses(const Recipe& r, Models& m, const Batch& b, at::Device device) {
  StepLosses out;
  model::LanguageModelImpl& lm = m.language_model();
  const at::Tensor targets = b.targets.to(device);
  out.targets = targets.numel();
  at::Tensor hidden;
  if (r.stage == 0) {
    hidden = lm.forward(b.ids.to(device), {.attention_mask = b.attention_mask.to(device), .skip_logits = true})
                 .last_hidden_state;
  } else {
    model::SlmInputs in = m.slm->prepare(b.examples);
    hidden = lm.forward_embeds(in.inputs_embeds, {.attention_mask = in.attention_mask, .skip_logits = true})
                 .last_hidden_state;
  }
  const at::Tensor logits = lm.logits_from_hidden(select_rows(hidden, b.target_positions)).to(at::kFloat);
  at::Tensor ce = at::cross_entropy_loss(logits, targets);
  at::Tensor total = ce * r.ce_weight;
  out.ce = ce.item<double>();
  out.correct = logits.argmax(-1).eq(targets).sum().item<int64_t>();

  if (r.stage == 1 && r.kl_weight > 0) {
    at::Tensor teacher_logits;
    {
      at::NoGradGuard no_grad;
      at::Tensor th =
          lm.forward(b.teacher_ids.to(device), {.attention_mask = b.teacher_mask.to(device), .skip_logits = true})
              .last_hidden_state;
      teacher_logits = lm.logits_from_hidden(select_rows(th, b.teacher_positions)).to(at::kFloat);
    }
    const double t = r.kl_temperature;
    at::Tensor log_student = at::log_softmax(logits / t, -1);
    at::Tensor log_teacher = at::log_softmax(teacher_logits / t, -1);
    at::Tensor kl = (log_teacher.exp() * (log_teacher - log_student)).sum(-1).mean() * (t * t);
    total = total + kl * r.kl_weight;
    out.kl = kl.item<double>();
  }

  if (r.stage == 2 && b.style_positions.numel() > 0 && (r.style_weight > 0 || r.consistency_weight > 0)) {
    const at::Tensor emotion = b.style_emotion.to(device);
    model::StyleHeadOutput voice = m.style_head->forward(select_rows(hidden, b.style_positions));
    at::Tensor style = at::cross_entropy_loss(voice.emotion_logits, emotion) +
                       at::mse_loss(voice.attributes, b.style_attributes.to(device));
    out.styles = emotion.numel();
    out.style_correct = voice.emotion_logits.argmax(-1).eq(emotion).sum().item<int64_t>();
    if (b.reply_positions.numel() > 0) {
      // The reply text's own emotion: the head on the mean of the reply's hidden states.
      const int64_t s = emotion.numel();
      const at::Tensor owner = b.reply_owner.to(device);
      at::Tensor rows = select_rows(hidden, b.reply_positions).to(at::kFloat);
      at::Tensor sums = at::zeros({s, rows.size(1)}, rows.options()).index_add(0, owner, rows);
      at::Tensor counts = at::bincount(owner, {}, s).to(at::kFloat);
      at::Tensor has_reply = counts.gt(0);
      at::Tensor pooled = sums / counts.clamp_min(1).unsqueeze(1);
      model::StyleHeadOutput text = m.style_head->forward(pooled);
      at::Tensor text_ce = at::cross_entropy_loss(text.emotion_logits, emotion, {}, at::Reduction::None);
      style = style + (text_ce * has_reply).sum() / has_reply.sum().clamp_min(1);
      // Jensen-Shannon divergence between the voice's and the text's emotion distributions.
      at::Tensor lv = at::log_softmax(voice.emotion_logits, -1), lt = at::log_softmax(text.emotion_logits, -1);
      at::Tensor lm_mix = at::log((lv.exp() + lt.exp()) * 0.5 + 1e-12);
      at::Tensor js = 0.5 * ((lv.exp() * (lv - lm_mix)).sum(-1) + (lt.exp() * (lt - lm_mix)).sum(-1));
      at::Tensor consistency = (js * has_reply).sum() / has_reply.sum().clamp_min(1);
      total = total + consistency * r.consistency_weight;
      out.consistency = consistency.item<double>();
    }
    total = total + style * r.style_weight;
    out.style = style.item<double>();
  }
  out.total = total;
  return out;
}

class Run {
 public:
  Run(const Recipe& recipe, const TrainOptions& options);
  TrainResult train();

 private:
  void save_model_dir(const fs::path& dir, io::Dtype dtype) const;
  void save_checkpoint(int64_t step);
  int64_t resume_from(const fs::path& where);
  json evaluate();
  std::vector<int64_t> next_micro_batch();
  // One optimiser step at learning rate `lr`: every micro-batch's losses and gradients, averaged over
  // the ranks, clipped, applied. Returns the losses summed over the micro-batches and the gradient norm.
  struct StepOutcome {
    double total = 0, grad_norm = 0;
    StepLosses sum;
    int64_t tokens = 0;
  };
  StepOutcome optimise(int64_t step, double lr, const std::vector<at::Tensor>& params);

  const Recipe& r_;
  TrainOptions options_;
  DistributedEnv env_;
  std::unique_ptr<Communicator> comm_;
  at::Device device_{at::kCPU};
  fs::path tokenizer_path_;
  text::Tokenizer tokenizer_;
  std::optional<data::ShardSet> train_set_, valid_set_;
  std::unique_ptr<data::BatchPlanner> planner_;
  std::vector<std::vector<int64_t>> eval_batches_;
  Models models_;
  std::vector<std::pair<std::string, at::Tensor>> trainable_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::unique_ptr<BatchMaker> maker_;
  std::unique_ptr<MetricsLog> log_;
  int64_t tokens_ = 0;
  double elapsed_before_ = 0;
  CheckpointWriter checkpoints_;
};

Run::Run(const Recipe& recipe, const TrainOptions& options)
    : r_(recipe),
      options_(options),
      env_(distributed_env_from_environment()),
      tokenizer_path_(tokenizer_file(recipe.tokenizer)),
      tokenizer_(text::Tokenizer::load(tokenizer_path_)),
      checkpoints_(recipe.out, recipe.keep_checkpoints) {
  const int threads = options.threads > 0 ? options.threads : recipe.threads;
  if (threads > 0) at::set_num_threads(threads);
  device_ = pick_device(r_.device, env_.local_rank);
  // Debian's libtorch 1.13 with oneDNN enabled gave run-to-run different results (and at random
  // 1e28 gradients) in the speech encoder's backward on this CPU, in float32 and bf16; without it the
  // same run is bit-for-bit repeatable. So oneDNN is off whenever the speech encoder trains or carries
  // gradients (stages 1, 2) and for float32; stage 0 in bf16 keeps it (its AMX matrix products).
  if (device_.is_cpu() && (r_.precision == "fp32" || r_.stage > 0)) at::globalContext().setUserEnabledMkldnn(false);
  if (device_.is_cpu() && r_.precision == "bf16" && r_.stage > 0) {
    spdlog::warn(
        "precision bf16 on the CPU in stage {}: without oneDNN, bf16 matrix products run ~6x slower than "
        "float32 here; precision fp32 is faster",
        r_.stage);
  }

  const fs::path train_dir = shard_dir(r_.train_data);
  for (const fs::path& dir : {train_dir, r_.valid_data.empty() ? train_dir : shard_dir(r_.valid_data)}) {
    if (!fs::exists(dir / data::kShardIndexName)) {
      throw InputError(dir.string() + ": no training shards here (no " + data::kShardIndexName +
                       "); build them with `attune data build --corpus ... --voices --tokenizer " +
                       r_.tokenizer.string() + " --out " + dir.string() + "`");
    }
  }
  train_set_.emplace(data::ShardSet::open(train_dir));
  check_shards(*train_set_, train_dir, tokenizer_, tokenizer_path_);
  if (!r_.valid_data.empty()) {
    const fs::path valid_dir = shard_dir(r_.valid_data);
    valid_set_.emplace(data::ShardSet::open(valid_dir));
    check_shards(*valid_set_, valid_dir, tokenizer_, tokenizer_path_);
  }

  models_ = build_models(r_, tokenizer_, device_);
  if (models_.slm) {
    const json& index = train_set_->index();
    const auto& cfg = models_.slm->config();
    const int64_t n_mels = index.value("n_mels", int64_t{0}), stride = index.value("adapter_stride", int64_t{0});
    if (n_mels != cfg.encoder.config.num_mel_bins || stride != cfg.adapter.stride) {
      throw InputError((train_dir / data::kShardIndexName).string() + ": the shards have " + std::to_string(n_mels) +
                       " mel bins and adapter stride " + std::to_string(stride) + ", the model " +
                       std::to_string(cfg.encoder.config.num_mel_bins) + " and " + std::to_string(cfg.adapter.stride) +
                       "; rebuild them for this model");
    }
  }
  maker_ = std::make_unique<BatchMaker>(r_.stage, tokenizer_,
                                        models_.slm ? models_.slm->config().style_head : io::StyleHeadConfig{});
  const std::string view = maker_->planning_view();
  std::vector<int64_t> lengths = train_set_->lengths(view);
  if (std::all_of(lengths.begin(), lengths.end(), [](int64_t n) { return n == 0; })) {
    throw InputError(train_dir.string() + ": no record has an " + view + " view (build the data with --voices)");
  }
  std::vector<double> weights;
  if (!r_.corpus_weights.uniform()) {
    const std::vector<std::string> ids = train_set_->dialogue_ids();
    weights = r_.corpus_weights.per_record(ids);
    for (const auto& [corpus, s] : data::corpus_shares(ids, lengths, r_.corpus_weights)) {
      spdlog::info("data.corpus_weights: {} x{:g}: {:.1f}% of the {} tokens -> {:.1f}% of each epoch", corpus, s.weight,
                   100 * s.share, view, 100 * s.weighted_share);
    }
  }
  planner_ = std::make_unique<data::BatchPlanner>(
      lengths, data::BatchOptions{.max_tokens = r_.batch_tokens, .seed = r_.seed}, std::move(weights));
  if (valid_set_) {
    std::vector<int64_t> vl = valid_set_->lengths(view);
    if (std::any_of(vl.begin(), vl.end(), [](int64_t n) { return n > 0; })) {
      data::BatchPlanner fixed(vl, {.max_tokens = r_.batch_tokens, .seed = r_.seed, .shuffle = false});
      const int64_t n = std::min<int64_t>(r_.eval_batches, fixed.batches_in_epoch());
      for (int64_t i = 0; i < n; ++i) eval_batches_.push_back(fixed.next());
    }
  }

  trainable_ = select_trainable(r_, models_);
  optimizer_ = make_adamw(r_, trainable_);

  comm_ = std::make_unique<Communicator>(env_);
  std::vector<at::Tensor> params;
  for (auto& [name, p] : trainable_) params.push_back(p);
  comm_->broadcast_from_rank0(params);
}

std::vector<int64_t> Run::next_micro_batch() {
  // Every rank walks the same plan; rank k takes every world_size-th batch.
  std::vector<int64_t> mine;
  for (int k = 0; k < env_.world_size; ++k) {
    std::vector<int64_t> b = planner_->next();
    if (k == env_.rank) mine = std::move(b);
  }
  return mine;
}

void Run::save_model_dir(const fs::path& dir, io::Dtype dtype) const {
  if (models_.lm) {
    models_.lm->save_pretrained(dir, dtype);
  } else {
    models_.slm->save_pretrained(dir, {.dtype = dtype,
                                       .include_path_components = true,
                                       .style_head = models_.style_head ? models_.style_head.get() : nullptr});
  }
  fs::copy_file(tokenizer_path_, dir / "tokenizer.json", fs::copy_options::overwrite_existing);
}

void Run::save_checkpoint(int64_t step) {
  if (env_.rank != 0) return;
  json state = {{"step", step},
                {"stage", r_.stage},
                {"planner", planner_->state()},
                {"tokens", tokens_},
                {"elapsed_s", elapsed_before_},
                {"world_size", env_.world_size},
                {"recipe", r_.resolved}};
  checkpoints_.write(
      step, [&](const fs::path& dir) { save_model_dir(dir, io::Dtype::kF32); }, trainable_, *optimizer_, state);
}

int64_t Run::resume_from(const fs::path& where) {
  fs::path dir;
  json state = read_checkpoint(where, r_.stage, env_.world_size, trainable_, *optimizer_, dir);
  planner_->restore(state.at("planner"));
  tokens_ = state.value("tokens", int64_t{0});
  elapsed_before_ = state.value("elapsed_s", 0.0);
  checkpoints_.set_last(dir);
  return state.at("step").get<int64_t>();
}

json Run::evaluate() {
  json out;
  if (eval_batches_.empty()) return out;
  at::NoGradGuard no_grad;
  double loss = 0, ce = 0, kl = 0, style = 0;
  int64_t targets = 0, correct = 0, styles = 0, style_correct = 0;
  for (const auto& indices : eval_batches_) {
    Batch b = maker_->make(*valid_set_, indices);
    Autocast autocast(r_.precision == "bf16", device_);
    StepLosses s = compute_losses(r_, models_, b, device_);
    loss += s.total.item<double>();
    ce += s.ce, kl += s.kl, style += s.style;
    targets += s.targets, correct += s.correct, styles += s.styles, style_correct += s.style_correct;
  }
  const double n = static_cast<double>(eval_batches_.size());
  out["valid_loss"] = loss / n;
  out["valid_ce"] = ce / n;
  out["valid_token_accuracy"] = targets ? static_cast<double>(correct) / targets : 0.0;
  if (r_.stage == 1) out["valid_kl"] = kl / n;
  if (r_.stage == 2) {
    out["valid_style_loss"] = style / n;
    out["valid_style_accuracy"] = styles ? static_cast<double>(style_correct) / styles : 0.0;
  }
  return out;
}

Run::StepOutcome Run::optimise(int64_t step, double lr, const std::vector<at::Tensor>& params) {
  StepOutcome o;
  StepLosses& sum = o.sum;
  double& total = o.total;
  int64_t& run_tokens = o.tokens;
  for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  optimizer_->zero_grad();
  for (int64_t micro = 0; micro < r_.grad_accum; ++micro) {
    Batch b = maker_->make(*train_set_, next_micro_batch());
    StepLosses s;
    {
      Autocast autocast(r_.precision == "bf16", device_);
      s = compute_losses(r_, models_, b, device_);
    }
    const double value = s.total.item<double>();
    if (!std::isfinite(value)) {
      throw Error("step " + std::to_string(step + 1) + ": the loss is " + std::to_string(value) + " (cross-entropy " +
                  std::to_string(s.ce) + "); training stopped. " +
                  (checkpoints_.last().empty() ? std::string("No checkpoint was written yet")
                                               : "The last good checkpoint is " + checkpoints_.last().string()) +
                  " (try a lower optim.lr, or precision fp32)");
    }
    (s.total / static_cast<double>(r_.grad_accum)).backward();
    total += value;
    sum.ce += s.ce, sum.kl += s.kl, sum.style += s.style, sum.consistency += s.consistency;
    run_tokens += b.tokens;
  }
  std::vector<at::Tensor> grads;
  for (auto& p : params) {
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad());
  }
  // Logged losses are the mean over every rank's micro-batches, as one process would see them.
  at::Tensor logged = at::tensor({total, sum.ce, sum.kl, sum.style, sum.consistency}, at::kDouble).to(at::kFloat);
  grads.push_back(logged);
  comm_->average(grads);
  grads.pop_back();
  if (env_.enabled()) {
    total = logged[0].item<double>(), sum.ce = logged[1].item<double>(), sum.kl = logged[2].item<double>();
    sum.style = logged[3].item<double>(), sum.consistency = logged[4].item<double>();
  }
  const double grad_norm = r_.clip_norm > 0 ? torch::nn::utils::clip_grad_norm_(params, r_.clip_norm)
                                            : at::stack([&] {
                                                std::vector<at::Tensor> n;
                                                for (auto& g : grads) n.push_back(g.norm());
                                                return n;
                                              }())
                                                  .norm()
                                                  .item<double>();
  if (!std::isfinite(grad_norm)) {
    throw Error("step " + std::to_string(step + 1) + ": the gradient norm is " + std::to_string(grad_norm) +
                "; training stopped. " +
                (checkpoints_.last().empty() ? std::string("No checkpoint was written yet")
                                             : "The last good checkpoint is " + checkpoints_.last().string()));
  }
  optimizer_->step();
  o.grad_norm = grad_norm;
  return o;
}

TrainResult Run::train() {
  TrainResult result;
  const bool lead = env_.rank == 0;
  int64_t start = 0;
  if (!options_.resume.empty()) {
    start = resume_from(options_.resume);
  } else if (fs::exists(r_.out / "checkpoints" / "latest")) {
    throw ConfigError(r_.out.string() + " already holds a run's checkpoints: continue it with --resume " +
                      r_.out.string() + ", or choose another out");
  }
  if (lead) log_ = open_run_directory(r_, options_.resume.empty() ? -1 : start);
  const std::string title = r_.name + " (stage " + std::to_string(r_.stage) + ")";
  auto eval_and_log = [&](int64_t step) {
    if (!lead) return;
    json e = evaluate();
    if (e.empty()) return;
    record_validation(*log_, e, step, result);
    spdlog::info("step {}: valid loss {:.4f}, token accuracy {:.3f}", step, e["valid_loss"].get<double>(),
                 e["valid_token_accuracy"].get<double>());
  };
  if (start == 0) eval_and_log(0);

  StopSignals stop;
  common::Progress bar(title, r_.steps - start, "steps", {.live = options_.progress ? -1 : 0});
  const auto t0 = std::chrono::steady_clock::now();
  int64_t run_tokens = 0;
  int64_t step = start;
  std::vector<at::Tensor> params;
  for (auto& [name, p] : trainable_) params.push_back(p);
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };

  const int64_t end_step = options_.stop_at_step > 0 ? std::min(options_.stop_at_step, r_.steps) : r_.steps;
  while (step < end_step) {
    const double lr = learning_rate(r_, step);
    const StepOutcome o = optimise(step, lr, params);
    const StepLosses& sum = o.sum;
    const double total = o.total, grad_norm = o.grad_norm;
    run_tokens += o.tokens;
    ++step;
    const double a = static_cast<double>(r_.grad_accum);
    const double loss = total / a;
    result.last_train_loss = loss;
    bar.advance();
    const double tps = run_tokens * env_.world_size / std::max(1e-9, elapsed());
    char postfix[96];
    std::snprintf(postfix, sizeof postfix, "loss %.4f lr %.2e %.0f tok/s", loss, lr, tps);
    bar.set_postfix(postfix);
    if (lead && (step % r_.log_interval == 0 || step == r_.steps)) {
      json line = {{"step", step},           {"loss", loss},
                   {"ce", sum.ce / a},       {"lr", lr},
                   {"grad_norm", grad_norm}, {"tokens", tokens_ + run_tokens * env_.world_size},
                   {"tokens_per_s", tps},    {"elapsed_s", elapsed_before_ + elapsed()}};
      if (r_.stage == 1) line["kl"] = sum.kl / a;
      if (r_.stage == 2) line["style"] = sum.style / a, line["consistency"] = sum.consistency / a;
      log_->write(line);
    }
    const bool last = step == end_step;
    if ((r_.eval_interval > 0 && step % r_.eval_interval == 0) || last) eval_and_log(step);
    if ((r_.checkpoint_interval > 0 && step % r_.checkpoint_interval == 0) || last || stop.requested()) {
      const int64_t saved_tokens = tokens_;
      const double saved_elapsed = elapsed_before_;
      tokens_ += run_tokens * env_.world_size;
      elapsed_before_ += elapsed();
      save_checkpoint(step);
      tokens_ = saved_tokens, elapsed_before_ = saved_elapsed;
      if (lead) write_loss_plot(read_metrics(r_.out / "metrics.jsonl"), r_.out / "loss.svg", title);
    }
    if (stop.requested()) {
      bar.finish();
      throw Error("interrupted at step " + std::to_string(step) + "; resume with --resume " + r_.out.string());
    }
  }
  bar.finish();
  comm_->barrier();

  result.steps = step;
  result.tokens = tokens_ + run_tokens * env_.world_size;
  result.tokens_per_second = run_tokens * env_.world_size / std::max(1e-9, elapsed());
  result.final_dir = r_.out / "final";
  if (lead) {
    write_final_directory(
        r_.out,
        [&](const fs::path& dir) { save_model_dir(dir, r_.save_dtype == "bf16" ? io::Dtype::kBF16 : io::Dtype::kF32); },
        title);
  }
  return result;
}

}  // namespace

TrainResult run_training(const Recipe& recipe, const TrainOptions& options) {
  // Every step frees and reallocates the same large activations; glibc would hand them back to the
  // kernel and fault them in again each time (a third of the smoke run's time went to the kernel).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
  if (recipe.stage == kEncoderStage) return run_encoder_pretraining(recipe, options);
  return model::with_torch_context("training", [&] {
    Run run(recipe, options);
    return run.train();
  });
}

}  // namespace attune::train
