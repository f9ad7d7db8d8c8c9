// The run's metrics: one JSON object per line in <out>/metrics.jsonl (training lines carry "loss",
// validation lines "valid_loss"), and a loss-curve plot drawn from it (<out>/loss.svg).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace attune::train {

class MetricsLog {
 public:
  // Opens (creating) `path` for appending. `keep_until_step` >= 0 (a resumed run) first drops every
  // line of a later step, so the log continues exactly where the checkpoint left off.
  explicit MetricsLog(std::filesystem::path path, int64_t keep_until_step = -1);
  // Appends one line and flushes it (a killed run keeps every line written before).
  void write(const nlohmann::json& line);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Every line of a metrics.jsonl (malformed lines, e.g. one cut by a kill, are skipped).
std::vector<nlohmann::json> read_metrics(const std::filesystem::path& path);

// An SVG of training loss (and validation loss, when logged) against step; written atomically.
void write_loss_plot(const std::vector<nlohmann::json>& metrics, const std::filesystem::path& svg,
                     const std::string& title);

}  // namespace attune::train
