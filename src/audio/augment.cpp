#include "audio/augment.h"

#include <fftw3.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <limits>
#include <mutex>
#include <new>
#include <numbers>
#include <vector>

#include "attune/error.h"
#include "audio/fftw_lock.h"
#include "audio/resample.h"
#include "common/random.h"

namespace attune::audio {
namespace {

constexpr double kFrameS = 0.020;         // frames for the active-level measurement
constexpr double kActiveWindowDb = 40.0;  // frames this far below the loudest still count as active

// A 4th-order Butterworth filter as two biquads: the Q values 1 / (2 cos(pi/8)) and 1 / (2 cos(3 pi/8)).
constexpr std::array<double, 2> kButterworthQ = {0.54119610, 1.3065630};

constexpr double kMinRt60S = 0.05, kMaxRt60S = 3.0;
constexpr double kMaxWet = 2.0;
constexpr double kReverbOnsetS = 0.0025;       // first reflections arrive ~1 m of path after the direct sound
constexpr double kMaxTailS = 1.0;              // bounds the convolution; an RT60 of 3 s is 20 dB down by then
constexpr double kLn1000 = 6.907755278982137;  // amplitude 1/1000 = energy -60 dB
// Mixed into the seed so the room's noise is not the noise add_noise draws from the same seed.
constexpr uint64_t kReverbStream = 0x7265766572622121ull;

// Band-limit presets for sample_augment_options.
constexpr double kTelephoneLowHz = 300, kTelephoneHighHz = 3400;
constexpr double kLaptopLowHz = 150, kLaptopHighHz = 7000;

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

void check_band(double low_hz, double high_hz) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  check_finite("band_low_hz", low_hz, 0, kInf);
  check_finite("band_high_hz", high_hz, 0, kInf);
  if (low_hz > 0 && high_hz > 0 && low_hz >= high_hz) {
    throw ConfigError(fmt::format("augment: band_low_hz = {:g} is not below band_high_hz = {:g}", low_hz, high_hz));
  }
}

// One biquad section, coefficients divided by a0.
struct Biquad {
  double b0, b1, b2, a1, a2;
};

// RBJ "Audio EQ Cookbook" low- and high-pass: the bilinear transform of 1 / (s^2 + s/Q + 1), prewarped
// so that the cut-off lands exactly on cutoff_hz.
Biquad rbj_biquad(bool high_pass, double cutoff_hz, double q, int sample_rate) {
  const double w0 = 2 * std::numbers::pi * cutoff_hz / sample_rate;
  const double cos_w0 = std::cos(w0);
  const double alpha = std::sin(w0) / (2 * q);
  const double a0 = 1 + alpha;
  const double outer = (high_pass ? 1 + cos_w0 : 1 - cos_w0) / 2;
  const double middle = high_pass ? -(1 + cos_w0) : 1 - cos_w0;
  return {outer / a0, middle / a0, outer / a0, -2 * cos_w0 / a0, (1 - alpha) / a0};
}

// Filters `x` in place (direct form I, starting from rest).
void run_biquad(const Biquad& f, std::vector<double>& x) {
  double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  for (double& v : x) {
    const double y = f.b0 * v + f.b1 * x1 + f.b2 * x2 - f.a1 * y1 - f.a2 * y2;
    x2 = x1;
    x1 = v;
    y2 = y1;
    y1 = y;
    v = y;
  }
}

// The smallest n >= at_least whose only prime factors are 2, 3 and 5: FFTW is fast on those, and the
// next power of two can be nearly twice as long.
size_t smooth_fft_size(size_t at_least) {
  size_t best = 1;
  while (best < at_least) best *= 2;
  for (size_t p5 = 1; p5 < best; p5 *= 5) {
    for (size_t p35 = p5; p35 < best; p35 *= 3) {
      size_t n = p35;
      while (n < at_least) n *= 2;
      best = std::min(best, n);
    }
  }
  return best;
}

// Forward and inverse real FFTs of one size (fftw3f) with their buffers. Plans are made and destroyed
// under the planner lock; executing them needs none.
class RealFft {
 public:
  explicit RealFft(size_t n) : n_(n) {
    real_ = fftwf_alloc_real(n);
    spectrum_ = fftwf_alloc_complex(bins());
    if (real_ && spectrum_) {
      std::lock_guard lock(fftw_planner_mutex());
      forward_ = fftwf_plan_dft_r2c_1d(static_cast<int>(n), real_, spectrum_, FFTW_ESTIMATE);
      inverse_ = fftwf_plan_dft_c2r_1d(static_cast<int>(n), spectrum_, real_, FFTW_ESTIMATE);
    }
    if (!forward_ || !inverse_) {
      release();
      throw std::bad_alloc();
    }
  }
  ~RealFft() { release(); }
  RealFft(const RealFft&) = delete;
  RealFft& operator=(const RealFft&) = delete;

