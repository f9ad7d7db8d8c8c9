#include "train/recipe.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "attune/error.h"
#include "common/json_brief.h"
#include "io/model_config.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace attune::train {
namespace {

// Reads one JSON object of the recipe, remembering which keys were read, so that anything left over
// is reported as unknown (a typo never silently falls back to a default).
class Section {
 public:
  Section(const json& object, std::string path, const std::string& source) : path_(std::move(path)), source_(source) {
    if (object.is_null()) {
      object_ = json::object();
      return;
    }
    if (!object.is_object()) fail(path_.empty() ? "the recipe" : path_, "expected an object");
    object_ = object;
  }

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw ConfigError(source_ + ": " + key + ": " + what);
  }
  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  const json* find(const std::string& key) {
    used_.insert(key);
    auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  double number(const std::string& key, double fallback, double min, double max, bool exclusive_min = false) {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_number()) fail(key_path(key), "expected a number, got " + common::json_brief(*v));
    const double x = v->get<double>();
    if (!std::isfinite(x) || x < min || x > max || (exclusive_min && x == min)) {
      fail(key_path(key), "expected a number " + std::string(exclusive_min ? "> " : ">= ") + fmt(min) +
                              (std::isinf(max) ? "" : " and <= " + fmt(max)) + ", got " + common::json_brief(*v));
    }
    return x;
  }
  int64_t integer(const std::string& key, int64_t fallback, int64_t min, int64_t max = INT64_MAX) {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_number_integer()) fail(key_path(key), "expected an integer, got " + common::json_brief(*v));
    const int64_t x = v->get<int64_t>();
    if (x < min || x > max) {
      fail(key_path(key), "expected an integer >= " + std::to_string(min) +
                              (max == INT64_MAX ? "" : " and <= " + std::to_string(max)) + ", got " +
                              common::json_brief(*v));
    }
    return x;
  }
  std::string string(const std::string& key, const std::string& fallback,
                     const std::vector<std::string>& allowed = {}) {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_string()) fail(key_path(key), "expected a string, got " + common::json_brief(*v));
    std::string s = v->get<std::string>();
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), s) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      fail(key_path(key), "expected one of " + list + ", got \"" + s + "\"");
    }
    return s;
  }
  std::optional<bool> boolean(const std::string& key) {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) fail(key_path(key), "expected true or false, got " + common::json_brief(*v));
    return v->get<bool>();
  }
  fs::path path(const std::string& key) {
    std::string s = string(key, "");
    return s.empty() ? fs::path() : fs::path(s);
  }
  std::vector<std::string> strings(const std::string& key, std::vector<std::string> fallback,
                                   const std::vector<std::string>& allowed) {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_array()) fail(key_path(key), "expected an array of strings, got " + common::json_brief(*v));
    std::vector<std::string> out;
    for (const json& item : *v) {
      if (!item.is_string()) fail(key_path(key), "expected an array of strings, got " + common::json_brief(*v));
      std::string s = item.get<std::string>();
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), s) == allowed.end()) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(key_path(key), "unknown entry \"" + s + "\" (expected some of " + list + ")");
      }
      out.push_back(std::move(s));
    }
    return out;
  }
  json raw(const std::string& key) {
    const json* v = find(key);
    return v ? *v : json();
  }
  Section section(const std::string& key) { return Section(raw(key), key_path(key), source_); }

  // Call after reading: every key not read is unknown.
  void finish() const {
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      if (used_.count(it.key())) continue;
      std::string known;
      for (const auto& k : used_) known += (known.empty() ? "" : ", ") + k;
      fail(key_path(it.key()), "unknown key (this section has: " + known + ")");
    }
  }

 private:
  static std::string fmt(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", x);
    return buf;
  }
  json object_;
  std::string path_;
  const std::string& source_;
  std::set<std::string> used_;
};

void apply_override(json& root, const std::string& assignment, const std::string& source) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("--set " + assignment + ": expected KEY=VALUE, e.g. optim.lr=3e-4");
  }
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;  // a bare string (a path, a name)
  json* node = &root;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty()) throw ConfigError("--set " + assignment + ": empty key component");
    if (!node->is_object()) *node = json::object();
    node = &(*node)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  *node = std::move(value);
  (void)source;
}

