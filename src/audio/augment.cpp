#include "audio/augment.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <vector>

#include "attune/error.h"
#include "audio/resample.h"
#include "common/random.h"

namespace attune::audio {
namespace {

constexpr double kFrameS = 0.020;         // frames for the active-level measurement
constexpr double kActiveWindowDb = 40.0;  // frames this far below the loudest still count as active

// xoshiro256** (Blackman & Vigna 2018), seeded through SplitMix64: fixed and portable.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& s : state_) s = common::splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }
  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Standard normal (Box-Muller; the second value of each pair is kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 1.0 - uniform();  // (0, 1]
    double u2 = uniform();
    double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2 * std::numbers::pi * u2);
    has_spare_ = true;
    return r * std::cos(2 * std::numbers::pi * u2);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<uint64_t, 4> state_{};
  double spare_ = 0;
  bool has_spare_ = false;
};

// Pink noise from white: Paul Kellett's "refined" filter (a sum of six one-pole low-passes plus a
// direct path), within +-0.05 dB of -3 dB/octave from 2e-4 of the sample rate up to Nyquist.
class PinkFilter {
 public:
  double operator()(double white) {
    b_[0] = 0.99886 * b_[0] + white * 0.0555179;
    b_[1] = 0.99332 * b_[1] + white * 0.0750759;
    b_[2] = 0.96900 * b_[2] + white * 0.1538520;
    b_[3] = 0.86650 * b_[3] + white * 0.3104856;
    b_[4] = 0.55000 * b_[4] + white * 0.5329522;
    b_[5] = -0.7616 * b_[5] - white * 0.0168980;
    double pink = b_[0] + b_[1] + b_[2] + b_[3] + b_[4] + b_[5] + b_[6] + white * 0.5362;
    b_[6] = white * 0.115926;
    return pink;
  }

 private:
  std::array<double, 7> b_{};
};

void check_buffer(const AudioBuffer& audio, const char* what) {
  if (audio.sample_rate <= 0) {
    throw InputError(fmt::format("{}: audio has sample_rate {}; expected > 0", what, audio.sample_rate));
  }
  if (audio.channels <= 0 || audio.samples.size() % static_cast<size_t>(audio.channels) != 0) {
    throw InputError(fmt::format("{}: {} samples do not form whole frames of {} channels", what, audio.samples.size(),
                                 audio.channels));
  }
}

void check_finite(const char* field, double value, double lo, double hi) {
  if (!std::isfinite(value) || value < lo || value > hi) {
    throw ConfigError(fmt::format("augment: {} = {:g}; expected a value in [{:g}, {:g}]", field, value, lo, hi));
  }
}

}  // namespace

void AugmentOptions::validate() const {
  check_finite("gain_db", gain_db, -60, 60);
  if (snr_db) check_finite("snr_db", *snr_db, -20, 100);
  check_finite("speed", speed, 0.5, 2);
}

std::string AugmentOptions::to_string() const {
  std::string s = fmt::format("gain {:+.1f} dB, ", gain_db);
  if (snr_db) {
    s += fmt::format("{} noise at {:.1f} dB SNR, ", noise == NoiseColor::kPink ? "pink" : "white", *snr_db);
  } else {
    s += "no noise, ";
  }
  return s + fmt::format("speed x{:.3f}", speed);
}

AudioBuffer apply_gain(const AudioBuffer& audio, double gain_db) {
  check_finite("gain_db", gain_db, -60, 60);
  AudioBuffer out = audio;
  const float g = static_cast<float>(std::pow(10.0, gain_db / 20.0));
  for (float& v : out.samples) v *= g;
  return out;
}

double active_power(const AudioBuffer& audio) {
  check_buffer(audio, "active_power");
  const size_t channels = static_cast<size_t>(audio.channels);
  const size_t frame = std::max<size_t>(1, static_cast<size_t>(std::lround(kFrameS * audio.sample_rate))) * channels;
  std::vector<std::pair<double, size_t>> frames;  // (sum of squares, sample count)
  double loudest = 0;
  for (size_t start = 0; start < audio.samples.size(); start += frame) {
    size_t end = std::min(audio.samples.size(), start + frame);
    double sum = 0;
    for (size_t i = start; i < end; ++i) sum += double(audio.samples[i]) * audio.samples[i];
    frames.emplace_back(sum, end - start);
    loudest = std::max(loudest, sum / double(end - start));
  }
  if (loudest <= 0) return 0;
  const double threshold = loudest * std::pow(10.0, -kActiveWindowDb / 10.0);
  double sum = 0;
  size_t count = 0;
  for (const auto& [s, n] : frames) {
    if (s / double(n) >= threshold) {
      sum += s;
      count += n;
    }
  }
  return sum / double(count);
}

