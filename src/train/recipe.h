// Training recipes: one JSON file that says what to train, on which shards, how (docs/training.md).
//
//   train::Recipe r = train::load_recipe("recipes/smoke-stage0.json", {"steps=40", "out=runs/x"});
//
// Every key is checked: an unknown key, a wrong type or an impossible value is a ConfigError naming
// the file and the key path ("recipe.json: optim.lr: expected a number > 0, got -1"). Relative paths
// resolve against the current working directory, as command-line paths do.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/batches.h"

namespace attune::train {

struct LoraSpec {
  int64_t rank = 0;  // 0: no LoRA
  double alpha = 16;
  std::vector<std::string> targets = {"q_proj", "k_proj", "v_proj", "o_proj"};
};

// The encoder pre-training stage ("stage": "encoder"): direct losses on the speech encoder with no
// language model in the loop (docs/training.md, "Encoder pre-training").
inline constexpr int kEncoderStage = -1;

struct EncoderPretrainSpec {
  std::vector<std::filesystem::path> train_builds;     // data.train: data build directories (dialogues.jsonl)
  std::vector<std::filesystem::path> valid_builds;     // data.valid: the same for evaluation (may be empty)
  int64_t batch_clips = 24;                            // data.batch_clips: clips per step
  double max_clip_seconds = 12;                        // data.max_clip_seconds: longer clips are left out
  double real_share = 0.4;                             // data.real_share: of each batch, clips of recorded speech
  bool balance_classes = true;                         // data.balance_classes: synthetic clips drawn label first
  double augment_real = 0.9, augment_synthetic = 0.5;  // augment.real / augment.synthetic: chance per clip
  double ctc_weight = 1, emotion_weight = 1, intensity_weight = 0.5;  // loss.ctc / emotion / intensity
  double prosody_expert_loss = 1;                                     // loss.prosody_expert
  int64_t heads_hidden = 256;                                         // model.heads.hidden_size
  int64_t alphabet_min_count = 20;                                    // model.heads.alphabet_min_count
  double evidence_weight = 0;  // model.heads.evidence_weight: the new heads' config value (docs/runtime.md)
  // model.heads.prosody_expert_hidden / _weight: heads without a prosody expert get one of this size
  // (0: none), read with this weight (io::EncoderHeadsConfig). The weight is 0 until an expert beats
  // the head alone on valid: trained beside the head on augmented clips it has not (docs/training.md).
  int64_t prosody_expert_hidden = 64;
  double prosody_expert_weight = 0;
  // model.heads.ctc_layers: heads with fewer transcription blocks (io::EncoderHeadsConfig::ctc_layers)
  // get fresh ones up to this many; the blocks they have are kept.
  int64_t ctc_layers = 0;
  // model.heads.ctc_encoder: heads without a transcription encoder get one, a copy of the shared
  // encoder (io::EncoderHeadsConfig::ctc_encoder), so the first CER is the base model's.
  bool ctc_encoder = false;
  int64_t eval_clips = 400;  // eval.clips: fixed valid clips per evaluation
};

struct Recipe {
  std::filesystem::path source;  // the recipe file
  nlohmann::json resolved;       // the recipe as run: the file's JSON after the overrides

  int stage = 0;  // kEncoderStage, 0 text teacher, 1 speech alignment by self-distillation, 2 end-to-end
  std::string name;
  std::filesystem::path out;
  uint64_t seed = 1234;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  int threads = 0;              // 0: the --threads option / all cores

  // ---- model ----
  std::filesystem::path from;     // a model directory to start from (LM for stage 0, composite for 1/2)
  nlohmann::json language_model;  // stage 0 without `from`: an inline HF config (a fresh model)
  nlohmann::json slm;             // stage 1 without `from`: an attune_slm composite config
  // Stages 1/2 with `from`: an LM directory whose weights replace the composite's language model, so
  // encoder pre-training (which only carries the LM) can run beside stage 0 and take its result later.
  std::filesystem::path language_model_from;
  std::filesystem::path tokenizer;  // tokenizer.json or a directory holding one

  // ---- data ----
  std::filesystem::path train_data, valid_data;  // shard directories (or a build directory holding shards/)
  int64_t batch_tokens = 4096;                   // per micro-batch, padding included
  data::CorpusWeights corpus_weights;            // data.corpus_weights: records drawn per epoch, by corpus

  // ---- what trains ----
  std::vector<std::string> parts;  // of encoder, adapter, language_model, style_head
  int64_t freeze_encoder_layers = 0;
  LoraSpec lora;

  // ---- optimisation ----
  int64_t steps = 100;
  double lr = 1e-3, min_lr_ratio = 0.1, weight_decay = 0.01, beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  int64_t warmup_steps = 0;
  std::string schedule = "cosine";  // cosine | linear | constant (after warmup)
  int64_t grad_accum = 1;
  double clip_norm = 1.0;           // 0: no clipping
  std::string precision = "fp32";   // fp32 | bf16 (autocast; weights and optimiser stay fp32)
  std::string save_dtype = "fp32";  // dtype of the final model directory: fp32 | bf16
  // Stages 1 and 2 (model.words_in_prompt): set the model's encoder_heads.words_in_prompt, for data
  // whose audio view shows the CTC words beside the audio (`attune data transcribe`); unset: from's.
  std::optional<bool> words_in_prompt;

  // ---- losses ----
  double ce_weight = 1, kl_weight = 1, kl_temperature = 1, style_weight = 0.5, consistency_weight = 0.1;

  // ---- schedule of side jobs ----
  int64_t log_interval = 10, eval_interval = 50, eval_batches = 16, checkpoint_interval = 50, keep_checkpoints = 2;

  EncoderPretrainSpec pretrain;  // stage "encoder" only
};

// "encoder", "0", "1" or "2".
std::string stage_name(int stage);

// Reads `path`, applies `overrides` ("optim.lr=3e-4", "data.train=DIR": the value is JSON when it
// parses as JSON, else a string), validates and fills defaults.
Recipe load_recipe(const std::filesystem::path& path, const std::vector<std::string>& overrides = {});
// The same from JSON already in memory (`source` names it in errors).
Recipe parse_recipe(nlohmann::json json, const std::string& source, const std::vector<std::string>& overrides = {});

// The learning rate at optimiser step `step` (0-based): linear warmup to `lr` over warmup_steps, then
// the schedule down to lr * min_lr_ratio at `steps`.
double learning_rate(const Recipe& recipe, int64_t step);

}  // namespace attune::train
