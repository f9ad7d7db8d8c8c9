// The checks behind `attune inspect` (model_inspect.h): architecture(s), parameter counts, dtypes and
// bytes of a model directory, a .safetensors file or a sharded index, and every inconsistency between
// a config and its tensors.
#include "io/model_inspect.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "attune/error.h"
#include "io/model_config.h"

namespace attune::io {

namespace fs = std::filesystem;

// ---- formatting ---------------------------------------------------------------------------------

namespace {

// n in units of `step` ("1.2M" for step 1000, "3.4 GiB" for 1024); whole numbers below the first step.
std::string human_units(uint64_t n, double step, const char* const (&units)[5], const char* space) {
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= step && u < 4) {
    v /= step;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof(buf), "%llu%s%s", static_cast<unsigned long long>(n), units[0][0] ? space : "", units[0]);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f%s%s", v, space, units[u]);
  }
  return buf;
}

}  // namespace

std::string human_count(uint64_t n) {
  static const char* const kUnits[5] = {"", "K", "M", "B", "T"};
  return human_units(n, 1000, kUnits, "");
}

std::string human_bytes(uint64_t n) {
  static const char* const kUnits[5] = {"B", "KiB", "MiB", "GiB", "TiB"};
  return human_units(n, 1024, kUnits, " ");
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// ---- the weights of one directory (or file) -------------------------------------------------------

// Loads the safetensors of a directory: the index or model.safetensors, else every *.safetensors.
void load_directory_weights(const fs::path& dir, const std::string& component, InspectReport& report) {
  WeightSource source{component, dir, {}};
  if (fs::exists(dir / io::kSafetensorsIndexName) && fs::exists(dir / io::kSafetensorsSingleName)) {
    report.warn(dir.string() + ": both " + io::kSafetensorsSingleName + " and " + io::kSafetensorsIndexName +
                " exist; loaders (attune's and transformers') use " + io::kSafetensorsSingleName);
  }
  if (fs::exists(dir / io::kSafetensorsIndexName) || fs::exists(dir / io::kSafetensorsSingleName)) {
    source.checkpoints.push_back(io::SafetensorsCheckpoint::open(dir));
  } else {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.is_regular_file() && entry.path().extension() == ".safetensors") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) source.checkpoints.push_back(io::SafetensorsCheckpoint::open(f));
    if (files.size() > 1) {
      report.warn(dir.string() + ": " + std::to_string(files.size()) + " .safetensors files but no " +
                  io::kSafetensorsIndexName + "; HF loaders will not find them");
    }
    if (files.empty()) {
      std::string note = dir.string() + ": no weights (*.safetensors)";
      if (fs::exists(dir / "pytorch_model.bin"))
        note += "; only pytorch_model.bin (pickle), which attune does not read";
      report.warn(note);
      return;
    }
  }
  std::set<std::string> seen;
  for (const auto& ckpt : source.checkpoints) {
    if (ckpt.index_total_size() && *ckpt.index_total_size() != ckpt.total_bytes()) {
      report.warn(ckpt.index_path()->string() + ": metadata.total_size is " + std::to_string(*ckpt.index_total_size()) +
                  " but the listed tensors hold " + std::to_string(ckpt.total_bytes()) + " bytes");
    }
    if (!ckpt.unlisted().empty()) {
      report.warn(ckpt.index_path()->string() + ": " + std::to_string(ckpt.unlisted().size()) +
                  " tensor(s) in the shards are not in weight_map and will not be loaded (e.g. \"" +
                  ckpt.unlisted().front() + "\")");
    }
    for (const auto& name : ckpt.names()) {
      if (!seen.insert(name).second) report.warn(dir.string() + ": tensor \"" + name + "\" is in more than one file");
    }
  }
  report.sources.push_back(std::move(source));
}

// ---- consistency checks: config vs tensors ----------------------------------------------------------

class Checker {
 public:
  Checker(const WeightSource& source, std::string prefix, std::string label, InspectReport& report)
      : source_(source), prefix_(std::move(prefix)), label_(std::move(label)), report_(report) {}

