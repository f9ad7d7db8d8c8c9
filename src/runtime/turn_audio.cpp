#include "runtime/turn_audio.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "attune/error.h"
#include "audio/audio_file.h"
#include "audio/pitch.h"
#include "audio/resample.h"

namespace attune::runtime {
namespace {

double to_dbfs(double x) { return 20.0 * std::log10(std::max(x, 1e-10)); }

}  // namespace

TurnAudio prepare_turn_audio(const AudioBuffer& audio, const std::string& what, const TurnAudioLimits& limits) {
  if (audio.sample_rate <= 0 || audio.channels <= 0) {
    throw InputError(what, fmt::format("sample rate {} Hz and {} channels; expected positive values", audio.sample_rate,
                                       audio.channels));
  }
  if (audio.samples.empty()) throw InputError(what, "the audio has no samples");
  for (float x : audio.samples) {
    if (!std::isfinite(x)) throw InputError(what, "the audio has non-finite (NaN or infinite) samples");
  }
  TurnAudio out;
  out.duration_s = audio.duration_s();
  const AudioBuffer mono = audio.channels == 1 ? audio : audio::mix_to_mono(audio);
  out.samples = audio::resample(mono.samples, mono.sample_rate, audio::kModelSampleRate, audio::ResampleQuality::kHigh);
  const double rate = audio::kModelSampleRate;

  const auto max_samples = static_cast<size_t>(limits.max_seconds * rate);
  if (out.samples.size() > max_samples) {
    out.samples.erase(out.samples.begin(), out.samples.end() - static_cast<std::ptrdiff_t>(max_samples));
    out.warnings.push_back(
        fmt::format("the turn is {:.1f} s long; only its last {:.0f} s are heard (the encoder's window)",
                    out.duration_s, limits.max_seconds));
  }

  float peak = 0;
  double energy = 0;
  size_t clipped = 0;
  for (float x : out.samples) {
    const float a = std::fabs(x);
    peak = std::max(peak, a);
    energy += static_cast<double>(x) * x;
    if (a >= 0.999f) ++clipped;
  }
  const double rms = std::sqrt(energy / static_cast<double>(out.samples.size()));
  const bool silent = peak < 1e-3f || to_dbfs(rms) < -60;
  if (silent) {
    out.warnings.push_back(
        fmt::format("the turn is silent (peak {:.0f} dBFS): there is no speech to hear", to_dbfs(peak)));
  }
  const double clipped_fraction = static_cast<double>(clipped) / static_cast<double>(out.samples.size());
  if (clipped_fraction > 0.001) {
    out.warnings.push_back(fmt::format("{:.1f}% of the samples are clipped: loudness and voice quality may be misheard",
                                       100.0 * clipped_fraction));
  }
  if (out.duration_s < limits.short_seconds) {
    out.warnings.push_back(fmt::format("the turn is very short ({:.2f} s): too little to hear much", out.duration_s));
  }
  if (!silent && out.duration_s >= limits.short_seconds) {
    const audio::PitchTrack track =
        audio::track_pitch(out.samples.data(), static_cast<int64_t>(out.samples.size()), audio::kModelSampleRate);
    const auto voiced = std::count_if(track.f0_hz.begin(), track.f0_hz.end(), [](float f) { return f > 0; });
    const double fraction = track.frames() ? static_cast<double>(voiced) / static_cast<double>(track.frames()) : 0;
    if (fraction < 0.05) {
      out.warnings.push_back(
          fmt::format("little voiced speech ({:.0f}% of frames voiced): this may be noise or music rather than speech",
                      100.0 * fraction));
    }
  }
  const auto min_samples = static_cast<size_t>(limits.min_seconds * rate);
  if (out.samples.size() < min_samples) out.samples.resize(min_samples, 0.0f);
  return out;
}

}  // namespace attune::runtime