AudioBuffer add_noise(const AudioBuffer& audio, double snr_db, NoiseColor color, uint64_t seed) {
  check_buffer(audio, "add_noise");
  check_finite("snr_db", snr_db, -20, 100);
  AudioBuffer out = audio;
  const double signal_power = active_power(audio);
  if (signal_power <= 0 || audio.samples.empty()) return out;

  const size_t channels = static_cast<size_t>(audio.channels);
  const size_t frames = audio.samples.size() / channels;
  std::vector<double> noise(audio.samples.size());
  Rng rng(seed);
  for (size_t c = 0; c < channels; ++c) {
    PinkFilter pink;
    if (color == NoiseColor::kPink) {
      for (int i = 0; i < 8192; ++i) pink(rng.normal());  // settle the slowest pole (time constant ~900 samples)
    }
    for (size_t f = 0; f < frames; ++f) {
      double w = rng.normal();
      noise[f * channels + c] = color == NoiseColor::kPink ? pink(w) : w;
    }
  }
  double realised = 0;
  for (double v : noise) realised += v * v;
  realised /= double(noise.size());
  if (realised <= 0) return out;
  const double target = signal_power / std::pow(10.0, snr_db / 10.0);
  const double scale = std::sqrt(target / realised);
  for (size_t i = 0; i < out.samples.size(); ++i)
    out.samples[i] = static_cast<float>(out.samples[i] + scale * noise[i]);
  return out;
}

AudioBuffer change_speed(const AudioBuffer& audio, double speed) {
  check_buffer(audio, "change_speed");
  check_finite("speed", speed, 0.5, 2);
  // Read as if recorded at rate x speed, then resample back to the rate: the tape played faster.
  const int apparent_rate = static_cast<int>(std::lround(audio.sample_rate * speed));
  if (apparent_rate == audio.sample_rate || audio.samples.empty()) return audio;
  const size_t channels = static_cast<size_t>(audio.channels);
  const size_t frames = audio.samples.size() / channels;
  AudioBuffer out{{}, audio.sample_rate, audio.channels};
  std::vector<std::vector<float>> resampled(channels);
  for (size_t c = 0; c < channels; ++c) {
    std::vector<float> mono(frames);
    for (size_t f = 0; f < frames; ++f) mono[f] = audio.samples[f * channels + c];
    resampled[c] = resample(mono, apparent_rate, audio.sample_rate);
  }
  const size_t out_frames = resampled[0].size();
  out.samples.resize(out_frames * channels);
  for (size_t c = 0; c < channels; ++c) {
    for (size_t f = 0; f < out_frames; ++f) out.samples[f * channels + c] = resampled[c][f];
  }
  return out;
}

AudioBuffer augment(const AudioBuffer& audio, const AugmentOptions& options, uint64_t seed) {
  options.validate();
  check_buffer(audio, "augment");
  AudioBuffer out = change_speed(audio, options.speed);
  if (options.gain_db != 0) out = apply_gain(out, options.gain_db);
  if (options.snr_db) out = add_noise(out, *options.snr_db, options.noise, seed);
  return out;
}

void AugmentRanges::validate() const {
  check_finite("gain_db_min", gain_db_min, -60, 60);
  check_finite("gain_db_max", gain_db_max, gain_db_min, 60);
  check_finite("noise_probability", noise_probability, 0, 1);
  check_finite("snr_db_min", snr_db_min, -20, 100);
  check_finite("snr_db_max", snr_db_max, snr_db_min, 100);
  check_finite("pink_probability", pink_probability, 0, 1);
  check_finite("speed_min", speed_min, 0.5, 2);
  check_finite("speed_max", speed_max, speed_min, 2);
}

AugmentOptions sample_augment_options(const AugmentRanges& ranges, uint64_t seed) {
  ranges.validate();
  // A different stream from the noise drawn with the same seed.
  Rng rng(seed ^ 0x6175676D656E7421ull);
  AugmentOptions o;
  o.gain_db = rng.uniform(ranges.gain_db_min, ranges.gain_db_max);
  const bool noisy = rng.uniform() < ranges.noise_probability;
  const double snr = rng.uniform(ranges.snr_db_min, ranges.snr_db_max);
  const bool pink = rng.uniform() < ranges.pink_probability;
  if (noisy) o.snr_db = snr;
  o.noise = pink ? NoiseColor::kPink : NoiseColor::kWhite;
  o.speed = rng.uniform(ranges.speed_min, ranges.speed_max);
  return o;
}

}  // namespace attune::audio
