// Speech emotion recognition from the voice alone, over a manifest (eval/ser_manifest.h): the model
// hears each clip in a fresh session; the classical baseline is a linear classifier over attune's
// prosody functionals fitted on a training manifest. Both give the same report: UA (unweighted
// accuracy = mean recall per label, the headline), WA (plain accuracy), macro-F1, confusion matrix,
// and per-speaker breakdown. Torch-free.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attune/runtime.h"
#include "eval/emotion_scores.h"
#include "eval/ser_manifest.h"

namespace attune::eval {

struct SerRun {
  std::string system;  // "attune-small", "prosody baseline"
  EmotionScores scores;
  std::map<std::string, EmotionScores> per_speaker;
  std::vector<double> first_token_s;               // the model's, per clip
  nlohmann::json clips = nlohmann::json::array();  // {file, speaker, truth, heard[, probabilities]}
  std::vector<std::string> failed;                 // clips that could not be scored, with why

  // `probabilities` (label -> p), when given, go into the clip's record for later study.
  void add(const SerClip& clip, const std::string& heard,
           const std::vector<std::pair<std::string, double>>& probabilities = {});
  // Every number: ua, wa, macro_f1, clips, per-label recall and F1, confusion, per speaker.
  nlohmann::json summary() const;
};

// One pass of the model over the clips. The first run is what the model reports; for a model with
// encoder heads two more follow from the same turns: "<name> encoder head" (the head alone) and
// "<name> thinking" (the label its thinking names).
std::vector<SerRun> evaluate_ser_model(const Model& model, const SessionOptions& session,
                                       const std::vector<SerClip>& clips, const std::string& name);

// Fits on `train` (prosody functionals of each clip), predicts `test`.
SerRun evaluate_prosody_baseline(const std::vector<SerClip>& train, const std::vector<SerClip>& test);

// The confusion matrix as an SVG heat map (rows: truth, normalised per row; cells show counts).
std::string confusion_svg(const EmotionScores& scores, const std::string& title);

}  // namespace attune::eval
