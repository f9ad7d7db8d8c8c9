// The espeak-ng back end. espeak-ng is GPL-3.0, so attune never links libespeak-ng: synthesis runs
// in a separate process. Preferably that is attune-espeak (src/tts/espeak_server, a GPL-3.0 program
// of its own), a server kept running between utterances, which saves most of the cost of starting
// espeak-ng for each one; without it (or when it fails), each synthesis runs the `espeak-ng`
// program (no shell; the text goes in on stdin as SSML with every markup character escaped) and
// decodes the WAV it writes to stdout. A fresh server's first utterance equals the program's output
// sample for sample; reset() starts a fresh server.
//
// Style and voice map onto espeak-ng's controls (docs/talker.md has the measurements behind them):
//   pitch level  -> -p 0..99, through a measured curve from semitones (-7 .. +9 st around p = 50)
//   pitch range  -> SSML <prosody range="N%">, N = 100 x pitch_range, 0..200 (espeak-ng's limit)
//   rate         -> -s words per minute = base_rate_wpm x rate, 80..450
//   energy       -> -a amplitude = 70 x 10^(energy_db / 20), 0..200 (70: neutral, 3 dB below espeak-ng's
//                   default so that +9 dB stays within its range)
// Values beyond espeak-ng's limits are clamped. The emotion label itself is not used.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audio/audio_file.h"
#include "tts/talker.h"

namespace attune::tts {

struct EspeakOptions {
  std::string program = "espeak-ng";          // searched in PATH unless it contains '/'
  int sample_rate = audio::kModelSampleRate;  // output rate; espeak-ng's 22050 Hz is resampled to it
  double timeout_s = 60;                      // per espeak-ng run; a hung child is killed past it
  // The attune-espeak server: $ATTUNE_ESPEAK_SERVER, else the one built with attune, else
  // "attune-espeak" in PATH, else "" (run the espeak-ng program for every synthesis).
  std::string server = default_espeak_server();

  static std::string default_espeak_server();

  // Throws ConfigError naming the bad option.
  void validate() const;
};

// The espeak-ng settings one synthesis uses.
struct EspeakControls {
  std::string voice;              // -v
  int pitch = 50;                 // -p, 0..99
  int pitch_range_percent = 100;  // <prosody range="N%">, 0..200
  int words_per_minute = 175;     // -s, 80..450
  int amplitude = 70;             // -a, 0..200
};

// Maps a (validated) style and voice onto espeak-ng's controls, clamping to its limits.
EspeakControls espeak_controls(const SpeechStyle& style, const Voice& voice);
// espeak-ng's -p value whose median F0 lies `semitones` from that of p = 50, and the inverse; a
// piecewise-linear fit of measurements on five voices (docs/talker.md), clamped to 0..99.
double espeak_pitch_for_semitones(double semitones);
double semitones_for_espeak_pitch(double pitch);

// The argument vector: program, voice, pitch, rate, amplitude, SSML on, UTF-8 from stdin, WAV to stdout.
std::vector<std::string> espeak_argv(const std::string& program, const EspeakControls& controls);
// The stdin document: <speak><prosody range="N%">TEXT</prosody></speak>, with TEXT cleaned
// (clean_text) and & < > " ' escaped, so no markup from the text reaches espeak-ng's SSML parser.
std::string espeak_ssml(std::string_view text, const EspeakControls& controls);

// True when the espeak-ng program can be run (tests skip without it).
bool espeak_available(const std::string& program = "espeak-ng");

class SynthesisServer;

class EspeakTalker final : public Talker {
 public:
  explicit EspeakTalker(EspeakOptions options = {});
  ~EspeakTalker() override;

  std::string name() const override { return "espeak"; }
  int sample_rate() const override { return options_.sample_rate; }

  // Thread-safe (calls take turns on the server). Throws attune::Error
  // "espeak-ng not found: install it with scripts/install-deps.sh" when the program is missing, and
  // ConfigError for a voice of another engine.
  AudioBuffer synthesize(std::string_view text, const SpeechStyle& style, const Voice& voice) override;

  // Stops the server; the next synthesis starts a fresh one.
  void reset() override;

 private:
  // The utterance at espeak-ng's own rate from the server; nullopt when there is none or it failed
  // (then the espeak-ng program takes over and reports errors in its own words).
  std::optional<AudioBuffer> server_synthesize(const EspeakControls& controls, const std::string& ssml);

  EspeakOptions options_;
  std::unique_ptr<SynthesisServer> server_;  // null without one
  std::atomic<bool> server_failed_{false};
};

}  // namespace attune::tts