  size_t size() const { return n_; }
  size_t bins() const { return n_ / 2 + 1; }
  float* real() { return real_; }
  fftwf_complex* spectrum() { return spectrum_; }
  void forward() { fftwf_execute(forward_); }  // real() -> spectrum()
  void inverse() { fftwf_execute(inverse_); }  // spectrum() -> real() x size(), unnormalised

 private:
  void release() {
    {
      std::lock_guard lock(fftw_planner_mutex());
      if (forward_) fftwf_destroy_plan(forward_);
      if (inverse_) fftwf_destroy_plan(inverse_);
    }
    forward_ = inverse_ = nullptr;
    if (real_) fftwf_free(real_);
    if (spectrum_) fftwf_free(spectrum_);
    real_ = nullptr;
    spectrum_ = nullptr;
  }

  size_t n_;
  float* real_ = nullptr;
  fftwf_complex* spectrum_ = nullptr;
  fftwf_plan forward_ = nullptr;
  fftwf_plan inverse_ = nullptr;
};

}  // namespace

void AugmentOptions::validate() const {
  check_finite("gain_db", gain_db, -60, 60);
  if (snr_db) check_finite("snr_db", *snr_db, -20, 100);
  check_finite("speed", speed, 0.5, 2);
  check_band(band_low_hz, band_high_hz);
  if (reverb_rt60_s != 0) check_finite("reverb_rt60_s", reverb_rt60_s, kMinRt60S, kMaxRt60S);
  check_finite("reverb_wet", reverb_wet, 0, kMaxWet);
}

