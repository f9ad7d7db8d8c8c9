#include "io/model_config.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "attune/error.h"
#include "common/file_util.h"
#include "common/json_brief.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace attune::io {

std::string_view family_name(ModelFamily family) {
  switch (family) {
    case ModelFamily::kWhisper:
      return "whisper";
    case ModelFamily::kQwen2:
      return "qwen2";
    case ModelFamily::kQwen3:
      return "qwen3";
    case ModelFamily::kLlama:
      return "llama";
  }
  return "?";
}

// ================================================================================================
// typed key access with errors that name the file and the key
// ================================================================================================

namespace {

[[noreturn]] void fail(const std::string& source, const std::string& key, const std::string& what) {
  throw ConfigError(source + ": key `" + key + "`: " + what);
}

std::string show(const json& j) { return common::json_brief(j); }

class Keys {
 public:
  Keys(const json& j, std::string source, std::string prefix = "")
      : j_(j), source_(std::move(source)), prefix_(std::move(prefix)) {}

  std::string name(const std::string& key) const { return prefix_ + key; }
  [[noreturn]] void fail_key(const std::string& key, const std::string& what) const { fail(source_, name(key), what); }

  // Present and not null (HF writes None as null: "use the default").
  bool has(const std::string& key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  const json& at(const std::string& key) const { return j_.at(key); }

  void require(const std::string& key, const char* kind) const {
    if (!has(key)) throw ConfigError(source_ + ": missing required key `" + name(key) + "` (" + kind + ")");
  }

  int64_t integer(const std::string& key, int64_t fallback) const {
    if (!has(key)) return fallback;
    const json& v = at(key);
    if (!v.is_number_integer()) fail_key(key, "expected an integer, got " + show(v));
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      fail_key(key, "integer " + show(v) + " is too large");
    }
    return v.get<int64_t>();
  }
  int64_t required_integer(const std::string& key) const {
    require(key, "an integer");
    return integer(key, 0);
  }
  std::optional<int64_t> optional_integer(const std::string& key) const {
    if (!has(key)) return std::nullopt;
    return integer(key, 0);
  }
  double number(const std::string& key, double fallback) const {
    if (!has(key)) return fallback;
    const json& v = at(key);
    if (!v.is_number()) fail_key(key, "expected a number, got " + show(v));
    return v.get<double>();
  }
  bool boolean(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = at(key);
    if (!v.is_boolean()) fail_key(key, "expected true or false, got " + show(v));
    return v.get<bool>();
  }
  std::string string(const std::string& key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const json& v = at(key);
    if (!v.is_string()) fail_key(key, "expected a string, got " + show(v));
    return v.get<std::string>();
  }
  std::vector<std::string> strings(const std::string& key, std::vector<std::string> fallback) const {
    if (!has(key)) return fallback;
    const json& v = at(key);
    std::vector<std::string> out;
    if (!v.is_array()) fail_key(key, "expected a list of strings, got " + show(v));
    for (const json& s : v) {
      if (!s.is_string()) fail_key(key, "expected a list of strings, got " + show(v));
      out.push_back(s.get<std::string>());
    }
    return out;
  }
  // One integer or a list of integers (eos_token_id).
  std::vector<int64_t> integers(const std::string& key) const {
    if (!has(key)) return {};
    const json& v = at(key);
    std::vector<int64_t> out;
    if (v.is_number_integer()) return {v.get<int64_t>()};
    if (!v.is_array()) fail_key(key, "expected an integer or a list of integers, got " + show(v));
    for (const json& x : v) {
      if (!x.is_number_integer()) fail_key(key, "expected an integer or a list of integers, got " + show(v));
      out.push_back(x.get<int64_t>());
    }
    return out;
  }

  // Rejects keys outside `allowed` (keys starting with "_" are comments and always allowed).
  void only(std::initializer_list<const char*> allowed) const {
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (!it.key().empty() && it.key()[0] == '_') continue;
      bool ok = std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return it.key() == a; });
      if (!ok) {
        std::string list;
        for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
        throw ConfigError(source_ + ": unknown key `" + name(it.key()) + "` (allowed here: " + list + ")");
      }
    }
  }

 private:
  const json& j_;
  std::string source_;
  std::string prefix_;
};

void require_positive(const std::string& source, const std::string& key, int64_t value) {
  if (value <= 0) fail(source, key, "expected a positive integer, got " + std::to_string(value));
}

void require_positive(const std::string& source, const std::string& key, double value) {
  if (!(value > 0) || !std::isfinite(value))
    fail(source, key, "expected a positive number, got " + std::to_string(value));
}

const std::set<std::string>& known_activations() {
  static const std::set<std::string> names = {"silu",      "swish", "gelu", "gelu_new",  "gelu_pytorch_tanh",
                                              "gelu_fast", "relu",  "tanh", "quick_gelu"};
  return names;
}

void require_activation(const std::string& source, const std::string& key, const std::string& value) {
  if (!known_activations().count(value)) {
    std::string list;
    for (const auto& a : known_activations()) list += (list.empty() ? "" : ", ") + a;
    fail(source, key, "unknown activation \"" + value + "\" (expected one of " + list + ")");
  }
}

std::string dtype_key(const Keys& keys) {
  // transformers >= 4.56 writes "dtype", older versions "torch_dtype".
  if (keys.has("torch_dtype")) return keys.string("torch_dtype", "");
  return keys.string("dtype", "");
}

}  // namespace

