// Fundamental-frequency (F0) tracking with voicing decisions.
#pragma once

#include <cstdint>
#include <vector>

namespace attune::audio {

struct PitchOptions {
  double min_f0_hz = 60.0;          // lowest F0 searched (deep male voice)
  double max_f0_hz = 500.0;         // highest F0 searched (child / excited speech)
  double hop_s = 0.010;             // one estimate every 10 ms
  double voicing_threshold = 0.35;  // a frame may be voiced when its lowest YIN d' is below this...
  double voicing_anchor = 0.2;      // ...and its run of such frames has one frame below this
  double octave_cost = 3.0;         // Viterbi cost (nats) per octave of F0 change between frames
  double min_voiced_s = 0.03;       // voiced runs shorter than this are dropped as blips
};

struct PitchTrack {
  double hop_s = 0.010;
  std::vector<float> f0_hz;        // per frame; 0 where unvoiced
  std::vector<float> periodicity;  // per frame, in [0, 1]: how periodic the frame is (1 = perfectly)
  int64_t frames() const { return static_cast<int64_t>(f0_hz.size()); }
};

// Tracks F0 of a mono signal at `sample_rate`.
PitchTrack track_pitch(const float* samples, int64_t n, int sample_rate, const PitchOptions& options = {});

}  // namespace attune::audio