std::string AugmentOptions::to_string() const {
  std::string s = fmt::format("gain {:+.1f} dB, ", gain_db);
  if (snr_db) {
    s += fmt::format("{} noise at {:.1f} dB SNR, ", noise == NoiseColor::kPink ? "pink" : "white", *snr_db);
  } else {
    s += "no noise, ";
  }
  s += fmt::format("speed x{:.3f}", speed);
  if (band_low_hz > 0 && band_high_hz > 0) {
    s += fmt::format(", band {:.0f}-{:.0f} Hz", band_low_hz, band_high_hz);
  } else if (band_low_hz > 0) {
    s += fmt::format(", high-pass {:.0f} Hz", band_low_hz);
  } else if (band_high_hz > 0) {
    s += fmt::format(", low-pass {:.0f} Hz", band_high_hz);
  }
  if (reverb_rt60_s > 0) s += fmt::format(", reverb RT60 {:.2f} s wet {:.2f}", reverb_rt60_s, reverb_wet);
  return s;
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

AudioBuffer band_limit(const AudioBuffer& audio, double low_hz, double high_hz) {
  check_buffer(audio, "band_limit");
  check_band(low_hz, high_hz);
  const double nyquist = 0.5 * audio.sample_rate;
  if (low_hz >= nyquist) {
    throw ConfigError(
        fmt::format("band_limit: band_low_hz = {:g} is not below half the sample rate ({:g} Hz)", low_hz, nyquist));
  }
  std::vector<Biquad> sections;
  if (low_hz > 0) {
    for (double q : kButterworthQ) sections.push_back(rbj_biquad(true, low_hz, q, audio.sample_rate));
  }
  if (high_hz > 0 && high_hz < nyquist) {
    for (double q : kButterworthQ) sections.push_back(rbj_biquad(false, high_hz, q, audio.sample_rate));
  }
  AudioBuffer out = audio;
  if (sections.empty() || audio.samples.empty()) return out;
  const size_t channels = static_cast<size_t>(audio.channels);
  const size_t frames = audio.samples.size() / channels;
  std::vector<double> x(frames);
  for (size_t c = 0; c < channels; ++c) {
    for (size_t f = 0; f < frames; ++f) x[f] = audio.samples[f * channels + c];
    for (const Biquad& section : sections) run_biquad(section, x);
    for (size_t f = 0; f < frames; ++f) out.samples[f * channels + c] = static_cast<float>(x[f]);
  }
  return out;
}

std::vector<float> room_impulse_response(int sample_rate, double rt60_s, double wet, uint64_t seed) {
  if (sample_rate <= 0) {
    throw ConfigError(fmt::format("room_impulse_response: sample_rate = {}; expected > 0", sample_rate));
  }
  check_finite("reverb_rt60_s", rt60_s, kMinRt60S, kMaxRt60S);
  check_finite("reverb_wet", wet, 0, kMaxWet);
  const size_t onset = std::max<size_t>(1, static_cast<size_t>(std::lround(kReverbOnsetS * sample_rate)));
  const size_t tail = static_cast<size_t>(std::lround(std::min(rt60_s, kMaxTailS) * sample_rate));
  std::vector<double> h(onset + tail, 0.0);
  Rng rng(seed ^ kReverbStream);
  double energy = 0;
  for (size_t i = onset; i < h.size(); ++i) {
    h[i] = rng.normal() * std::exp(-kLn1000 * (double(i) / sample_rate) / rt60_s);
    energy += h[i] * h[i];
  }
  const double scale = energy > 0 ? wet / std::sqrt(energy) : 0.0;
  std::vector<float> ir(h.size());
  ir[0] = 1.0f;
  for (size_t i = onset; i < h.size(); ++i) ir[i] = static_cast<float>(scale * h[i]);
  return ir;
}

AudioBuffer add_reverb(const AudioBuffer& audio, double rt60_s, double wet, uint64_t seed) {
  check_buffer(audio, "add_reverb");
  const std::vector<float> ir = room_impulse_response(audio.sample_rate, rt60_s, wet, seed);
  AudioBuffer out = audio;
  const double power_in = active_power(audio);
  // wet 0 is the direct path alone; silence stays silence.
  if (wet == 0 || power_in <= 0 || audio.samples.empty()) return out;

  // A circular convolution of n >= frames + taps - 1 points equals the linear one on the first `frames`.
  const size_t channels = static_cast<size_t>(audio.channels);
  const size_t frames = audio.samples.size() / channels;
  const size_t n = smooth_fft_size(frames + ir.size() - 1);
  RealFft fft(n);
  float* x = fft.real();
  fftwf_complex* spectrum = fft.spectrum();
  std::fill(x, x + n, 0.0f);
  std::copy(ir.begin(), ir.end(), x);
  fft.forward();
  std::vector<std::complex<float>> room(fft.bins());  // the response's spectrum, with FFTW's 1/n
  const float inv_n = 1.0f / static_cast<float>(n);
  for (size_t k = 0; k < room.size(); ++k) room[k] = {spectrum[k][0] * inv_n, spectrum[k][1] * inv_n};
  for (size_t c = 0; c < channels; ++c) {
    for (size_t f = 0; f < frames; ++f) x[f] = audio.samples[f * channels + c];
    std::fill(x + frames, x + n, 0.0f);
    fft.forward();
    for (size_t k = 0; k < room.size(); ++k) {
      const std::complex<float> v = std::complex<float>(spectrum[k][0], spectrum[k][1]) * room[k];
      spectrum[k][0] = v.real();
      spectrum[k][1] = v.imag();
    }
    fft.inverse();
    for (size_t f = 0; f < frames; ++f) out.samples[f * channels + c] = x[f];
  }
  // The tail adds energy (and fills pauses): bring the active level back to the input's.
  const double power_out = active_power(out);
  if (power_out > 0) {
    const double g = std::sqrt(power_in / power_out);
    for (float& v : out.samples) v = static_cast<float>(v * g);
  }
  return out;
}

AudioBuffer augment(const AudioBuffer& audio, const AugmentOptions& options, uint64_t seed) {
  options.validate();
  check_buffer(audio, "augment");
  AudioBuffer out = change_speed(audio, options.speed);
  if (options.reverb_rt60_s > 0) out = add_reverb(out, options.reverb_rt60_s, options.reverb_wet, seed);
  if (options.band_low_hz > 0 || options.band_high_hz > 0) {
    out = band_limit(out, options.band_low_hz, options.band_high_hz);
  }
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
  check_finite("band_probability", band_probability, 0, 1);
  check_finite("reverb_probability", reverb_probability, 0, 1);
  check_finite("rt60_min", rt60_min, kMinRt60S, kMaxRt60S);
  check_finite("rt60_max", rt60_max, rt60_min, kMaxRt60S);
  check_finite("reverb_wet_min", reverb_wet_min, 0, kMaxWet);
  check_finite("reverb_wet_max", reverb_wet_max, reverb_wet_min, kMaxWet);
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
  // After every earlier draw, so those keep the values they had before band and reverb existed; all
  // drawn every time, so that one probability does not shift the other draws.
  const bool band = rng.uniform() < ranges.band_probability;
  const bool telephone = rng.uniform() < 0.5;
  const bool reverb = rng.uniform() < ranges.reverb_probability;
  const double rt60 = rng.uniform(ranges.rt60_min, ranges.rt60_max);
  const double wet = rng.uniform(ranges.reverb_wet_min, ranges.reverb_wet_max);
  if (band) {
    o.band_low_hz = telephone ? kTelephoneLowHz : kLaptopLowHz;
    o.band_high_hz = telephone ? kTelephoneHighHz : kLaptopHighHz;
  }
  if (reverb) {
    o.reverb_rt60_s = rt60;
    o.reverb_wet = wet;
  }
  return o;
}

}  // namespace attune::audio
