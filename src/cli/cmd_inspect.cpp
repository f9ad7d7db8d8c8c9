// `attune inspect PATH`: what a model directory, a .safetensors file or a sharded checkpoint's
// index holds — architecture(s), parameter count, dtypes, bytes, optionally every tensor — and what
// is missing or inconsistent (config vs tensor shapes, untied head without lm_head, no tokenizer).
// Results go to stdout (text, or JSON with --json). Unreadable input: one-line error, exit 1; an
// invalid config is reported and also exits 1; warnings exit 0 unless --strict.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "attune/error.h"
#include "cli/command.h"
#include "io/model_config.h"
#include "io/model_inspect.h"
#include "io/safetensors.h"

namespace attune::cli {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

struct InspectOptions {
  std::string path;
  bool tensors = false;
  bool json = false;
  bool strict = false;
};

void print_text(const fs::path& path, const io::InspectReport& r, bool with_tensors) {
  const io::WeightTotals t = io::weight_totals(r);
  std::printf("path:        %s\n", path.string().c_str());
  for (const auto& m : r.models) {
    if (m["model_type"] == io::kSlmModelType) {
      std::printf("model:       attune_slm\n");
      for (const char* part : {"encoder", "adapter", "language_model", "style_head"}) {
        const auto& c = m[part];
        std::string line = c["summary"].get<std::string>();
        if (c.contains("source")) line += " [" + c["source"].get<std::string>() + "]";
        std::printf("  %-15s %s\n", (std::string(part) + ":").c_str(), line.c_str());
      }
    } else {
      std::string arch;
      for (const auto& a : m["architectures"]) arch += (arch.empty() ? "" : ", ") + a.get<std::string>();
      std::printf("model:       %s%s\n", m["model_type"].get<std::string>().c_str(),
                  arch.empty() ? "" : (" (" + arch + ")").c_str());
      std::printf("             %s\n", m["summary"].get<std::string>().c_str());
    }
  }
  for (const auto& s : r.sources) {
    const auto files = io::weight_files(s);
    std::string label = s.component.empty() ? "files:" : s.component + ":";
    for (size_t i = 0; i < files.size(); ++i) {
      std::printf("%-12s %s\n", i == 0 ? label.c_str() : "", files[i].c_str());
    }
  }
  std::printf("tensors:     %llu\n", static_cast<unsigned long long>(t.tensors));
  std::printf("parameters:  %s (%llu)\n", io::human_count(t.parameters).c_str(),
              static_cast<unsigned long long>(t.parameters));
  std::printf("size:        %s (%llu bytes)\n", io::human_bytes(t.bytes).c_str(),
              static_cast<unsigned long long>(t.bytes));
  for (const auto& [name, d] : t.dtypes) {
    std::printf("dtype %-6s %llu tensors, %s parameters, %s\n", (name + ":").c_str(),
                static_cast<unsigned long long>(d[0]), io::human_count(d[1]).c_str(), io::human_bytes(d[2]).c_str());
  }
  if (with_tensors) {
    std::printf("\n");
    for (const auto& s : r.sources) {
      for (const auto& c : s.checkpoints) {
        for (const auto& name : c.names()) {
          const auto& v = c.tensor(name);
          std::string shown = s.component.empty() ? name : s.component + "/" + name;
          std::printf("%-60s %-7s %s\n", shown.c_str(), std::string(io::dtype_name(v.dtype)).c_str(),
                      io::shape_string(v.shape).c_str());
        }
      }
    }
  }
  if (!r.warnings.empty()) {
    std::printf("warnings:\n");
    for (const auto& w : r.warnings) std::printf("  - %s\n", w.c_str());
  }
  if (!r.errors.empty()) {
    std::printf("errors:\n");
    for (const auto& e : r.errors) std::printf("  - %s\n", e.c_str());
  }
}

int run(const InspectOptions& o) {
  const fs::path path(o.path);
  io::InspectReport r;
  try {
    r = io::inspect_model(path);
  } catch (const fs::filesystem_error& e) {
    throw InputError(e.path1().empty() ? o.path : e.path1().string(), e.code().message());
  }
  if (o.json) {
    std::printf(
        "%s\n",
        io::inspect_report_json(path, r, o.tensors).dump(2, ' ', false, ojson::error_handler_t::replace).c_str());
  } else {
    print_text(path, r, o.tensors);
  }
  for (const auto& e : r.errors) std::fprintf(stderr, "attune: error: %s\n", e.c_str());
  if (!r.errors.empty()) return 1;
  if (o.strict && !r.warnings.empty()) {
    std::fprintf(stderr, "attune: %zu warning(s) and --strict given\n", r.warnings.size());
    return 1;
  }
  return 0;
}

const bool registered = register_command(
    {"inspect", "Show what a model directory, .safetensors file or index.json holds, and what is inconsistent",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<InspectOptions>();
       app.add_option("path", o->path, "Model directory, .safetensors file, or model.safetensors.index.json")
           ->required();
       app.add_flag("--tensors", o->tensors, "List every tensor (name, dtype, shape)");
       app.add_flag("--json", o->json, "Machine-readable JSON on stdout");
       app.add_flag("--strict", o->strict, "Exit 1 when there are warnings");
       return [o] { return run(*o); };
     }});

}  // namespace
}  // namespace attune::cli
