#include "audio/log_mel.h"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "attune/error.h"
#include "audio/fftw_lock.h"

namespace attune::audio {
namespace {

// Slaney's auditory mel scale, as librosa (htk=False) defines it: linear below 1 kHz, log above.
constexpr double kMelLinearStepHz = 200.0 / 3.0;
constexpr double kMelLogStartHz = 1000.0;
constexpr double kMelLogStartMel = kMelLogStartHz / kMelLinearStepHz;  // 15
const double kMelLogStep = std::log(6.4) / 27.0;

double hz_to_mel(double hz) {
  if (hz < kMelLogStartHz) return hz / kMelLinearStepHz;
  return kMelLogStartMel + std::log(hz / kMelLogStartHz) / kMelLogStep;
}

double mel_to_hz(double mel) {
  if (mel < kMelLogStartMel) return mel * kMelLinearStepHz;
  return kMelLogStartHz * std::exp(kMelLogStep * (mel - kMelLogStartMel));
}

// numpy's 'reflect' padding index (edge not repeated), folding as often as needed for short inputs.
int64_t reflect_index(int64_t i, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

}  // namespace

std::vector<float> mel_filterbank(int n_mels, int n_fft, int sample_rate) {
  if (n_mels <= 0 || n_fft <= 0 || sample_rate <= 0) {
    throw ConfigError("mel filterbank: n_mels, n_fft and sample_rate must be positive");
  }
  const int n_bins = n_fft / 2 + 1;
  const double f_max = sample_rate / 2.0;
  std::vector<double> mel_hz(static_cast<size_t>(n_mels + 2));
  const double mel_max = hz_to_mel(f_max);
  for (int i = 0; i < n_mels + 2; ++i) mel_hz[static_cast<size_t>(i)] = mel_to_hz(mel_max * i / (n_mels + 1));
  std::vector<float> weights(static_cast<size_t>(n_mels * n_bins), 0.0f);
  for (int m = 0; m < n_mels; ++m) {
    const double lo = mel_hz[static_cast<size_t>(m)], mid = mel_hz[static_cast<size_t>(m + 1)],
                 hi = mel_hz[static_cast<size_t>(m + 2)];
    const double norm = 2.0 / (hi - lo);  // Slaney normalisation: each filter has unit area
    for (int k = 0; k < n_bins; ++k) {
      const double f = f_max * k / (n_bins - 1);
      const double rising = (f - lo) / (mid - lo), falling = (hi - f) / (hi - mid);
      const double w = std::max(0.0, std::min(rising, falling));
      weights[static_cast<size_t>(m * n_bins + k)] = static_cast<float>(w * norm);
    }
  }
  return weights;
}

struct LogMelExtractor::Impl {
  LogMelOptions options;
  int n_bins = kWhisperNfft / 2 + 1;
  std::vector<float> window;  // periodic Hann
  // The filterbank is sparse: each filter keeps only its non-zero bin range.
  struct Filter {
    int first_bin = 0;
    std::vector<float> weights;
  };
  std::vector<Filter> filters;
  fftwf_plan plan = nullptr;

