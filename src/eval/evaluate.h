// The model card's measurements on the runtime API (attune/runtime.h) (emotion from the voice
// alone is eval/ser_eval.h):
//   evaluate_turns: per-turn emotion, cause and reply over voiced multi-turn dialogues (a
//                   `attune data build --voices` dialogues.jsonl, e.g. RECCON valid).
// Torch-free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attune/runtime.h"
#include "eval/emotion_scores.h"
#include "text/transcript.h"

namespace attune::eval {

struct TurnsOptions {
  std::filesystem::path dialogues;  // dialogues.jsonl of a voiced build (audio paths relative to it)
  std::string corpus = "reccon";    // meta.corpus to keep ("" = all)
  int64_t limit = 0;                // dialogues at most (0: all)
  int64_t sample = 0;               // > 0: this many dialogues drawn with `seed` (file order kept)
  uint64_t seed = 1234;
  // Each turn's reference words go to the model beside its audio: what a perfect transcription
  // would give (an upper bound for the quotes and replies; the voice is still heard).
  bool reference_words = false;
};

struct TurnsReport {
  EmotionScores emotion;  // what the model reports (Reply::emotion)
  // The same turns by source, when the model has encoder heads: the head alone, the thinking's label.
  EmotionScores emotion_head, emotion_thinking;
  // Turns whose words are neutral but whose voice is not (the build's mismatched voices): does the
  // voice's label win? (accuracy = the share where it does)
  EmotionScores voice_over_words;
  // Calibration of the reported probabilities over the labelled turns: Brier score (sum over the
  // seven labels of (p - truth)^2, averaged) and expected calibration error of the top label (10 bins).
  double brier_sum = 0;
  int64_t calibrated_turns = 0;
  std::vector<std::pair<double, bool>> top_confidence;  // (probability of the top label, right?)
  int64_t dialogues = 0, turns = 0;
  int64_t cause_turns = 0;  // non-neutral turns with an annotated cause
  double cause_f1_sum = 0;  // word F1 of the thinking's quote vs the annotated cause
  int64_t cause_hits = 0;   // ... >= 0.5
  int64_t replies = 0, empty_replies = 0;
  double reply_words_sum = 0;
  double reply_f1_sum = 0;  // word F1 of the reply vs the corpus reply (a crude content overlap)
  std::vector<double> first_reply_token_s;
  // What the encoder's CTC head heard (Reply::heard_words) against the turn's words, per talker
  // engine ("espeak", "flite"; "recorded" for real speech) and over all.
  std::map<std::string, text::TranscriptErrors> heard_words;
  nlohmann::json records = nlohmann::json::array();  // the dialogue records (dialogue_record-like)

  nlohmann::json summary() const;
};

TurnsReport evaluate_turns(const Model& model, const SessionOptions& session, const TurnsOptions& options);

// TurnsReport::records as Markdown, one section per dialogue: each user turn's words, its labelled
// and heard emotion, the thinking and the reply beside the corpus reply.
std::string turns_transcript_markdown(const nlohmann::json& records);

}  // namespace attune::eval
