// `attune eval report DIR...`: the results of `eval ser` and `eval humdial` runs gathered into one
// report for people (Markdown and HTML, with the confusion matrices and, for HumDial runs, the
// emotion trajectory of sample dialogues: annotated vs heard) and one JSON summary for machines.
// Several runs of the same kind stand side by side (e.g. the IEAT ablation variants); HumDial runs
// of T1/T2/T3 plus human ratings (human-ratings.csv beside a T3 run) give docs/design.md's final score.
// Torch-free.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace attune::eval {

struct Report {
  nlohmann::json summary;  // per run, the comparison tables, the final score
  std::string markdown;
  std::string html;
};

// Throws InputError naming a directory without a readable summary.json.
Report build_report(const std::vector<std::filesystem::path>& runs);

// The annotated and the heard emotion per turn of one dialogue record (results.jsonl), as SVG.
std::string trajectory_svg(const nlohmann::json& record);

}  // namespace attune::eval