  // The first of `bases` (after the prefix) under which `probe` exists, or nullopt.
  std::optional<std::string> base(std::initializer_list<const char*> bases, const std::string& probe) const {
    for (const char* b : bases) {
      if (source_.find(prefix_ + b + probe)) return prefix_ + b;
    }
    return std::nullopt;
  }

  const io::TensorView* find(const std::string& name) const { return source_.find(name); }

  void expect_shape(const std::string& name, const std::vector<int64_t>& shape, const std::string& why) {
    const auto* t = find(name);
    if (!t) {
      warn("missing tensor \"" + name + "\"");
    } else if (t->shape != shape) {
      warn("\"" + name + "\" has shape " + shape_string(t->shape) + " but the config implies " + shape_string(shape) +
           " (" + why + ")");
    }
  }

  void expect_presence(const std::string& name, bool expected, const std::string& why) {
    const bool present = find(name) != nullptr;
    if (present != expected) {
      warn(expected ? "missing tensor \"" + name + "\" (" + why + ")"
                    : "unexpected tensor \"" + name + "\" (" + why + ")");
    }
  }

  // Number of distinct N in "<base>layers.N." names.
  int64_t count_layers(const std::string& base, const std::string& layers = "layers.") const {
    std::set<int64_t> ids;
    const std::string p = base + layers;
    for (const auto& name : source_.names()) {
      if (!starts_with(name, p)) continue;
      size_t dot = name.find('.', p.size());
      try {
        ids.insert(std::stoll(name.substr(p.size(), dot - p.size())));
      } catch (const std::exception&) {
      }
    }
    return static_cast<int64_t>(ids.size());
  }

  uint64_t parameters_under(const std::string& p) const {
    uint64_t n = 0;
    for (const auto& name : source_.names()) {
      if (starts_with(name, p)) n += static_cast<uint64_t>(find(name)->numel());
    }
    return n;
  }

  void warn(const std::string& what) { report_.warn(label_ + ": " + what); }

  const std::string& prefix() const { return prefix_; }

 private:
  const WeightSource& source_;
  std::string prefix_;
  std::string label_;
  InspectReport& report_;
};

