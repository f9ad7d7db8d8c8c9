// How the talker's voices carry emotion (`attune eval talkers`). For each English voice of each engine
// and each emotion at a few intensities, a fixed set of sentences is spoken and measured against the
// same voice speaking the same sentence neutrally:
//   - pitch (median F0, semitones), pitch range (F0 p20-p80 range, ratio), rate (duration ratio:
//     neutral / emotional, so > 1 is faster) and loudness (active level, dB);
//   - vocal congruence: the emotion a classifier hears in the audio against the intended one. The
//     classifier is the model's speech-encoder emotion head (the best recogniser attune has: it beats
//     the prosody baseline on RAVDESS), run on each clip alone;
//   - speed: RTF of whole sentences and the time to the first sentence's audio of a two-sentence reply.
// Torch-free (the classifier comes through the runtime).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attune/runtime.h"

namespace attune::eval {

struct TalkerEvalOptions {
  std::vector<std::string> voices;  // built-in voice names; empty: every English voice
  std::vector<double> intensities = {0.3, 0.6, 0.9};
  int64_t sentences = 20;        // of talker_eval_sentences(), 1..20
  double congruence_from = 0.6;  // the summary's congruence is over intensities >= this

  // ConfigError naming the first bad field.
  void validate() const;
};

// One voice, emotion and intensity over the sentences: means of the per-sentence deltas.
struct TalkerCell {
  std::string voice, engine, emotion;
  double intensity = 0;
  int64_t clips = 0, congruent = 0;
  double pitch_st = 0, range_ratio = 0, rate_ratio = 0, loudness_db = 0;  // measured, against neutral
  double intended_pitch_st = 0, intended_range = 1, intended_rate = 1, intended_loudness_db = 0;
  std::map<std::string, int64_t> heard;  // label -> clips

  double congruence() const { return clips > 0 ? static_cast<double>(congruent) / clips : 0; }
};

struct TalkerVoiceSummary {
  std::string voice, engine;
  double congruence = 0;          // over the emotional cells at intensity >= congruence_from
  double neutral_congruence = 0;  // neutral clips heard as neutral
  double rtf = 0;                 // median over the sentences (synthesis s / audio s)
  double first_audio_s = 0;       // median time to the first sentence of a two-sentence reply
  // Measured deltas in the profile's direction (sign agreement, over emotion x intensity x measure
  // where the profile moves the measure).
  double direction_agreement = 0;
};

struct TalkerEvalResult {
  std::vector<TalkerCell> cells;  // voice-major, then emotion, then intensity; neutral once per voice
  std::vector<TalkerVoiceSummary> voices;
  std::string classifier;  // "attune-small encoder head"

  // The English voice with the highest congruence (ties: the faster first audio).
  const TalkerVoiceSummary& best_voice() const;
  nlohmann::json to_json() const;
  // The per-voice summary and the per-emotion congruence table, as Markdown.
  std::string markdown(double congruence_from) const;
};

// The fixed sentences (20): everyday, emotionally open wording, so the voice carries the feeling.
const std::vector<std::string>& talker_eval_sentences();

// Runs the measurement. `model` must have encoder heads (config.json "encoder_heads"); its name goes
// into `classifier`. Throws ConfigError for bad options or a model without heads.
TalkerEvalResult evaluate_talkers(const Model& model, const std::string& model_name, const TalkerEvalOptions& options);

}  // namespace attune::eval