void parse_optim(Recipe& r, Section& top) {
  Section optim = top.section("optim");
  r.lr = optim.number("lr", 1e-3, 0, INFINITY, true);
  r.min_lr_ratio = optim.number("min_lr_ratio", 0.1, 0, 1);
  r.warmup_steps = optim.integer("warmup_steps", 0, 0);
  r.schedule = optim.string("schedule", "cosine", {"cosine", "linear", "constant"});
  r.weight_decay = optim.number("weight_decay", 0.01, 0, 10);
  const json betas = optim.raw("betas");
  if (!betas.is_null()) {
    if (!betas.is_array() || betas.size() != 2 || !betas[0].is_number() || !betas[1].is_number() ||
        betas[0].get<double>() < 0 || betas[0].get<double>() >= 1 || betas[1].get<double>() < 0 ||
        betas[1].get<double>() >= 1) {
      optim.fail("optim.betas", "expected two numbers in [0, 1), got " + common::json_brief(betas));
    }
    r.beta1 = betas[0];
    r.beta2 = betas[1];
  }
  r.eps = optim.number("eps", 1e-8, 0, 1, true);
  r.grad_accum = optim.integer("grad_accum", 1, 1, 4096);
  r.clip_norm = optim.number("clip_norm", 1.0, 0, INFINITY);
  optim.finish();
  if (r.warmup_steps >= r.steps && r.warmup_steps > 0) {
    optim.fail("optim.warmup_steps",
               std::to_string(r.warmup_steps) + " is not below steps (" + std::to_string(r.steps) + ")");
  }
}

void parse_checkpoint(Recipe& r, Section& top) {
  Section ckpt = top.section("checkpoint");
  r.checkpoint_interval = ckpt.integer("interval", 50, 0);
  r.keep_checkpoints = ckpt.integer("keep", 2, 1);
  ckpt.finish();
}

// Settings every stage shares: name, out, seed, device, threads, steps, precision, log_interval.
void parse_common(Recipe& r, Section& top) {
  r.name = top.string("name", "stage" + stage_name(r.stage));
  r.out = top.path("out");
  if (r.out.empty()) top.fail("out", "missing: the run directory (checkpoints, metrics, final model)");
  r.seed = static_cast<uint64_t>(top.integer("seed", 1234, 0));
  r.device = top.string("device", "auto");
  if (r.device != "auto" && r.device != "cpu" && r.device.rfind("cuda", 0) != 0) {
    top.fail("device", "expected auto, cpu, cuda or cuda:N, got \"" + r.device + "\"");
  }
  r.threads = static_cast<int>(top.integer("threads", 0, 0, 4096));
  r.steps = top.integer("steps", 100, 1);
  r.precision = top.string("precision", "fp32", {"fp32", "bf16"});
  r.log_interval = top.integer("log_interval", 10, 1);
}

