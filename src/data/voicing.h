// Voices for user turns that were never recorded, and the prosody evidence of every voiced turn.
//
// Each dialogue gets one synthetic speaker (tts::random_voice, both sexes, seeded by the dialogue
// id; an English dialogue's speaker is a Flite voice with probability flite_share, else espeak-ng); each turn is
// rendered with the prosody profile of its emotion (affect::emotion_style) plus a little per-turn variation. A share of
// neutral-worded turns is spoken with an emotional voice instead ("the words are calm, the voice is not"): their
// emotion becomes the voice's, and source_emotion keeps the words' label. Recorded turns are measured as they are.
//
// Evidence: every voiced turn's F0 median, syllable rate, loudness and jitter are compared with a
// reference of the same speaker: the median of that speaker's earlier turns in the dialogue, or,
// for a first turn, the speaker's neutral voice (a neutral reference sentence for synthetic
// speakers; the median of the speaker's neutral clips for recorded corpora). docs/data.md, "Voicing".
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "affect/speech_style.h"
#include "audio/augment.h"
#include "data/diagnostics.h"
#include "data/dialogue.h"

namespace attune::tts {
class Talker;
}

namespace attune::data {

struct VoicingOptions {
  uint64_t seed = 0;
  bool synthesize = true;        // false: only measure the turns that have recordings
  std::string backend = "auto";  // tts::make_talker name ("auto": each voice's own engine)
  // Share of English dialogues whose speaker is a Flite voice (a seeded per-dialogue choice); the rest,
  // and every Mandarin one, speak with espeak-ng. 0 draws nothing, so builds stay as before.
  double flite_share = 0;
  double mismatch_rate = 0.15;  // share of neutral-worded turns spoken with an emotional voice
  bool augment = false;         // gain / noise / speed changes (AugmentRanges) on synthetic turns
  audio::AugmentRanges augment_ranges;

  void validate() const;
};

// The four prosody measures the evidence uses.
struct VoiceMeasure {
  double f0_hz = 0;        // median F0 of voiced frames (0: no voiced frames)
  double rate_syl_s = 0;   // syllables per second
  double loudness_db = 0;  // active loudness, dB re full scale
  double jitter_pct = 0;   // local jitter
};

// Measures of one dialogue: per turn (nullopt where the turn has no audio) and the reference for
// its first turn.
struct DialogueMeasures {
  std::vector<std::optional<VoiceMeasure>> turns;
  std::optional<VoiceMeasure> first_reference;
};

// Median of each measure over `measures` (F0 over the voiced ones only); nullopt when empty.
std::optional<VoiceMeasure> median_measure(const std::vector<VoiceMeasure>& measures);

// Resolves a turn's split_audio_file: absolute as is, otherwise relative to `base_dir`.
std::filesystem::path resolve_audio(const std::filesystem::path& base_dir, const std::string& file);

// One per worker thread (it owns a talker and analysis buffers).
class Voicer {
 public:
  // Synthetic audio goes to `out_dir`/audio/<dialogue_id>_<turn_id>.flac and turns point at it as
  // "audio/<dialogue_id>_<turn_id>.flac" (relative to out_dir, where dialogues.jsonl is written).
  Voicer(VoicingOptions options, std::filesystem::path out_dir);
  ~Voicer();

  // Renders every user turn of `dialogue` that has text but no audio (languages en and zh; others
  // are left unvoiced and reported), then measures every turn that has audio. Problems (text with
  // nothing to pronounce, missing or corrupt recordings) are reported and the turn stays without
  // audio. Recorded paths are resolved against `audio_base`. With `measure` false only the T1/T2
  // question turns without audio (added after measuring) are rendered, and nothing is measured.
  DialogueMeasures voice(Dialogue& dialogue, const std::filesystem::path& audio_base, Diagnostics& diag,
                         bool measure = true);

 private:
  VoicingOptions options_;
  std::filesystem::path out_dir_;
  std::unique_ptr<tts::Talker> talker_;
};

// Writes turn.voice's deltas (pitch_delta_st, rate_ratio, loudness_delta_db, jitter_ratio) for every
// measured turn: against the median of the earlier measured turns, or for the first one against
// `measures.first_reference`, or else `speaker_baseline` (recorded corpora). No reference: no deltas.
void assign_voice_deltas(Dialogue& dialogue, const DialogueMeasures& measures,
                         const std::optional<VoiceMeasure>& speaker_baseline);

// Per-speaker neutral baselines of a recorded corpus: for each voice.speaker, the median of its
// neutral turns (all its turns when it has no neutral one).
std::map<std::string, VoiceMeasure> speaker_baselines(const std::vector<Dialogue>& dialogues,
                                                      const std::vector<DialogueMeasures>& measures);

}  // namespace attune::data
