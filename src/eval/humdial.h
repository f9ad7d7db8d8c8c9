// HumDial Track I, run the way a live system meets it: every dialogue turn by turn through one
// session, the replies written in the challenge's layout (per task a JSONL with response_text for
// every turn; for T3 also {dialogue_id}_{turn_id}_response.wav), and the objective scores that
// need no judge:
//   T1 trajectory: per-turn heard emotion (accuracy, macro-F1, confusion), whole-trajectory exact
//      match, and whether the answer to the trajectory question names exactly the annotated
//      emotions (HumDial's rule: neutral included, no renaming, no extras);
//   T2 reasoning: turn-level precision/recall/F1 of the turns the answer points at against the
//      reference answer's (or the annotated cause turns), and token F1 of quoted spans against the
//      annotated cause spans;
//   T3 empathy, on the graded turn (the second non-neutral user turn): acknowledgement, length,
//      distinct-1/2, and vocal congruence (attune's own recogniser on the reply audio against the
//      style the model meant).
// Bad items (missing audio, another language, malformed lines) are skipped with a reason and
// counted; the run goes on. Torch-free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attune/runtime.h"
#include "eval/emotion_scores.h"

namespace attune::eval {

struct HumdialOptions {
  std::filesystem::path data;  // HumDial JSONL (audio paths relative to it, or absolute)
  std::string task = "t1";     // t1, t2, t3
  std::string lang;            // keep only dialogues in this language ("" = en and zh)
  int64_t limit = 0;           // dialogues at most (0 = all)
  std::filesystem::path out;   // where {task}.jsonl and the T3 WAVs go ("" = nowhere)
};

struct HumdialRun {
  std::string task;
  int64_t dialogues = 0;
  std::vector<std::string> skipped;  // "line 7: ...", "dlg_12: missing audio ..."
  EmotionScores emotion;             // per ordinary turn
  int64_t trajectories = 0, trajectory_exact = 0;
  int64_t t1_answers = 0, t1_answer_exact = 0;
  int64_t t2_items = 0;
  double t2_precision = 0, t2_recall = 0, t2_f1 = 0;  // sums over items
  int64_t t2_span_items = 0;
  double t2_span_f1 = 0;
  int64_t graded = 0, acknowledged = 0;
  double graded_words = 0;
  std::vector<std::string> graded_replies;
  int64_t congruence_items = 0, congruent = 0;
  // Per dialogue: the challenge record plus attune's view; the judge reads these.
  nlohmann::json records = nlohmann::json::array();

  nlohmann::json summary() const;
};

HumdialRun evaluate_humdial(const Model& model, const SessionOptions& session, const HumdialOptions& options);

}  // namespace attune::eval
