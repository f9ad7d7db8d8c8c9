// Prosody and voice-quality features: the paralinguistic evidence (how something is said) that the
// model and the IEAT data pipeline use. Frame-level contours plus a fixed, named vector of
// utterance-level functionals in the spirit of eGeMAPS; docs/audio-features.md defines each one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audio/pitch.h"

namespace attune::audio {

// The names of the functionals, in vector order. Stable: new features are only appended.
const std::vector<std::string>& prosody_feature_names();

struct ProsodyOptions {
  PitchOptions pitch;
  double frame_s = 0.025;  // analysis window for loudness and spectral features
  double hop_s = 0.010;
  // The costlier groups can be skipped when only pitch, loudness, rate and jitter are wanted (the
  // data builder's voice measures); skipped features read NaN.
  bool spectral = true;  // spectral_centroid_hz, spectral_slope_db_per_khz
  bool hnr = true;       // hnr_db
};

struct Prosody {
  // Frame-level contours, all at `hop_s`.
  double hop_s = 0.010;
  PitchTrack pitch;
  std::vector<float> loudness_db;  // RMS level in dB re full scale, per frame
  // Utterance-level functionals, aligned with prosody_feature_names().
  std::vector<double> values;

  // Value of a named functional; throws attune::Error for an unknown name.
  double get(const std::string& name) const;
};

// Analyses a mono signal at any sample rate (16 kHz is what the rest of attune uses).
Prosody analyse_prosody(const float* samples, int64_t n, int sample_rate, const ProsodyOptions& options = {});
inline Prosody analyse_prosody(const std::vector<float>& samples, int sample_rate, const ProsodyOptions& options = {}) {
  return analyse_prosody(samples.data(), static_cast<int64_t>(samples.size()), sample_rate, options);
}

}  // namespace attune::audio