  ~Impl() {
    std::lock_guard lock(fftw_planner_mutex());
    if (plan) fftwf_destroy_plan(plan);
  }
};

LogMelExtractor::LogMelExtractor(LogMelOptions options) : impl_(std::make_unique<Impl>()) {
  if (options.n_mels != 80 && options.n_mels != 128) {
    throw ConfigError("n_mels: " + std::to_string(options.n_mels) + " is not a Whisper mel size (expected 80 or 128)");
  }
  impl_->options = options;
  impl_->window.resize(kWhisperNfft);
  for (int i = 0; i < kWhisperNfft; ++i) {
    impl_->window[static_cast<size_t>(i)] =
        static_cast<float>(0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / kWhisperNfft));
  }
  std::vector<float> dense = mel_filterbank(options.n_mels, kWhisperNfft, 16000);
  for (int m = 0; m < options.n_mels; ++m) {
    const float* row = dense.data() + static_cast<size_t>(m * impl_->n_bins);
    int first = 0, last = impl_->n_bins - 1;
    while (first < last && row[first] == 0.0f) ++first;
    while (last > first && row[last] == 0.0f) --last;
    impl_->filters.push_back({first, std::vector<float>(row + first, row + last + 1)});
  }
  float* in = fftwf_alloc_real(kWhisperNfft);
  fftwf_complex* out = fftwf_alloc_complex(static_cast<size_t>(impl_->n_bins));
  {
    std::lock_guard lock(fftw_planner_mutex());
    impl_->plan = fftwf_plan_dft_r2c_1d(kWhisperNfft, in, out, FFTW_ESTIMATE);
  }
  fftwf_free(in);
  fftwf_free(out);
}

LogMelExtractor::~LogMelExtractor() = default;
LogMelExtractor::LogMelExtractor(LogMelExtractor&&) noexcept = default;
LogMelExtractor& LogMelExtractor::operator=(LogMelExtractor&&) noexcept = default;

const LogMelOptions& LogMelExtractor::options() const { return impl_->options; }

LogMel LogMelExtractor::compute(const float* samples, int64_t n) const {
  const Impl& p = *impl_;
  // Whisper's fixed window: zero-pad or trim the samples to 30 s before the STFT (as HF's
  // WhisperFeatureExtractor and whisper.pad_or_trim do), giving exactly 3000 frames.
  std::vector<float> padded;
  if (p.options.pad_to_30s) {
    padded.assign(samples, samples + std::min<int64_t>(n, kWhisperWindowSamples));
    padded.resize(kWhisperWindowSamples, 0.0f);
    samples = padded.data();
    n = kWhisperWindowSamples;
  }
  LogMel mel;
  mel.n_mels = p.options.n_mels;
  mel.frames = n / kWhisperHop;  // centred STFT gives n/hop + 1 frames; Whisper drops the last
  mel.data.assign(static_cast<size_t>(mel.n_mels * mel.frames), 0.0f);
  if (mel.frames == 0) return mel;

  float* frame = fftwf_alloc_real(kWhisperNfft);
  fftwf_complex* spectrum = fftwf_alloc_complex(static_cast<size_t>(p.n_bins));
  std::vector<float> power(static_cast<size_t>(p.n_bins));
  constexpr int64_t kHalf = kWhisperNfft / 2;
  float max_log = -std::numeric_limits<float>::infinity();
  for (int64_t t = 0; t < mel.frames; ++t) {
    const int64_t start = t * kWhisperHop - kHalf;
    if (start >= 0 && start + kWhisperNfft <= n) {
      for (int i = 0; i < kWhisperNfft; ++i) frame[i] = samples[start + i] * p.window[static_cast<size_t>(i)];
    } else {
      for (int i = 0; i < kWhisperNfft; ++i)
        frame[i] = samples[reflect_index(start + i, n)] * p.window[static_cast<size_t>(i)];
    }
    fftwf_execute_dft_r2c(p.plan, frame, spectrum);
    for (int k = 0; k < p.n_bins; ++k)
      power[static_cast<size_t>(k)] = spectrum[k][0] * spectrum[k][0] + spectrum[k][1] * spectrum[k][1];
    for (int m = 0; m < mel.n_mels; ++m) {
      const auto& filter = p.filters[static_cast<size_t>(m)];
      const float* pw = power.data() + filter.first_bin;
      float sum = 0.0f;
      for (size_t k = 0; k < filter.weights.size(); ++k) sum += filter.weights[k] * pw[k];
      float v = std::log10(std::max(sum, 1e-10f));
      mel.data[static_cast<size_t>(m * mel.frames + t)] = v;
      max_log = std::max(max_log, v);
    }
  }
  fftwf_free(frame);
  fftwf_free(spectrum);
  const float floor = max_log - 8.0f;
  for (float& v : mel.data) v = (std::max(v, floor) + 4.0f) / 4.0f;
  return mel;
}

}  // namespace attune::audio
