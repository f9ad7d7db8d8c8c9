// Whisper-compatible log-mel spectrogram.
//
// 16 kHz input, n_fft 400 with a periodic Hann window, hop 160, centred STFT with reflect padding
// of n_fft/2 on both sides, the last frame dropped (so frames = samples / hop), power spectrum,
// Slaney-style mel filterbank (80 or 128 bins), log10 with floor 1e-10, clamp to (max - 8), then
// (x + 4) / 4. Shapes: (n_mels, frames), row-major.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace attune::audio {

inline constexpr int kWhisperNfft = 400;
inline constexpr int kWhisperHop = 160;
inline constexpr int kWhisperWindowSamples = 30 * 16000;  // Whisper's fixed 30 s window

// Slaney mel filterbank (librosa filters.mel with htk=False, norm='slaney'): (n_mels, n_fft/2+1).
std::vector<float> mel_filterbank(int n_mels, int n_fft = kWhisperNfft, int sample_rate = 16000);

struct LogMelOptions {
  int n_mels = 80;          // 80 (Whisper up to large-v2) or 128 (large-v3)
  bool pad_to_30s = false;  // pad/trim the input to Whisper's fixed 30 s window (3000 frames)
};

struct LogMel {
  int n_mels = 0;
  int64_t frames = 0;
  std::vector<float> data;  // (n_mels, frames) row-major
  float at(int mel, int64_t frame) const { return data[static_cast<size_t>(mel * frames + frame)]; }
};

// Computes log-mel features of 16 kHz mono samples. Reuses FFT plans and buffers between calls;
// one instance per thread.
class LogMelExtractor {
 public:
  explicit LogMelExtractor(LogMelOptions options = {});
  ~LogMelExtractor();
  LogMelExtractor(LogMelExtractor&&) noexcept;
  LogMelExtractor& operator=(LogMelExtractor&&) noexcept;

  LogMel compute(const float* samples, int64_t n) const;
  LogMel compute(const std::vector<float>& samples) const { return compute(samples.data(), samples.size()); }
  const LogMelOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace attune::audio
