// What a model directory, a .safetensors file or a sharded checkpoint's index holds, and what is
// missing or inconsistent: the library side of `attune inspect` (src/cli/cmd_inspect.cpp prints it).
//
//   io::InspectReport r = io::inspect_model("models/attune-small");
//   r.errors;  r.warnings;  io::weight_totals(r).parameters;  io::inspect_report_json(path, r, false);
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace attune::io {

using ojson = nlohmann::ordered_json;

// The checkpoints found at one place; names are unique within a source.
struct WeightSource {
  std::string component;  // "" for the inspected path itself; else the composite's component name
  std::filesystem::path location;
  std::vector<SafetensorsCheckpoint> checkpoints;

  const TensorView* find(const std::string& name) const {
    for (const auto& c : checkpoints) {
      if (const auto* v = c.find(name)) return v;
    }
    return nullptr;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& c : checkpoints) out.insert(out.end(), c.names().begin(), c.names().end());
    return out;
  }
};

struct InspectReport {
  ojson models = ojson::array();  // per model: model_type and a summary per component
  std::vector<WeightSource> sources;
  std::vector<std::string> warnings;  // inconsistencies that still load (missing tokenizer, untrained parts)
  std::vector<std::string> errors;    // what stops the model from loading (bad config, mis-shaped tensors)

  void warn(std::string w) { warnings.push_back(std::move(w)); }
};

// Reads `path` (a directory, its config.json, or one .safetensors file) and checks it. Throws
// InputError for a path that does not exist or weights that cannot be read; config problems are
// reported in errors.
InspectReport inspect_model(const std::filesystem::path& path);

struct WeightTotals {
  uint64_t tensors = 0, parameters = 0, bytes = 0;
  std::map<std::string, std::array<uint64_t, 3>> dtypes;  // name -> tensors, parameters, bytes
};

WeightTotals weight_totals(const InspectReport& report);
// The index and shard files of a source.
std::vector<std::string> weight_files(const WeightSource& source);
// The report as `attune inspect --json` prints it (with every tensor when with_tensors).
ojson inspect_report_json(const std::filesystem::path& path, const InspectReport& report, bool with_tensors);

// "1.2M", "3.4 GiB", "[2, 3]".
std::string human_count(uint64_t n);
std::string human_bytes(uint64_t n);
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace attune::io
