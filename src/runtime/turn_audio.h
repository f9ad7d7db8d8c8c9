// A user turn's audio made ready for the model (16 kHz mono, within the encoder's window), with a
// one-line warning for each way it is unusual: silent, very short, very long, clipped, or without
// voiced speech. Torch-free.
#pragma once

#include <string>
#include <vector>

#include "attune/audio_buffer.h"

namespace attune::runtime {

struct TurnAudio {
  std::vector<float> samples;  // 16 kHz mono
  double duration_s = 0;       // of the input, before trimming or padding
  std::vector<std::string> warnings;
};

struct TurnAudioLimits {
  double max_seconds = 30;     // the encoder's window; longer turns keep their last max_seconds
  double min_seconds = 0.1;    // shorter turns are padded with silence to this
  double short_seconds = 0.3;  // shorter turns get a warning
};

// Throws InputError naming `what` when the buffer has no samples, no valid rate or channel count, or
// non-finite samples.
TurnAudio prepare_turn_audio(const AudioBuffer& audio, const std::string& what, const TurnAudioLimits& limits = {});

}  // namespace attune::runtime
