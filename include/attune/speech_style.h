// How a reply is said: the emotion its voice carries and the prosody that renders it. Shared by the
// talker (src/tts), the model's speech-style head and the public runtime API (attune/runtime.h).
#pragma once

#include <string>

#include "attune/export.h"

namespace attune {

// Numbers are relative to the voice, so one style fits every voice.
struct ATTUNE_API SpeechStyle {
  std::string emotion = "neutral";  // one of HumDial's seven labels (affect::emotion_labels())
  double intensity = 0.5;           // [0, 1]: how strongly the emotion shows
  double pitch_semitones = 0;       // pitch level relative to the voice's base, semitones, [-12, 12]
  double pitch_range = 1.0;         // multiplier of the intonation's excursions, [0, 3] (0: monotone)
  double rate = 1.0;                // multiplier of the voice's speaking rate, [0.5, 2]
  double energy_db = 0;             // loudness relative to the voice's neutral level, dB, [-30, 12]

  // Throws ConfigError naming the first bad field, its value and the allowed range.
  void validate() const;
  // "anger 0.80: pitch +1.6 st, range x1.31, rate x1.10, energy +4.8 dB"
  std::string to_string() const;
};

}  // namespace attune