void check_language_model(const io::LanguageModelConfig& c, Checker& k) {
  auto base = k.base({"model.", ""}, "embed_tokens.weight");
  if (!base) {
    k.warn("no \"" + k.prefix() + "model.embed_tokens.weight\"; these weights do not look like a " + c.model_type +
           " checkpoint");
    return;
  }
  const std::string b = *base;
  const std::string head = k.prefix() + "lm_head.weight";
  k.expect_shape(b + "embed_tokens.weight", {c.vocab_size, c.hidden_size}, "vocab_size x hidden_size");
  if (!c.tie_word_embeddings) {
    if (!k.find(head)) {
      k.warn("tie_word_embeddings is false but \"" + head + "\" is missing (the output layer has no weights)");
    } else {
      k.expect_shape(head, {c.vocab_size, c.hidden_size}, "vocab_size x hidden_size");
    }
  }
  k.expect_shape(b + "norm.weight", {c.hidden_size}, "hidden_size");
  const int64_t layers = k.count_layers(b);
  if (layers != c.num_hidden_layers) {
    k.warn("config has num_hidden_layers = " + std::to_string(c.num_hidden_layers) + " but the weights have " +
           std::to_string(layers) + " layers");
  }
  if (layers == 0) return;
  const std::string l = b + "layers.0.";
  const int64_t q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  k.expect_shape(l + "self_attn.q_proj.weight", {q, c.hidden_size}, "num_attention_heads * head_dim x hidden_size");
  k.expect_shape(l + "self_attn.k_proj.weight", {kv, c.hidden_size}, "num_key_value_heads * head_dim x hidden_size");
  k.expect_shape(l + "self_attn.v_proj.weight", {kv, c.hidden_size}, "num_key_value_heads * head_dim x hidden_size");
  k.expect_shape(l + "self_attn.o_proj.weight", {c.hidden_size, q}, "hidden_size x num_attention_heads * head_dim");
  k.expect_shape(l + "mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size}, "intermediate_size x hidden_size");
  k.expect_shape(l + "mlp.up_proj.weight", {c.intermediate_size, c.hidden_size}, "intermediate_size x hidden_size");
  k.expect_shape(l + "mlp.down_proj.weight", {c.hidden_size, c.intermediate_size}, "hidden_size x intermediate_size");
  const std::string bias_why = c.family == io::ModelFamily::kQwen2 ? "Qwen2 has q/k/v biases" : "attention_bias";
  k.expect_presence(l + "self_attn.q_proj.bias", c.qkv_bias, bias_why);
  k.expect_presence(l + "self_attn.o_proj.bias", c.o_bias, "attention_bias");
  k.expect_presence(l + "mlp.gate_proj.bias", c.mlp_bias, "mlp_bias");
  k.expect_presence(l + "self_attn.q_norm.weight", c.qk_norm, "Qwen3 normalises q and k");
  uint64_t expected = io::expected_parameter_count(c);
  if (c.tie_word_embeddings && k.find(head)) expected += static_cast<uint64_t>(c.vocab_size * c.hidden_size);
  const uint64_t actual = k.parameters_under(b) + (k.find(head) ? static_cast<uint64_t>(k.find(head)->numel()) : 0);
  if (actual != expected) {
    k.warn("the config implies " + std::to_string(expected) + " parameters but the weights hold " +
           std::to_string(actual));
  }
}

void check_whisper(const io::WhisperConfig& c, Checker& k) {
  auto base = k.base({"model.encoder.", "encoder.", ""}, "conv1.weight");
  if (!base) {
    k.warn("no \"" + k.prefix() + "model.encoder.conv1.weight\"; these weights do not look like a Whisper encoder");
    return;
  }
  const std::string b = *base;
  k.expect_shape(b + "conv1.weight", {c.d_model, c.num_mel_bins, 3}, "d_model x num_mel_bins x 3");
  k.expect_shape(b + "conv2.weight", {c.d_model, c.d_model, 3}, "d_model x d_model x 3");
  k.expect_shape(b + "embed_positions.weight", {c.max_source_positions, c.d_model}, "max_source_positions x d_model");
  k.expect_shape(b + "layer_norm.weight", {c.d_model}, "d_model");
  const int64_t layers = k.count_layers(b);
  if (layers != c.encoder_layers) {
    k.warn("config has encoder_layers = " + std::to_string(c.encoder_layers) + " but the weights have " +
           std::to_string(layers) + " encoder layers");
    return;
  }
  k.expect_shape(b + "layers.0.fc1.weight", {c.encoder_ffn_dim, c.d_model}, "encoder_ffn_dim x d_model");
  const uint64_t expected = io::expected_encoder_parameter_count(c);
  const uint64_t actual = k.parameters_under(b);
  if (actual != expected) {
    k.warn("the config implies " + std::to_string(expected) + " encoder parameters but the weights hold " +
           std::to_string(actual));
  }
}

// ---- the model's config ---------------------------------------------------------------------------

ojson describe(const io::HfConfig& hf) {
  ojson m;
  if (const auto* w = hf.whisper()) {
    m["model_type"] = w->model_type;
    m["architectures"] = w->architectures;
    m["summary"] = io::summary(*w);
    m["encoder_parameters"] = io::expected_encoder_parameter_count(*w);
  } else {
    const auto& lm = *hf.language_model();
    m["model_type"] = lm.model_type;
    m["architectures"] = lm.architectures;
    m["summary"] = io::summary(lm);
    m["expected_parameters"] = io::expected_parameter_count(lm);
  }
  return m;
}

// Checks the weights of `source` with `prefix` against one HF config.
void check_hf(const io::HfConfig& hf, const WeightSource& source, const std::string& prefix, const std::string& label,
              InspectReport& report) {
  Checker k(source, prefix, label, report);
  if (const auto* w = hf.whisper()) {
    check_whisper(*w, k);
  } else {
    check_language_model(*hf.language_model(), k);
  }
}

bool has_prefix(const WeightSource& s, const std::string& prefix) {
  for (const auto& name : s.names()) {
    if (starts_with(name, prefix)) return true;
  }
  return false;
}

void inspect_composite(const fs::path& dir, const io::SlmConfig& slm, InspectReport& report) {
  ojson m;
  m["model_type"] = io::kSlmModelType;
  auto component = [&](const auto& c, const io::HfConfig& hf) {
    ojson j = describe(hf);
    j["source"] = c.is_inline() ? "inline" : "path " + c.path;
    return j;
  };
  m["encoder"] = component(slm.encoder, io::HfConfig{slm.encoder.config});
  const auto& a = slm.adapter;
  m["adapter"] = {{"summary", a.type + ", stride " + std::to_string(a.stride) + ", " + std::to_string(a.num_layers) +
                                  " layers, " + std::to_string(a.input_size) + " -> " + std::to_string(a.hidden_size) +
                                  " -> " + std::to_string(a.output_size)}};
  m["language_model"] = component(slm.language_model, io::HfConfig{slm.language_model.config});
  const auto& t = slm.style_head;
  m["style_head"] = {{"summary", t.backend + ", " + std::to_string(t.input_size) + " -> " +
                                     std::to_string(t.hidden_size) + " (" + std::to_string(t.num_layers) +
                                     " layers), " + std::to_string(t.emotions.size()) + " emotions, " +
                                     std::to_string(t.style_attributes.size()) + " style attributes"}};
  report.models.push_back(m);

  // Weights: the composite's own (tensors prefixed by component name) and each path component's directory.
  load_directory_weights(dir, "", report);
  // report.sources grows below: refer to the composite's own weights by position, not by pointer.
  const bool has_top = !report.sources.empty();
  auto top_has = [&](const std::string& prefix) { return has_top && has_prefix(report.sources[0], prefix); };
  auto check_component = [&](const auto& c, const char* name) {
    const io::HfConfig hf{c.config};
    const std::string prefix = std::string(name) + ".";
    if (top_has(prefix)) check_hf(hf, report.sources[0], prefix, dir.string() + " (" + name + ")", report);
    if (!c.is_inline()) {
      const size_t before = report.sources.size();
      load_directory_weights(c.dir, name, report);
      if (report.sources.size() > before) {
        check_hf(hf, report.sources.back(), "", c.dir.string() + " (" + name + ")", report);
      }
    } else if (!top_has(prefix)) {
      report.warn(dir.string() + ": no weights for the inline " + name + " (expected tensors named " + prefix + "*)");
    }
  };
  check_component(slm.encoder, "encoder");
  check_component(slm.language_model, "language_model");
  if (!top_has("adapter.")) report.warn(dir.string() + ": no adapter.* tensors (the adapter is untrained)");
  if (!top_has("style_head.") && !top_has("talker.")) {
    report.warn(dir.string() + ": no style_head.* tensors (the speech-style head is untrained)");
  }
  if (has_top) {
    for (const auto& name : report.sources[0].names()) {
      bool known = false;
      for (const char* p : {"encoder.", "encoder_heads.", "adapter.", "language_model.", "style_head.", "talker."})
        known = known || starts_with(name, p);
      if (!known) {
        report.warn(dir.string() + ": tensor \"" + name + "\" belongs to no component (expected a prefix encoder., " +
                    "encoder_heads., adapter., language_model., style_head. or the legacy talker.)");
        break;
      }
    }
  }
  if (!fs::exists(dir / "tokenizer.json") &&
      !(slm.language_model.dir.empty() ? false : fs::exists(slm.language_model.dir / "tokenizer.json"))) {
    report.warn(dir.string() + ": tokenizer.json is missing (here and in the language model's directory)");
  }
}

void inspect_directory(const fs::path& dir, InspectReport& report) {
  const fs::path config_path = dir / "config.json";
  bool has_weights = fs::exists(dir / io::kSafetensorsIndexName) || fs::exists(dir / io::kSafetensorsSingleName);
  for (const auto& entry : fs::directory_iterator(dir)) {
    has_weights = has_weights || entry.path().extension() == ".safetensors";
  }
  if (!fs::exists(config_path) && !has_weights) {
    throw InputError(dir.string(), "no config.json and no .safetensors files; not a model directory");
  }
  if (!fs::exists(config_path)) {
    report.warn(dir.string() + ": config.json is missing; only the weights are inspected");
    load_directory_weights(dir, "", report);
    return;
  }
  nlohmann::json config;
  try {
    config = io::read_json_file(config_path);
    if (io::is_slm_config(config)) {
      inspect_composite(dir, io::parse_slm_config(config, config_path.string(), dir), report);
      return;
    }
    const io::HfConfig hf = io::parse_hf_config(config, config_path.string());
    report.models.push_back(describe(hf));
    load_directory_weights(dir, "", report);
    if (!report.sources.empty()) check_hf(hf, report.sources.front(), "", dir.string(), report);
    if (hf.language_model() && !fs::exists(dir / "tokenizer.json")) {
      report.warn(dir.string() + ": tokenizer.json is missing");
    }
  } catch (const ConfigError& e) {
    report.errors.push_back(e.what());
    if (report.sources.empty() && has_weights) load_directory_weights(dir, "", report);
  }
}

}  // namespace

