// The CMU Flite back end: Flite's US English voices (slt, rms, awb: clustergen; kal16: diphone),
// spoken by attune-flite (src/tts/flite_server), a server program kept running between utterances.
// Flite's licence allows linking, but a separate process lets a timeout bound a hung or crashing
// synthesis: the server is killed past `timeout_s`, retried once fresh, and then the call fails.
//
// Style and voice map onto Flite's own controls where it has them (docs/talker.md has the measurements):
//   pitch level  -> int_f0_target_mean x 2^(semitones / 12), relative to the voice's own mean
//   pitch range  -> int_f0_target_stddev x the same factor x pitch_range
//   rate         -> duration_stretch / (rate x base_rate_wpm / 175)
//   energy       -> not a Flite control: the samples are scaled by 0.5 x 10^(energy_db / 20) (neutral
//                   6 dB below Flite's level, so +6 dB stays within 16-bit range)
// The emotion label itself is not used.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "audio/audio_file.h"
#include "tts/talker.h"

namespace attune::tts {

struct FliteOptions {
  int sample_rate = audio::kModelSampleRate;  // output rate (Flite's voices speak at 16 kHz)
  double timeout_s = 60;                      // per utterance; a hung server is killed past it
  // The attune-flite server: $ATTUNE_FLITE_SERVER, else the one built with attune, else "attune-flite"
  // in PATH, else "" (no Flite: synthesis throws, saying how to get it).
  std::string server = default_flite_server();

  static std::string default_flite_server();

  // Throws ConfigError naming the bad option.
  void validate() const;
};

// The Flite settings one synthesis uses, as ratios to the voice's own.
struct FliteControls {
  std::string voice;       // "slt", "rms", "awb" or "kal16"
  double f0_ratio = 1;     // mean F0 multiplier, [0.25, 4]
  double range_ratio = 1;  // F0 standard deviation multiplier beyond f0_ratio, [0, 4]
  double rate_ratio = 1;   // speaking-rate multiplier, [0.25, 4]
  double gain = 0.5;       // sample scale
};

// Flite's voices that attune-flite serves.
const std::vector<std::string>& flite_voice_names();

// Maps a (validated) style and voice onto Flite's controls, clamping to their limits.
FliteControls flite_controls(const SpeechStyle& style, const Voice& voice);

// True when an attune-flite server program can be run (tests skip without it).
bool flite_available(const FliteOptions& options = {});

class SynthesisServer;

class FliteTalker final : public Talker {
 public:
  explicit FliteTalker(FliteOptions options = {});
  ~FliteTalker() override;

  std::string name() const override { return "flite"; }
  int sample_rate() const override { return options_.sample_rate; }

  // Thread-safe (calls take turns on the server). Throws ConfigError for a voice of another engine or
  // an unknown Flite voice, attune::Error when there is no attune-flite or it fails twice.
  AudioBuffer synthesize(std::string_view text, const SpeechStyle& style, const Voice& voice) override;

  // Stops the server; the next synthesis starts a fresh one.
  void reset() override;

 private:
  FliteOptions options_;
  std::unique_ptr<SynthesisServer> server_;  // null without one
};

}  // namespace attune::tts
