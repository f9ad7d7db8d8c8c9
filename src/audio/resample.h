// Sample-rate conversion with libsoxr, whole-buffer or streaming.
#pragma once

#include <memory>
#include <vector>

namespace attune::audio {

// soxr's recipes: very high (VHQ, 28-bit, the default: measurement-grade) and high (HQ, 20-bit, about
// twice as fast; ample for synthetic speech that is only listened to or fed to a model).
enum class ResampleQuality { kHigh, kVeryHigh };

// Resamples a mono signal; returns a copy when the rates are equal.
std::vector<float> resample(const std::vector<float>& mono, int in_rate, int out_rate,
                            ResampleQuality quality = ResampleQuality::kVeryHigh);

// Streaming resampler for mono blocks: push input as it arrives, then flush() at the end.
class Resampler {
 public:
  Resampler(int in_rate, int out_rate, ResampleQuality quality = ResampleQuality::kVeryHigh);
  ~Resampler();
  Resampler(Resampler&&) noexcept;
  Resampler& operator=(Resampler&&) noexcept;

  // Appends the output for this block to `out`.
  void process(const float* in, size_t n, std::vector<float>& out);
  // Drains the filter's delay line into `out`.
  void flush(std::vector<float>& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace attune::audio