json read_json_file(const fs::path& path) {
  std::string text = common::read_file(path, size_t(1) << 28);
  // nlohmann stops at a NUL byte and would ignore what follows; JSON text never contains one.
  if (auto pos = text.find('\0'); pos != std::string::npos) {
    throw InputError(path.string(), "not valid JSON (NUL byte at offset " + std::to_string(pos) + ")");
  }
  // Configs and indexes nest a few levels; what is read is later copied and walked recursively, so
  // crafted depth is refused while parsing (the parser itself keeps its own stack).
  constexpr int kMaxDepth = 64;
  auto depth_check = [&](int depth, json::parse_event_t event, json&) {
    if (depth >= kMaxDepth &&
        (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start)) {
      throw InputError(path.string(), "JSON nested deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    return true;
  };
  try {
    return json::parse(text, depth_check);
  } catch (const json::exception& e) {
    throw InputError(path.string(), std::string("not valid JSON (") + e.what() + ")");
  }
}

// ================================================================================================
// family detection
// ================================================================================================

namespace {

std::optional<ModelFamily> family_from_model_type(const std::string& t) {
  if (t == "whisper" || t == "qwen2_audio_encoder") return ModelFamily::kWhisper;
  if (t == "qwen2") return ModelFamily::kQwen2;
  if (t == "qwen3") return ModelFamily::kQwen3;
  if (t == "llama") return ModelFamily::kLlama;
  return std::nullopt;
}

std::optional<ModelFamily> family_from_architecture(const std::string& a) {
  auto starts = [&](const char* p) { return a.rfind(p, 0) == 0; };
  if (starts("Whisper")) return ModelFamily::kWhisper;
  if (starts("Qwen2For") || a == "Qwen2Model") return ModelFamily::kQwen2;
  if (starts("Qwen3For") || a == "Qwen3Model") return ModelFamily::kQwen3;
  if (starts("LlamaFor") || a == "LlamaModel") return ModelFamily::kLlama;
  return std::nullopt;
}

const char* kSupportedTypes = "whisper, qwen2, qwen3, llama, attune_slm";

}  // namespace

std::optional<ModelFamily> detect_family(const json& config) {
  if (!config.is_object()) return std::nullopt;
  if (config.contains("model_type") && config["model_type"].is_string()) {
    return family_from_model_type(config["model_type"].get<std::string>());
  }
  if (config.contains("architectures") && config["architectures"].is_array()) {
    for (const json& a : config["architectures"]) {
      if (a.is_string()) {
        if (auto f = family_from_architecture(a.get<std::string>())) return f;
      }
    }
  }
  return std::nullopt;
}

// ================================================================================================
// Whisper
// ================================================================================================

void WhisperConfig::validate(const std::string& source) const {
  require_positive(source, "d_model", d_model);
  require_positive(source, "encoder_layers", encoder_layers);
  require_positive(source, "encoder_attention_heads", encoder_attention_heads);
  require_positive(source, "encoder_ffn_dim", encoder_ffn_dim);
  require_positive(source, "num_mel_bins", num_mel_bins);
  require_positive(source, "max_source_positions", max_source_positions);
  require_positive(source, "vocab_size", vocab_size);
  require_positive(source, "max_target_positions", max_target_positions);
  if (d_model % encoder_attention_heads != 0) {
    fail(source, "encoder_attention_heads",
         "d_model " + std::to_string(d_model) + " is not divisible by " + std::to_string(encoder_attention_heads) +
             " heads");
  }
  if (decoder_layers < 0) fail(source, "decoder_layers", "expected 0 or more, got " + std::to_string(decoder_layers));
  if (decoder_layers > 0) {
    require_positive(source, "decoder_attention_heads", decoder_attention_heads);
    require_positive(source, "decoder_ffn_dim", decoder_ffn_dim);
    if (d_model % decoder_attention_heads != 0) {
      fail(source, "decoder_attention_heads",
           "d_model " + std::to_string(d_model) + " is not divisible by " + std::to_string(decoder_attention_heads) +
               " heads");
    }
  }
  require_activation(source, "activation_function", activation_function);
  for (auto [key, p] :
       std::initializer_list<std::pair<const char*, double>>{{"dropout", dropout},
                                                             {"attention_dropout", attention_dropout},
                                                             {"activation_dropout", activation_dropout}}) {
    if (!(p >= 0 && p < 1)) fail(source, key, "expected a probability in [0, 1), got " + std::to_string(p));
  }
}

WhisperConfig parse_whisper_config(const json& config, const std::string& source) {
  if (!config.is_object()) throw ConfigError(source + ": expected a JSON object");
  Keys k(config, source);
  WhisperConfig c;
  c.raw = config;
  c.model_type = k.string("model_type", "whisper");
  c.architectures = k.strings("architectures", {});
  c.d_model = k.required_integer("d_model");
  c.encoder_layers = k.required_integer("encoder_layers");
  c.encoder_attention_heads = k.required_integer("encoder_attention_heads");
  c.encoder_ffn_dim = k.required_integer("encoder_ffn_dim");
  c.num_mel_bins = k.required_integer("num_mel_bins");
  c.max_source_positions = k.integer("max_source_positions", c.max_source_positions);
  c.activation_function = k.string("activation_function", c.activation_function);
  c.scale_embedding = k.boolean("scale_embedding", c.scale_embedding);
  c.dropout = k.number("dropout", c.dropout);
  c.attention_dropout = k.number("attention_dropout", c.attention_dropout);
  c.activation_dropout = k.number("activation_dropout", c.activation_dropout);
  c.decoder_layers = k.integer("decoder_layers", c.decoder_layers);
  c.decoder_attention_heads = k.integer("decoder_attention_heads", c.decoder_attention_heads);
  c.decoder_ffn_dim = k.integer("decoder_ffn_dim", c.decoder_ffn_dim);
  c.max_target_positions = k.integer("max_target_positions", c.max_target_positions);
  c.vocab_size = k.integer("vocab_size", c.vocab_size);
  c.torch_dtype = dtype_key(k);
  c.validate(source);
  return c;
}

json to_json(const WhisperConfig& c) {
  json j = c.raw.is_object() ? c.raw : json::object();
  j["model_type"] = c.model_type;
  if (!c.architectures.empty()) j["architectures"] = c.architectures;
  j["d_model"] = c.d_model;
  j["encoder_layers"] = c.encoder_layers;
  j["encoder_attention_heads"] = c.encoder_attention_heads;
  j["encoder_ffn_dim"] = c.encoder_ffn_dim;
  j["num_mel_bins"] = c.num_mel_bins;
  j["max_source_positions"] = c.max_source_positions;
  j["activation_function"] = c.activation_function;
  j["scale_embedding"] = c.scale_embedding;
  j["dropout"] = c.dropout;
  j["attention_dropout"] = c.attention_dropout;
  j["activation_dropout"] = c.activation_dropout;
  j["decoder_layers"] = c.decoder_layers;
  j["decoder_attention_heads"] = c.decoder_attention_heads;
  j["decoder_ffn_dim"] = c.decoder_ffn_dim;
  j["max_target_positions"] = c.max_target_positions;
  j["vocab_size"] = c.vocab_size;
  if (!c.torch_dtype.empty()) {
    j[j.contains("dtype") && !j.contains("torch_dtype") ? "dtype" : "torch_dtype"] = c.torch_dtype;
  }
  return j;
}

std::string summary(const WhisperConfig& c) {
  return c.model_type + " encoder: " + std::to_string(c.encoder_layers) + " layers, d_model " +
         std::to_string(c.d_model) + ", " + std::to_string(c.encoder_attention_heads) + " heads, ffn " +
         std::to_string(c.encoder_ffn_dim) + ", " + std::to_string(c.num_mel_bins) + " mel bins, " +
         std::to_string(c.max_source_positions) + " positions";
}

uint64_t expected_encoder_parameter_count(const WhisperConfig& c) {
  const uint64_t d = c.d_model, f = c.encoder_ffn_dim, mel = c.num_mel_bins;
  uint64_t n = (d * mel * 3 + d) + (d * d * 3 + d);        // conv1, conv2 (kernel 3, with bias)
  n += static_cast<uint64_t>(c.max_source_positions) * d;  // embed_positions
  const uint64_t layer = 4 * d * d + 3 * d                 // q (bias), k (no bias), v (bias), out (bias)
                         + 2 * 2 * d                       // self_attn_layer_norm, final_layer_norm
                         + (d * f + f) + (f * d + d);      // fc1, fc2
  n += layer * static_cast<uint64_t>(c.encoder_layers);
  n += 2 * d;  // layer_norm
  return n;
}

// ================================================================================================
// Qwen2 / Qwen3 / Llama
// ================================================================================================

LanguageModelConfig language_model_defaults(ModelFamily family) {
  LanguageModelConfig c;  // Qwen2Config defaults
  c.family = family;
  c.model_type = std::string(family_name(family));
  switch (family) {
    case ModelFamily::kQwen2:
      c.head_dim = c.hidden_size / c.num_attention_heads;
      c.qkv_bias = true;
      c.o_bias = false;
      break;
    case ModelFamily::kQwen3:
      c.head_dim = 128;
      c.qkv_bias = c.o_bias = false;
      c.qk_norm = true;
      break;
    case ModelFamily::kLlama:
      c.vocab_size = 32000;
      c.intermediate_size = 11008;
      c.max_position_embeddings = 2048;
      c.head_dim = c.hidden_size / c.num_attention_heads;
      c.qkv_bias = c.o_bias = false;
      c.bos_token_id = 1;
      c.eos_token_ids = {2};
      c.max_window_layers = 0;
      break;
    case ModelFamily::kWhisper:
      throw ConfigError("language_model_defaults: whisper is not a decoder language model");
  }
  return c;
}

namespace {

RopeScaling parse_rope_scaling(const json& j, const std::string& source, const std::string& key) {
  if (!j.is_object()) fail(source, key, "expected an object or null, got " + show(j));
  Keys k(j, source, key + ".");
  RopeScaling r;
  r.raw = j;
  r.rope_type = k.has("rope_type") ? k.string("rope_type", "") : k.string("type", "");
  if (r.rope_type.empty())
    fail(source, key + ".rope_type", "missing (e.g. \"llama3\", \"linear\", \"dynamic\", \"yarn\")");
  r.factor = k.number("factor", 1.0);
  if (r.rope_type == "llama3") {
    for (const char* req : {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}) {
      k.require(req, "required for rope_type llama3");
    }
    r.low_freq_factor = k.number("low_freq_factor", 1.0);
    r.high_freq_factor = k.number("high_freq_factor", 4.0);
    r.original_max_position_embeddings = k.required_integer("original_max_position_embeddings");
    require_positive(source, key + ".original_max_position_embeddings", r.original_max_position_embeddings);
    require_positive(source, key + ".low_freq_factor", r.low_freq_factor);
    if (!(r.high_freq_factor > r.low_freq_factor)) {
      fail(source, key + ".high_freq_factor", "must be greater than low_freq_factor");
    }
  } else if (r.rope_type == "linear" || r.rope_type == "dynamic" || r.rope_type == "yarn") {
    k.require("factor", "required for this rope_type");
  }
  if (r.rope_type != "default" && !(r.factor >= 1.0)) {
    fail(source, key + ".factor", "expected a number >= 1, got " + std::to_string(r.factor));
  }
  return r;
}

}  // namespace

void LanguageModelConfig::validate(const std::string& source) const {
  require_positive(source, "vocab_size", vocab_size);
  require_positive(source, "hidden_size", hidden_size);
  require_positive(source, "intermediate_size", intermediate_size);
  require_positive(source, "num_hidden_layers", num_hidden_layers);
  require_positive(source, "num_attention_heads", num_attention_heads);
  require_positive(source, "num_key_value_heads", num_key_value_heads);
  require_positive(source, "head_dim", head_dim);
  require_positive(source, "max_position_embeddings", max_position_embeddings);
  require_positive(source, "rms_norm_eps", rms_norm_eps);
  require_positive(source, "rope_theta", rope_theta);
  if (num_attention_heads % num_key_value_heads != 0) {
    fail(source, "num_key_value_heads",
         std::to_string(num_attention_heads) + " attention heads cannot be shared evenly by " +
             std::to_string(num_key_value_heads) + " key/value heads (num_attention_heads must be a multiple)");
  }
  if (head_dim % 2 != 0)
    fail(source, "head_dim", "must be even for rotary embeddings, got " + std::to_string(head_dim));
  require_activation(source, "hidden_act", hidden_act);
  if (use_sliding_window && sliding_window) require_positive(source, "sliding_window", *sliding_window);
  auto check_token = [&](const char* key, int64_t id) {
    if (id < 0 || id >= vocab_size) {
      fail(source, key,
           "token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
    }
  };
  if (bos_token_id) check_token("bos_token_id", *bos_token_id);
  if (pad_token_id) check_token("pad_token_id", *pad_token_id);
  for (int64_t id : eos_token_ids) check_token("eos_token_id", id);
}

LanguageModelConfig parse_language_model_config(const json& config, const std::string& source) {
  if (!config.is_object()) throw ConfigError(source + ": expected a JSON object");
  Keys k(config, source);
  auto family = detect_family(config);
  if (!family || *family == ModelFamily::kWhisper) {
    std::string got = config.contains("model_type") ? show(config["model_type"]) : "nothing";
    throw ConfigError(source + ": key `model_type`: expected a decoder language model (qwen2, qwen3 or llama), got " +
                      got);
  }
  LanguageModelConfig c = language_model_defaults(*family);
  c.raw = config;
  c.model_type = k.string("model_type", c.model_type);
  c.architectures = k.strings("architectures", {});
  c.vocab_size = k.required_integer("vocab_size");
  c.hidden_size = k.required_integer("hidden_size");
  c.intermediate_size = k.required_integer("intermediate_size");
  c.num_hidden_layers = k.required_integer("num_hidden_layers");
  c.num_attention_heads = k.required_integer("num_attention_heads");
  c.num_key_value_heads = k.integer("num_key_value_heads", c.num_attention_heads);
  if (k.has("head_dim")) {
    c.head_dim = k.integer("head_dim", 0);
  } else if (*family == ModelFamily::kQwen3) {
    c.head_dim = 128;  // Qwen3Config's default, independent of hidden_size
  } else {
    require_positive(source, "num_attention_heads", c.num_attention_heads);
    if (c.hidden_size % c.num_attention_heads != 0) {
      fail(source, "num_attention_heads",
           "hidden_size " + std::to_string(c.hidden_size) + " is not divisible by " +
               std::to_string(c.num_attention_heads) + " heads (or give head_dim)");
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  c.hidden_act = k.string("hidden_act", c.hidden_act);
  c.max_position_embeddings = k.integer("max_position_embeddings", c.max_position_embeddings);
  c.rms_norm_eps = k.number("rms_norm_eps", c.rms_norm_eps);
  c.rope_theta = k.number("rope_theta", c.rope_theta);
  if (k.has("rope_scaling")) c.rope_scaling = parse_rope_scaling(k.at("rope_scaling"), source, "rope_scaling");
  if (k.has("rope_parameters")) {  // transformers v5
    const json& rp = k.at("rope_parameters");
    if (!rp.is_object()) fail(source, "rope_parameters", "expected an object, got " + show(rp));
    Keys rk(rp, source, "rope_parameters.");
    c.rope_theta = rk.number("rope_theta", c.rope_theta);
    std::string type = rk.has("rope_type") ? rk.string("rope_type", "") : rk.string("type", "default");
    if (type != "default") c.rope_scaling = parse_rope_scaling(rp, source, "rope_parameters");
  }
  if (c.rope_scaling && c.rope_scaling->rope_type == "default") c.rope_scaling.reset();
  if (*family == ModelFamily::kQwen2) {
    c.qkv_bias = true;  // Qwen2Attention: bias on q/k/v always, none on o_proj
    c.o_bias = false;
  } else {
    c.qkv_bias = c.o_bias = k.boolean("attention_bias", false);
  }
  c.mlp_bias = *family == ModelFamily::kLlama ? k.boolean("mlp_bias", false) : false;
  c.qk_norm = *family == ModelFamily::kQwen3;
  c.tie_word_embeddings = k.boolean("tie_word_embeddings", c.tie_word_embeddings);
  c.use_sliding_window = k.boolean("use_sliding_window", c.use_sliding_window);
  c.sliding_window = k.optional_integer("sliding_window");
  c.max_window_layers = k.integer("max_window_layers", c.max_window_layers);
  if (k.has("bos_token_id") || config.contains("bos_token_id")) c.bos_token_id = k.optional_integer("bos_token_id");
  if (k.has("pad_token_id")) c.pad_token_id = k.optional_integer("pad_token_id");
  if (config.contains("eos_token_id")) c.eos_token_ids = k.integers("eos_token_id");
  c.torch_dtype = dtype_key(k);
  c.initializer_range = k.number("initializer_range", c.initializer_range);
  c.validate(source);
  return c;
}

json to_json(const LanguageModelConfig& c) {
  json j = c.raw.is_object() ? c.raw : json::object();
  j["model_type"] = c.model_type;
  if (!c.architectures.empty()) j["architectures"] = c.architectures;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  if (c.family != ModelFamily::kQwen2 || j.contains("head_dim") ||
      c.head_dim * c.num_attention_heads != c.hidden_size) {
    j["head_dim"] = c.head_dim;
  }
  j["hidden_act"] = c.hidden_act;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = c.rope_scaling ? c.rope_scaling->raw : json(nullptr);
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
    j["rope_parameters"]["rope_theta"] = c.rope_theta;
  }
  if (c.family != ModelFamily::kQwen2) j["attention_bias"] = c.qkv_bias;
  if (c.family == ModelFamily::kLlama) j["mlp_bias"] = c.mlp_bias;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (c.family != ModelFamily::kLlama || j.contains("use_sliding_window")) {
    j["use_sliding_window"] = c.use_sliding_window;
    j["sliding_window"] = c.sliding_window ? json(*c.sliding_window) : json(nullptr);
    j["max_window_layers"] = c.max_window_layers;
  }
  j["bos_token_id"] = c.bos_token_id ? json(*c.bos_token_id) : json(nullptr);
  if (c.pad_token_id) j["pad_token_id"] = *c.pad_token_id;
  if (c.eos_token_ids.size() == 1) {
    j["eos_token_id"] = c.eos_token_ids[0];
  } else if (!c.eos_token_ids.empty()) {
    j["eos_token_id"] = c.eos_token_ids;
  } else {
    j["eos_token_id"] = nullptr;
  }
  if (!c.torch_dtype.empty()) {
    j[j.contains("dtype") && !j.contains("torch_dtype") ? "dtype" : "torch_dtype"] = c.torch_dtype;
  }
  j["initializer_range"] = c.initializer_range;
  return j;
}

std::string summary(const LanguageModelConfig& c) {
  std::string s = c.model_type + ": " + std::to_string(c.num_hidden_layers) + " layers, hidden " +
                  std::to_string(c.hidden_size) + ", " + std::to_string(c.num_attention_heads) + " heads (" +
                  std::to_string(c.num_key_value_heads) + " kv, head_dim " + std::to_string(c.head_dim) + "), ffn " +
                  std::to_string(c.intermediate_size) + ", vocab " + std::to_string(c.vocab_size);
  if (c.tie_word_embeddings) s += ", tied embeddings";
  if (c.rope_scaling) s += ", rope " + c.rope_scaling->rope_type;
  return s;
}

uint64_t expected_parameter_count(const LanguageModelConfig& c) {
  const uint64_t h = c.hidden_size, v = c.vocab_size, i = c.intermediate_size, hd = c.head_dim;
  const uint64_t q = c.num_attention_heads * hd, kv = c.num_key_value_heads * hd;
  uint64_t layer = h * q + 2 * h * kv + q * h;  // q, k, v, o projections
  if (c.qkv_bias) layer += q + 2 * kv;
  if (c.o_bias) layer += h;
  layer += 3 * h * i;  // gate, up, down
  if (c.mlp_bias) layer += 2 * i + h;
  layer += 2 * h;  // input_layernorm, post_attention_layernorm
  if (c.qk_norm) layer += 2 * hd;
  uint64_t n = v * h + layer * static_cast<uint64_t>(c.num_hidden_layers) + h;  // embeddings, layers, final norm
  if (!c.tie_word_embeddings) n += v * h;
  return n;
}

// ================================================================================================
// HfConfig
// ================================================================================================

ModelFamily HfConfig::family() const {
  if (whisper()) return ModelFamily::kWhisper;
  return language_model()->family;
}

HfConfig parse_hf_config(const json& config, const std::string& source) {
  if (!config.is_object()) throw ConfigError(source + ": expected a JSON object");
  auto family = detect_family(config);
  if (!family) {
    if (config.contains("model_type")) {
      throw ConfigError(source + ": key `model_type`: unsupported model type " + show(config["model_type"]) +
                        " (supported: " + kSupportedTypes + ")");
    }
    throw ConfigError(source + ": missing required key `model_type` (one of " + kSupportedTypes + ")");
  }
  if (*family == ModelFamily::kWhisper) return HfConfig{parse_whisper_config(config, source)};
  return HfConfig{parse_language_model_config(config, source)};
}

namespace {

fs::path config_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) ? path / "config.json" : path;
}

}  // namespace

HfConfig load_hf_config(const fs::path& path) {
  const fs::path file = config_file(path);
  json j = read_json_file(file);
  if (is_slm_config(j)) {
    throw ConfigError(file.string() + ": this is an attune_slm composite config, not a Hugging Face model config");
  }
  return parse_hf_config(j, file.string());
}

json to_json(const HfConfig& config) {
  return std::visit([](const auto& c) { return to_json(c); }, config.model);
}

void write_hf_config(const fs::path& path, const HfConfig& config) {
  common::write_file_atomically(path, to_json(config).dump(2) + "\n");
}

// ================================================================================================
// attune_slm
// ================================================================================================

bool is_slm_config(const json& config) {
  return config.is_object() && config.contains("model_type") && config["model_type"] == kSlmModelType;
}

void SlmConfig::validate(const std::string& source) const {
  if (format_version != kSlmFormatVersion) {
    fail(source, "format_version",
         "this build reads version " + std::to_string(kSlmFormatVersion) + ", got " + std::to_string(format_version));
  }
  const auto& enc = encoder.config;
  const auto& lm = language_model.config;
  if (adapter.type != "concat_mlp" && adapter.type != "conv") {
    fail(source, "adapter.type", "expected \"concat_mlp\" or \"conv\", got \"" + adapter.type + "\"");
  }
  require_positive(source, "adapter.stride", adapter.stride);
  require_positive(source, "adapter.num_layers", adapter.num_layers);
  require_positive(source, "adapter.input_size", adapter.input_size);
  require_positive(source, "adapter.hidden_size", adapter.hidden_size);
  require_positive(source, "adapter.output_size", adapter.output_size);
  require_activation(source, "adapter.activation", adapter.activation);
  if (adapter.input_size != enc.d_model) {
    fail(source, "adapter.input_size",
         "is " + std::to_string(adapter.input_size) + " but the encoder's d_model is " + std::to_string(enc.d_model));
  }
  if (adapter.output_size != lm.hidden_size) {
    fail(source, "adapter.output_size",
         "is " + std::to_string(adapter.output_size) + " but the language model's hidden_size is " +
             std::to_string(lm.hidden_size));
  }
  if (style_head.backend != "espeak-ng" && style_head.backend != "none") {
    fail(source, "style_head.backend", "expected \"espeak-ng\" or \"none\", got \"" + style_head.backend + "\"");
  }
  require_positive(source, "style_head.input_size", style_head.input_size);
  require_positive(source, "style_head.hidden_size", style_head.hidden_size);
  require_positive(source, "style_head.num_layers", style_head.num_layers);
  if (style_head.input_size != lm.hidden_size) {
    fail(source, "style_head.input_size",
         "is " + std::to_string(style_head.input_size) + " but the language model's hidden_size is " +
             std::to_string(lm.hidden_size));
  }
  if (style_head.emotions.empty()) fail(source, "style_head.emotions", "expected at least one emotion label");
  std::vector<std::pair<const char*, const std::vector<std::string>*>> lists = {
      {"style_head.emotions", &style_head.emotions}, {"style_head.style_attributes", &style_head.style_attributes}};
  if (encoder_heads) {
    const EncoderHeadsConfig& h = *encoder_heads;
    require_positive(source, "encoder_heads.input_size", h.input_size);
    require_positive(source, "encoder_heads.hidden_size", h.hidden_size);
    if (h.input_size != enc.d_model) {
      fail(source, "encoder_heads.input_size",
           "is " + std::to_string(h.input_size) + " but the encoder's d_model is " + std::to_string(enc.d_model));
    }
    if (h.emotions.empty()) fail(source, "encoder_heads.emotions", "expected at least one emotion label");
    for (const auto& c : h.ctc_alphabet) {
      if (c.empty() || c.size() > 4) fail(source, "encoder_heads.ctc_alphabet", "expected single UTF-8 characters");
    }
    if (h.heard_from != "head" && h.heard_from != "thinking") {
      fail(source, "encoder_heads.heard_from", "expected \"head\" or \"thinking\", got \"" + h.heard_from + "\"");
    }
    if (!(h.evidence_weight >= 0 && h.evidence_weight <= 100)) {
      fail(source, "encoder_heads.evidence_weight", "expected a number in [0, 100]");
    }
    if (h.prosody_expert_hidden < 0 || (h.prosody_expert_hidden > 0 && h.prosody_features.empty())) {
      fail(source, "encoder_heads.prosody_expert_hidden",
           "expected 0, or a positive size together with prosody_features");
    }
    if (!(h.prosody_expert_weight >= 0 && h.prosody_expert_weight <= 1)) {
      fail(source, "encoder_heads.prosody_expert_weight", "expected a number in [0, 1]");
    }
    if (h.ctc_layers < 0 || h.ctc_layers > 64 || (h.ctc_layers > 0 && h.ctc_alphabet.empty())) {
      fail(source, "encoder_heads.ctc_layers", "expected 0, or 1 to 64 together with a ctc_alphabet");
    }
    if (!h.ctc_lm.empty() && (h.ctc_alphabet.empty() || h.ctc_lm.find('/') != std::string::npos)) {
      fail(source, "encoder_heads.ctc_lm", "expected a file name in the model directory, with a ctc_alphabet");
    }
    if (!(h.ctc_lm_weight >= 0 && h.ctc_lm_weight <= 10)) {
      fail(source, "encoder_heads.ctc_lm_weight", "expected a number in [0, 10]");
    }
    if (!(h.ctc_lm_bonus >= -20 && h.ctc_lm_bonus <= 20)) {
      fail(source, "encoder_heads.ctc_lm_bonus", "expected a number in [-20, 20]");
    }
    if (h.ctc_beam < 1 || h.ctc_beam > 1024) fail(source, "encoder_heads.ctc_beam", "expected 1 to 1024");
    if (h.ctc_encoder && h.ctc_alphabet.empty()) {
      fail(source, "encoder_heads.ctc_encoder", "needs a CTC head (encoder_heads.ctc_alphabet)");
    }
    if (h.words_in_prompt && h.ctc_alphabet.empty()) {
      fail(source, "encoder_heads.words_in_prompt", "needs a CTC head (encoder_heads.ctc_alphabet)");
    }
    lists.push_back({"encoder_heads.emotions", &h.emotions});
    lists.push_back({"encoder_heads.ctc_alphabet", &h.ctc_alphabet});
    lists.push_back({"encoder_heads.prosody_features", &h.prosody_features});
  }
  for (const auto& [key, list] : {std::pair{"quotes.source_prior", &quotes.source_prior},
                                  std::pair{"quotes.length_hazard", &quotes.length_hazard}}) {
    if (list->size() > 64) fail(source, key, "expected at most 64 entries");
    for (double p : *list) {
      if (!(p > 0 && p <= 1)) fail(source, key, "expected probabilities in (0, 1]");
    }
  }
  if (!(quotes.prior_weight >= 0 && quotes.prior_weight <= 100)) {
    fail(source, "quotes.prior_weight", "expected a number in [0, 100]");
  }
  if (quotes.prior_weight > 0 && quotes.source_prior.empty() && quotes.length_hazard.empty()) {
    fail(source, "quotes.prior_weight", "needs quotes.source_prior or quotes.length_hazard");
  }
  for (const auto& [key, list] : lists) {
    std::set<std::string> seen;
    for (const auto& s : *list) {
      if (s.empty()) fail(source, key, "labels must not be empty");
      if (!seen.insert(s).second) fail(source, key, "label \"" + s + "\" appears twice");
    }
  }
}

namespace {

// Loads `{"path": ...}` or parses an inline config; `parse` turns JSON into the component's config.
template <typename Config, typename Parse>
SlmComponent<Config> parse_component(const json& top, const char* key, const std::string& source,
                                     const fs::path& base_dir, Parse parse) {
  if (!top.contains(key) || top[key].is_null()) {
    throw ConfigError(source + ": missing required key `" + key + "` (an object: {\"path\": DIR} or an inline config)");
  }
  const json& j = top[key];
  if (!j.is_object()) fail(source, key, "expected an object ({\"path\": DIR} or an inline config), got " + show(j));
  SlmComponent<Config> component;
  if (j.contains("path")) {
    Keys k(j, source, std::string(key) + ".");
    k.only({"path"});
    component.path = k.string("path", "");
    if (component.path.empty()) fail(source, std::string(key) + ".path", "must not be empty");
    fs::path p(component.path);
    component.dir = (p.is_absolute() ? p : base_dir / p).lexically_normal();
    std::error_code ec;
    if (!fs::is_directory(component.dir, ec)) {
      fail(source, std::string(key) + ".path", "directory " + component.dir.string() + " does not exist");
    }
    const fs::path file = component.dir / "config.json";
    json sub = read_json_file(file);
    component.config = parse(sub, file.string());
  } else {
    component.config = parse(j, source + " (" + key + ")");
  }
  return component;
}

json adapter_json(const AdapterConfig& a) {
  return {{"type", a.type},
          {"stride", a.stride},
          {"num_layers", a.num_layers},
          {"input_size", a.input_size},
          {"hidden_size", a.hidden_size},
          {"output_size", a.output_size},
          {"activation", a.activation}};
}

json encoder_heads_json(const EncoderHeadsConfig& h) {
  return {{"input_size", h.input_size},
          {"hidden_size", h.hidden_size},
          {"emotions", h.emotions},
          {"ctc_alphabet", h.ctc_alphabet},
          {"prosody_features", h.prosody_features},
          {"heard_from", h.heard_from},
          {"evidence_weight", h.evidence_weight},
          {"prosody_expert_hidden", h.prosody_expert_hidden},
          {"prosody_expert_weight", h.prosody_expert_weight},
          {"words_in_prompt", h.words_in_prompt},
          {"ctc_layers", h.ctc_layers},
          {"ctc_encoder", h.ctc_encoder},
          {"ctc_lm", h.ctc_lm},
          {"ctc_lm_weight", h.ctc_lm_weight},
          {"ctc_lm_bonus", h.ctc_lm_bonus},
          {"ctc_beam", h.ctc_beam}};
}

json style_head_json(const StyleHeadConfig& t) {
  return {{"backend", t.backend},       {"input_size", t.input_size}, {"hidden_size", t.hidden_size},
          {"num_layers", t.num_layers}, {"emotions", t.emotions},     {"style_attributes", t.style_attributes}};
}

}  // namespace

SlmConfig parse_slm_config(const json& config, const std::string& source, const fs::path& base_dir) {
  if (!is_slm_config(config)) {
    throw ConfigError(source + ": key `model_type`: expected \"" + kSlmModelType + "\"");
  }
  Keys top(config, source);
  top.only({"model_type", "format_version", "architectures", "torch_dtype", "encoder", "adapter", "language_model",
            "style_head", "talker", "encoder_heads", "quotes", "transformers_version"});
  SlmConfig c;
  c.format_version = static_cast<int>(top.integer("format_version", kSlmFormatVersion));
  if (top.has("torch_dtype")) c.torch_dtype = top.string("torch_dtype", "");
  if (c.format_version != kSlmFormatVersion) c.validate(source);  // a clear version error before anything else

  c.encoder =
      parse_component<WhisperConfig>(config, "encoder", source, base_dir, [](const json& j, const std::string& src) {
        auto family = detect_family(j);
        if (j.contains("model_type") && family != ModelFamily::kWhisper) {
          throw ConfigError(src + ": key `model_type`: the encoder must be a whisper config, got " +
                            show(j["model_type"]));
        }
        return parse_whisper_config(j, src);
      });
  c.language_model = parse_component<LanguageModelConfig>(
      config, "language_model", source, base_dir,
      [](const json& j, const std::string& src) { return parse_language_model_config(j, src); });
  if (top.has("adapter")) {
    const json& a = top.at("adapter");
    if (!a.is_object()) fail(source, "adapter", "expected an object, got " + show(a));
    Keys k(a, source, "adapter.");
    k.only({"type", "stride", "num_layers", "input_size", "hidden_size", "output_size", "activation"});
    c.adapter.type = k.string("type", c.adapter.type);
    c.adapter.stride = k.integer("stride", c.adapter.stride);
    c.adapter.num_layers = k.integer("num_layers", c.adapter.num_layers);
    c.adapter.input_size = k.integer("input_size", 0);
    c.adapter.hidden_size = k.integer("hidden_size", 0);
    c.adapter.output_size = k.integer("output_size", 0);
    c.adapter.activation = k.string("activation", c.adapter.activation);
  }
  if (c.adapter.input_size == 0) c.adapter.input_size = c.encoder.config.d_model;
  if (c.adapter.output_size == 0) c.adapter.output_size = c.language_model.config.hidden_size;
  if (c.adapter.hidden_size == 0) c.adapter.hidden_size = c.adapter.output_size;
  // "talker" is the key's name before the head was renamed (format_version 1 files until v3.1).
  if (top.has("style_head") && top.has("talker"))
    fail(source, "talker", "give \"style_head\" or the legacy \"talker\", not both");
  if (top.has("style_head") || top.has("talker")) {
    const std::string key = top.has("style_head") ? "style_head" : "talker";
    const json& t = top.at(key);
    if (!t.is_object()) fail(source, key, "expected an object, got " + show(t));
    Keys k(t, source, key + ".");
    k.only({"backend", "input_size", "hidden_size", "num_layers", "emotions", "style_attributes"});
    c.style_head.backend = k.string("backend", c.style_head.backend);
    c.style_head.input_size = k.integer("input_size", 0);
    c.style_head.hidden_size = k.integer("hidden_size", c.style_head.hidden_size);
    c.style_head.num_layers = k.integer("num_layers", c.style_head.num_layers);
    c.style_head.emotions = k.strings("emotions", c.style_head.emotions);
    c.style_head.style_attributes = k.strings("style_attributes", c.style_head.style_attributes);
  }
  if (c.style_head.input_size == 0) c.style_head.input_size = c.language_model.config.hidden_size;
  if (top.has("encoder_heads")) {
    const json& h = top.at("encoder_heads");
    if (!h.is_object()) fail(source, "encoder_heads", "expected an object, got " + show(h));
    Keys k(h, source, "encoder_heads.");
    k.only({"input_size", "hidden_size", "emotions", "ctc_alphabet", "prosody_features", "heard_from",
            "evidence_weight", "prosody_expert_hidden", "prosody_expert_weight", "words_in_prompt", "ctc_layers",
            "ctc_encoder", "ctc_lm", "ctc_lm_weight", "ctc_lm_bonus", "ctc_beam"});
    EncoderHeadsConfig e;
    e.input_size = k.integer("input_size", c.encoder.config.d_model);
    e.hidden_size = k.integer("hidden_size", e.hidden_size);
    e.emotions = k.strings("emotions", e.emotions);
    e.ctc_alphabet = k.strings("ctc_alphabet", {});
    e.prosody_features = k.strings("prosody_features", {});
    e.heard_from = k.string("heard_from", e.heard_from);
    e.evidence_weight = k.number("evidence_weight", e.evidence_weight);
    e.prosody_expert_hidden = k.integer("prosody_expert_hidden", 0);
    e.prosody_expert_weight = k.number("prosody_expert_weight", 0);
    e.words_in_prompt = k.boolean("words_in_prompt", false);
    e.ctc_layers = k.integer("ctc_layers", 0);
    e.ctc_encoder = k.boolean("ctc_encoder", false);
    e.ctc_lm = k.string("ctc_lm", "");
    e.ctc_lm_weight = k.number("ctc_lm_weight", e.ctc_lm_weight);
    e.ctc_lm_bonus = k.number("ctc_lm_bonus", e.ctc_lm_bonus);
    e.ctc_beam = k.integer("ctc_beam", e.ctc_beam);
    c.encoder_heads = e;
  }
  if (top.has("quotes")) {
    const json& q = top.at("quotes");
    if (!q.is_object()) fail(source, "quotes", "expected an object, got " + show(q));
    Keys k(q, source, "quotes.");
    k.only({"source_prior", "length_hazard", "prior_weight"});
    for (const auto& [key, list] :
         {std::pair{"source_prior", &c.quotes.source_prior}, std::pair{"length_hazard", &c.quotes.length_hazard}}) {
      if (!k.has(key)) continue;
      const json& p = k.at(key);
      const std::string name = std::string("quotes.") + key;
      if (!p.is_array()) fail(source, name, "expected an array of numbers, got " + show(p));
      for (const json& v : p) {
        if (!v.is_number()) fail(source, name, "expected numbers, got " + show(v));
        list->push_back(v.get<double>());
      }
    }
    c.quotes.prior_weight = k.number("prior_weight", 0);
  }
  c.validate(source);
  return c;
}

SlmConfig load_slm_config(const fs::path& path) {
  const fs::path file = config_file(path);
  json j = read_json_file(file);
  fs::path base = file.parent_path();
  if (base.empty()) base = ".";
  return parse_slm_config(j, file.string(), base);
}

namespace {

template <typename Config>
json component_json(const SlmComponent<Config>& c, const fs::path& base_dir) {
  if (c.is_inline()) return to_json(c.config);
  const fs::path target = fs::absolute(c.dir).lexically_normal();
  const fs::path base = fs::absolute(base_dir.empty() ? fs::path(".") : base_dir).lexically_normal();
  fs::path rel = target.lexically_relative(base);
  return {{"path", rel.empty() ? target.string() : rel.string()}};
}

}  // namespace

json to_json(const SlmConfig& c, const fs::path& base_dir) {
  json j = json::object();
  j["model_type"] = kSlmModelType;
  j["format_version"] = c.format_version;
  if (c.torch_dtype) j["torch_dtype"] = *c.torch_dtype;
  j["encoder"] = component_json(c.encoder, base_dir);
  j["adapter"] = adapter_json(c.adapter);
  j["language_model"] = component_json(c.language_model, base_dir);
  j["style_head"] = style_head_json(c.style_head);
  if (c.encoder_heads) j["encoder_heads"] = encoder_heads_json(*c.encoder_heads);
  if (!c.quotes.empty()) {
    j["quotes"] = {{"source_prior", c.quotes.source_prior},
                   {"length_hazard", c.quotes.length_hazard},
                   {"prior_weight", c.quotes.prior_weight}};
  }
  return j;
}

void write_slm_config(const fs::path& path, const SlmConfig& config) {
  config.validate(path.string());
  fs::path base = path.parent_path();
  common::write_file_atomically(path, to_json(config, base.empty() ? fs::path(".") : base).dump(2) + "\n");
}

}  // namespace attune::io
