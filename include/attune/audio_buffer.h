// A block of decoded audio: float samples in [-1, 1], interleaved when there is more than one channel.
#pragma once

#include <cstdint>
#include <vector>

namespace attune {

struct AudioBuffer {
  std::vector<float> samples;  // frames * channels values, interleaved
  int sample_rate = 0;         // Hz
  int channels = 1;

  int64_t frames() const { return channels > 0 ? static_cast<int64_t>(samples.size()) / channels : 0; }
  double duration_s() const { return sample_rate > 0 ? static_cast<double>(frames()) / sample_rate : 0.0; }
};

}  // namespace attune
