// `eval report` over hand-written run directories: the side-by-side table takes every run's number,
// human ratings beside a T3 run and judge components combine into docs/design.md's final score
// (worked out by hand), and a directory without a summary is a clear error.
#include <gtest/gtest.h>

#include <fstream>

#include "attune/error.h"
#include "eval/report.h"
#include "support/test_support.h"

namespace attune::eval {
namespace {

namespace fs = std::filesystem;

TEST(Report, SideBySideAndTheFinalScore) {
  testing::TempDir dir;
  const auto write = [&](const std::string& name, const nlohmann::json& summary) {
    fs::create_directories(dir.path() / name);
    std::ofstream(dir.path() / name / "summary.json") << summary.dump();
    return dir.path() / name;
  };
  const fs::path full = write("ieat-full", {{"source", "ravdess valid"},
                                            {"model", {{"clips", 120}, {"ua", 0.25}, {"wa", 0.3}}},
                                            {"baseline", {{"ua", 0.5}}}});
  const fs::path none =
      write("ieat-none", {{"source", "ravdess valid"}, {"model", {{"clips", 120}, {"ua", 0.125}, {"wa", 0.2}}}});
  const fs::path t1 = write("t1", {{"task", "t1"},
                                   {"dialogues", 10},
                                   {"t1", {{"trajectory_exact_match", 0.1}}},
                                   {"score_components", {{"T1", 0.6}}}});
  const fs::path t3 = write("t3", {{"task", "t3"}, {"dialogues", 10}, {"score_components", {{"T3_text", 0.8}}}});
  std::ofstream(t3 / "human-ratings.csv")
      << "dialogue_id,turn_id,vocal_empathy_1to5,naturalness_1to5\n\"a\",2,4,5\n\"b\",2,2,3\n";
  std::ofstream(t1 / "results.jsonl")
      << R"({"dialogue_id":"d1","turns":[{"turn_id":1,"emotion":"sad","heard":"neutral","task":""},{"turn_id":2,"emotion":"anger","heard":"anger","task":""},{"turn_id":3,"emotion":"sad","heard":"","task":"t1"}]})"
      << "\n";

  const Report r = build_report({full, none, t1, t3});
  EXPECT_NE(r.markdown.find("| ieat-full (ravdess valid) | ieat-none (ravdess valid) |"), std::string::npos)
      << r.markdown;
  EXPECT_NE(r.markdown.find("| UA (model) | 0.250 | 0.125 |"), std::string::npos) << r.markdown;
  EXPECT_NE(r.markdown.find("| T1 trajectory exact match | 0.100 | - |"), std::string::npos) << r.markdown;
  // vocal (4+2)/2/5 = 0.6, naturalness (5+3)/2/5 = 0.8;
  // (0.2*0.6 + 0.1*0.8 + 0.25*0.6 + 0.25*0.8) / (0.2 + 0.1 + 0.25 + 0.25) = 0.55 / 0.8 = 0.6875.
  EXPECT_NEAR(r.summary["final_score"]["score"].get<double>(), 0.6875, 1e-12);
  EXPECT_EQ(r.summary["final_score"]["components_used"].size(), 4u);
  EXPECT_NE(r.html.find("per-turn emotion, annotated vs heard"), std::string::npos);
  const std::string svg = trajectory_svg(nlohmann::json::parse(
      R"({"dialogue_id":"d1","turns":[{"turn_id":1,"emotion":"sad","heard":"neutral","task":""},{"turn_id":2,"emotion":"anger","heard":"","task":""}]})"));
  const auto occurrences = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = svg.find(what); at != std::string::npos; at = svg.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(occurrences("<circle"), 2u);   // two annotated turns
  EXPECT_EQ(occurrences("<rect x="), 1u);  // one heard point (turn 2 heard nothing)

  fs::create_directories(dir.path() / "empty");
  EXPECT_THROW(build_report({dir.path() / "empty"}), InputError);
}

}  // namespace
}  // namespace attune::eval