InspectReport inspect_model(const fs::path& path) {
  InspectReport report;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(path.string(), "no such file or directory");
  if (fs::is_directory(path, ec)) {
    inspect_directory(path, report);
  } else if (path.filename() == "config.json") {
    inspect_directory(path.parent_path().empty() ? fs::path(".") : path.parent_path(), report);
  } else {
    WeightSource source{"", path, {}};
    source.checkpoints.push_back(io::SafetensorsCheckpoint::open(path));
    report.sources.push_back(std::move(source));
  }
  return report;
}

// ---- output ---------------------------------------------------------------------------------------

WeightTotals weight_totals(const InspectReport& r) {
  WeightTotals t;
  for (const auto& s : r.sources) {
    for (const auto& c : s.checkpoints) {
      for (const auto& name : c.names()) {
        const auto& v = c.tensor(name);
        auto& d = t.dtypes[std::string(io::dtype_name(v.dtype))];
        ++t.tensors;
        ++d[0];
        t.parameters += static_cast<uint64_t>(v.numel());
        d[1] += static_cast<uint64_t>(v.numel());
        t.bytes += v.nbytes;
        d[2] += v.nbytes;
      }
    }
  }
  return t;
}

std::vector<std::string> weight_files(const WeightSource& s) {
  std::vector<std::string> out;
  for (const auto& c : s.checkpoints) {
    if (c.index_path()) out.push_back(c.index_path()->string());
    for (const auto& f : c.files()) out.push_back(f.path().string());
  }
  return out;
}