Recipe parse_encoder_recipe(Recipe r, const json& root, Section& top, const std::string& source) {
  parse_common(r, top);
  EncoderPretrainSpec& p = r.pretrain;
  Section model = top.section("model");
  r.from = model.path("from");
  r.slm = model.raw("slm");
  r.tokenizer = model.path("tokenizer");
  r.save_dtype = model.string("save_dtype", "fp32", {"fp32", "bf16"});
  Section heads = model.section("heads");
  p.heads_hidden = heads.integer("hidden_size", p.heads_hidden, 1, 65536);
  p.alphabet_min_count = heads.integer("alphabet_min_count", p.alphabet_min_count, 1);
  p.evidence_weight = heads.number("evidence_weight", p.evidence_weight, 0, 100);
  p.prosody_expert_hidden = heads.integer("prosody_expert_hidden", p.prosody_expert_hidden, 0, 65536);
  p.prosody_expert_weight = heads.number("prosody_expert_weight", p.prosody_expert_weight, 0, 1);
  p.ctc_layers = heads.integer("ctc_layers", p.ctc_layers, 0, 64);
  p.ctc_encoder = heads.boolean("ctc_encoder").value_or(p.ctc_encoder);
  heads.finish();
  model.finish();
  if (r.from.empty() == r.slm.is_null()) {
    model.fail("model",
               "the encoder stage needs exactly one of model.from (an attune_slm directory whose encoder to "
               "continue) and model.slm (a composite config)");
  }
  if (!r.slm.is_null()) {
    json slm = r.slm;
    slm["model_type"] = "attune_slm";
    io::SlmConfig c = io::parse_slm_config(slm, source + ": model.slm", fs::current_path());
    c.validate(source + ": model.slm");
    if (r.tokenizer.empty()) model.fail("model.tokenizer", "missing: the tokenizer the final model carries");
  } else if (r.tokenizer.empty()) {
    r.tokenizer = r.from;
  }

  Section data = top.section("data");
  // A path or a list of paths.
  auto paths = [&](const std::string& key, bool required) {
    const json v = data.raw(key);
    std::vector<fs::path> out;
    if (v.is_string() && !v.get<std::string>().empty()) {
      out.emplace_back(v.get<std::string>());
    } else if (v.is_array() && !v.empty()) {
      for (const json& t : v) {
        if (!t.is_string() || t.get<std::string>().empty())
          data.fail("data." + key, "expected paths, got " + common::json_brief(v));
        out.emplace_back(t.get<std::string>());
      }
    } else if (!v.is_null() || required) {
      data.fail("data." + key, "expected a data build directory (or a list of them) with dialogues.jsonl");
    }
    return out;
  };
  p.train_builds = paths("train", true);
  p.valid_builds = paths("valid", false);
  r.train_data = p.train_builds.front();
  if (!p.valid_builds.empty()) r.valid_data = p.valid_builds.front();
  p.batch_clips = data.integer("batch_clips", p.batch_clips, 1, 4096);
  p.max_clip_seconds = data.number("max_clip_seconds", p.max_clip_seconds, 0.5, 30);
  p.real_share = data.number("real_share", p.real_share, 0, 1);
  p.balance_classes = data.boolean("balance_classes").value_or(p.balance_classes);
  data.finish();

  Section aug = top.section("augment");
  p.augment_real = aug.number("real", p.augment_real, 0, 1);
  p.augment_synthetic = aug.number("synthetic", p.augment_synthetic, 0, 1);
  aug.finish();

  Section tr = top.section("train");
  // "ctc" (the transcription blocks and projection) and "prosody_expert": parts of "encoder_heads".
  r.parts = tr.strings("parts", {"encoder", "encoder_heads"}, {"encoder", "encoder_heads", "ctc", "prosody_expert"});
  if (r.parts.empty()) tr.fail("train.parts", "nothing to train");
  tr.finish();

  parse_optim(r, top);

  Section loss = top.section("loss");
  p.ctc_weight = loss.number("ctc", p.ctc_weight, 0, 1e6);
  p.emotion_weight = loss.number("emotion", p.emotion_weight, 0, 1e6);
  p.intensity_weight = loss.number("intensity", p.intensity_weight, 0, 1e6);
  p.prosody_expert_loss = loss.number("prosody_expert", p.prosody_expert_loss, 0, 1e6);
  loss.finish();
  if (p.ctc_weight + p.emotion_weight + p.intensity_weight <= 0) top.fail("loss", "every weight is 0");
  auto trains = [&](const char* part) { return std::find(r.parts.begin(), r.parts.end(), part) != r.parts.end(); };
  if (!trains("encoder") && !trains("encoder_heads")) {
    if (!(trains("ctc") && p.ctc_weight > 0) && !(trains("prosody_expert") && p.prosody_expert_loss > 0)) {
      top.fail("train.parts",
               "nothing it names has a loss: loss.ctc trains \"ctc\", loss.prosody_expert trains "
               "\"prosody_expert\"");
    }
  }

  Section eval = top.section("eval");
  r.eval_interval = eval.integer("interval", 50, 0);
  p.eval_clips = eval.integer("clips", p.eval_clips, 1);
  eval.finish();
  parse_checkpoint(r, top);
  top.finish();
  r.resolved = root;
  return r;
}

