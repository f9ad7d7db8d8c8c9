// The emotion-to-speech mapping: how each emotion is spoken (its prosody profile, docs/talker.md),
// the speech-style head's regression targets, and the tone an empathic reply takes (docs/ieat.md,
// "Style mapping"). SpeechStyle itself is public (attune/speech_style.h); its methods live here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "attune/speech_style.h"

namespace attune::affect {

// The prosody profile of `emotion` scaled by `intensity` in [0, 1]: intensity 0 is neutral speech,
// 1 the full profile (docs/talker.md has the table and its sources). Semitones and dB scale linearly
// with intensity, the range and rate multipliers geometrically. Accepts the seven labels and common
// forms of them (canonical_emotion). Throws ConfigError naming an unknown emotion or an intensity
// outside [0, 1].
SpeechStyle emotion_style(std::string_view emotion, double intensity);

// The style as the speech-style head's regression targets, one value per name of `attributes`
// (io::StyleHeadConfig::style_attributes): "intensity" [0, 1], "pitch" = semitones / 12, "pace" =
// ln(rate), "energy" = dB / 12, "range" = ln(pitch range). ConfigError for an unknown name.
std::vector<float> style_to_attributes(const SpeechStyle& style, const std::vector<std::string>& attributes);
// The inverse: a style of `emotion` from the head's values, clamped into SpeechStyle's ranges.
// Fields without an attribute come from emotion_style(emotion, intensity).
SpeechStyle style_from_attributes(std::string_view emotion, const std::vector<float>& values,
                                  const std::vector<std::string>& attributes);

// The tone a reply is to be spoken in: a label and its intensity (the thinking's style line).
struct ResponseStyle {
  std::string emotion = "neutral";  // one of emotion_labels()
  double intensity = 0.3;           // [0, 1]
};

// The tone of an empathic reply to a user who feels `emotion` at `intensity` (docs/ieat.md "Style
// mapping"): sadness is answered softly sad, anger and disgust calmly neutral, fear soothingly
// neutral, joy with similar joy, surprise with a little surprise. Intensity rounded to 0.01 so that
// it survives the style line. Unknown or empty emotion: neutral 0.30.
ResponseStyle empathic_style(std::string_view emotion, double intensity);

}  // namespace attune::affect
