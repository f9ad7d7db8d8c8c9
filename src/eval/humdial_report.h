// What follows a HumDial run: the judge's scores per item (eval/judge.h), the score components of
// docs/design.md's final formula that the run can give, and, for T3, the sheet for human rating of vocal
// empathy and naturalness (a CSV plus an HTML page that plays each reply). Torch-free.
#pragma once

#include <filesystem>

#include <nlohmann/json.hpp>

#include "eval/humdial.h"
#include "eval/judge.h"

namespace attune::eval {

// Judges every record of the run (adding "judge" to the item it grades) and returns
// {items, judged, failed, failures[], mean per dimension, requests, cache_hits}.
nlohmann::json judge_humdial(HumdialRun& run, Judge& judge);

// The components of 0.2*T1 + 0.2*T2 + 0.1*T3 text + 0.25*T3 vocal + 0.25*T3 naturalness that this
// run has, each on 0-1 (a judge mean on 1-5 maps to mean/5): {"T1": x} or {"T3_text": x}; vocal
// empathy and naturalness come from human ratings (eval report reads them), never from a run.
nlohmann::json score_components(const nlohmann::json& judge_summary, const std::string& task);

// docs/design.md's final score from whichever components are present (weights renormalised over them):
// {"score", "components_used", "weights"}.
nlohmann::json final_score(const nlohmann::json& components);

// human-rating.csv and human-rating.html in `out` for the graded T3 replies (audio paths relative to `out`).
void write_human_rating_sheet(const HumdialRun& run, const std::filesystem::path& out);

}  // namespace attune::eval