// model: where the weights come from (a directory, or an inline config for a fresh model) and the
// tokenizer; stage 0 takes a language model, stages 1 and 2 a composite.
void parse_model(Recipe& r, Section& top, const std::string& source) {
  Section model = top.section("model");
  r.from = model.path("from");
  r.tokenizer = model.path("tokenizer");
  r.language_model = model.raw("language_model");
  r.slm = model.raw("slm");
  r.language_model_from = model.path("language_model_from");
  r.save_dtype = model.string("save_dtype", "fp32", {"fp32", "bf16"});
  if (const std::optional<bool> words = model.boolean("words_in_prompt")) {
    if (r.stage == 0 || r.from.empty()) model.fail("model.words_in_prompt", "only for stages 1 and 2 with model.from");
    r.words_in_prompt = *words;
  }
  model.finish();
  if (!r.language_model_from.empty() && (r.stage == 0 || r.from.empty())) {
    model.fail("model.language_model_from",
               "only for stages 1 and 2 with model.from (with model.slm, set "
               "model.slm.language_model.path)");
  }
  if (r.tokenizer.empty()) model.fail("model.tokenizer", "missing: the tokenizer the shards were rendered with");
  if (r.stage == 0) {
    if (r.from.empty() == r.language_model.is_null()) {
      model.fail("model",
                 "stage 0 needs exactly one of model.from (an LM directory) and model.language_model "
                 "(an inline HF config for a fresh model)");
    }
    if (!r.slm.is_null()) model.fail("model.slm", "only for stages 1 and 2");
    if (!r.language_model.is_null()) {
      // Sizes are checked now, not after the data is loaded.
      io::LanguageModelConfig c = io::parse_language_model_config(r.language_model, source + ": model.language_model");
      c.validate(source + ": model.language_model");
    }
  } else {
    if (r.from.empty() == r.slm.is_null()) {
      model.fail("model", "stage " + std::to_string(r.stage) +
                              " needs exactly one of model.from (an attune_slm directory) and model.slm (a composite "
                              "config whose language_model is the stage 0 teacher)");
    }
    if (!r.language_model.is_null()) model.fail("model.language_model", "only for stage 0 (use model.slm)");
    if (!r.slm.is_null()) {
      json slm = r.slm;
      slm["model_type"] = "attune_slm";
      io::SlmConfig c = io::parse_slm_config(slm, source + ": model.slm", fs::current_path());
      c.validate(source + ": model.slm");
    }
  }
}