ojson inspect_report_json(const fs::path& path, const InspectReport& r, bool with_tensors) {
  const WeightTotals t = weight_totals(r);
  ojson j;
  j["path"] = path.string();
  j["models"] = r.models;
  ojson weights = ojson::array();
  for (const auto& s : r.sources) {
    weights.push_back({{"component", s.component}, {"location", s.location.string()}, {"files", weight_files(s)}});
  }
  j["weights"] = weights;
  j["tensors"] = t.tensors;
  j["parameters"] = t.parameters;
  j["parameters_human"] = human_count(t.parameters);
  j["bytes"] = t.bytes;
  ojson dtypes = ojson::object();
  for (const auto& [name, d] : t.dtypes) dtypes[name] = {{"tensors", d[0]}, {"parameters", d[1]}, {"bytes", d[2]}};
  j["dtypes"] = dtypes;
  if (with_tensors) {
    ojson list = ojson::array();
    for (const auto& s : r.sources) {
      for (const auto& c : s.checkpoints) {
        for (const auto& name : c.names()) {
          const auto& v = c.tensor(name);
          ojson e = {{"name", name}, {"dtype", io::dtype_name(v.dtype)}, {"shape", v.shape}};
          if (!s.component.empty()) e["component"] = s.component;
          list.push_back(e);
        }
      }
    }
    j["tensor_list"] = list;
  }
  j["warnings"] = r.warnings;
  j["errors"] = r.errors;
  return j;
}

}  // namespace attune::io