// train: which parts learn (per stage), frozen encoder layers and LoRA.
void parse_train(Recipe& r, Section& top) {
  Section tr = top.section("train");
  const std::vector<std::string> default_parts =
      r.stage == 0   ? std::vector<std::string>{"language_model"}
      : r.stage == 1 ? std::vector<std::string>{"encoder", "adapter"}
                     : std::vector<std::string>{"adapter", "language_model", "style_head"};
  r.parts = tr.strings("parts", default_parts, {"encoder", "adapter", "language_model", "style_head", "talker"});
  // "talker" is the speech-style head's name in recipes written before it was renamed.
  std::replace(r.parts.begin(), r.parts.end(), std::string("talker"), std::string("style_head"));
  if (r.parts.empty()) tr.fail("train.parts", "nothing to train");
  r.freeze_encoder_layers = tr.integer("freeze_encoder_layers", 0, 0);
  Section lora = tr.section("lora");
  r.lora.rank = lora.integer("rank", 0, 0, 4096);
  r.lora.alpha = lora.number("alpha", 16, 0, INFINITY, true);
  r.lora.targets = lora.strings("targets", r.lora.targets,
                                {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"});
  lora.finish();
  tr.finish();
  auto has = [&](const char* p) { return std::find(r.parts.begin(), r.parts.end(), p) != r.parts.end(); };
  if (r.stage == 0 && (has("encoder") || has("adapter") || has("style_head"))) {
    top.fail("train.parts", "stage 0 trains the language model only");
  }
  if (r.stage == 1 && has("language_model")) {
    top.fail("train.parts", "stage 1 keeps the language model frozen: it is its own teacher");
  }
  if (r.stage == 1 && has("style_head")) top.fail("train.parts", "the speech-style head trains in stage 2");
  if (r.lora.rank > 0 && !has("language_model")) {
    top.fail("train.lora", "LoRA adapts the language model, which train.parts does not include");
  }
}

}  // namespace

std::string stage_name(int stage) { return stage == kEncoderStage ? "encoder" : std::to_string(stage); }

Recipe parse_recipe(json root, const std::string& source, const std::vector<std::string>& overrides) {
  if (!root.is_object()) throw ConfigError(source + ": expected a JSON object");
  for (const auto& o : overrides) apply_override(root, o, source);

  Recipe r;
  r.source = source;
  Section top(root, "", source);
  const json stage = top.raw("stage");
  if (stage.is_string() && stage.get<std::string>() == "encoder") {
    r.stage = kEncoderStage;
  } else if (stage.is_number_integer() && stage.get<int64_t>() >= 0 && stage.get<int64_t>() <= 2) {
    r.stage = stage.get<int>();
  } else {
    top.fail("stage", (stage.is_null() ? std::string("missing") : "got " + common::json_brief(stage)) +
                          ": expected \"encoder\" (encoder pre-training), 0 (text teacher), 1 (speech alignment) "
                          "or 2 (end-to-end)");
  }
  if (r.stage == kEncoderStage) return parse_encoder_recipe(std::move(r), root, top, source);
  parse_common(r, top);

  parse_model(r, top, source);

  Section data = top.section("data");
  r.train_data = data.path("train");
  r.valid_data = data.path("valid");
  r.batch_tokens = data.integer("batch_tokens", 4096, 16);
  if (const json* w = data.find("corpus_weights")) {
    r.corpus_weights = data::CorpusWeights::from_json(*w, source + ": data.corpus_weights");
  }
  data.finish();
  if (r.train_data.empty()) data.fail("data.train", "missing: a shard directory from `attune data build`");

  parse_train(r, top);

  parse_optim(r, top);

  Section loss = top.section("loss");
  r.ce_weight = loss.number("ce", 1, 0, 1e6);
  r.kl_weight = loss.number("kl", r.stage == 1 ? 1.0 : 0.0, 0, 1e6);
  r.kl_temperature = loss.number("kl_temperature", 1, 0, 100, true);
  r.style_weight = loss.number("style", r.stage == 2 ? 0.5 : 0.0, 0, 1e6);
  r.consistency_weight = loss.number("consistency", r.stage == 2 ? 0.1 : 0.0, 0, 1e6);
  loss.finish();
  if (r.stage != 1 && r.kl_weight > 0) top.fail("loss.kl", "distillation (KL to the teacher) is stage 1's loss");
  if (r.stage != 2 && (r.style_weight > 0 || r.consistency_weight > 0)) {
    top.fail("loss", "style and consistency losses belong to stage 2");
  }
  if (r.ce_weight + r.kl_weight + r.style_weight + r.consistency_weight <= 0) top.fail("loss", "every weight is 0");

  Section eval = top.section("eval");
  r.eval_interval = eval.integer("interval", 50, 0);
  r.eval_batches = eval.integer("batches", 16, 1);
  eval.finish();
  parse_checkpoint(r, top);
  top.finish();

  r.resolved = root;
  return r;
}

Recipe load_recipe(const fs::path& path, const std::vector<std::string>& overrides) {
  json root = io::read_json_file(path);
  return parse_recipe(std::move(root), path.string(), overrides);
}

double learning_rate(const Recipe& r, int64_t step) {
  if (r.warmup_steps > 0 && step < r.warmup_steps) {
    return r.lr * static_cast<double>(step + 1) / static_cast<double>(r.warmup_steps);
  }
  if (r.schedule == "constant") return r.lr;
  const double span = static_cast<double>(std::max<int64_t>(1, r.steps - r.warmup_steps));
  const double progress = std::min(1.0, static_cast<double>(step - r.warmup_steps) / span);
  const double floor = r.lr * r.min_lr_ratio;
  const double shape = r.schedule == "cosine" ? 0.5 * (1 + std::cos(M_PI * progress)) : 1 - progress;
  return floor + (r.lr - floor) * shape;
}

}  // namespace attune::train
