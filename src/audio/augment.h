// Audio augmentation for training data: gain, additive noise at a chosen signal-to-noise ratio, small
// speed changes, a synthetic room (reverb) and a microphone or telephone band limit. Torch-free and
// deterministic: the same input, options and seed give the same samples on every platform (the noise
// comes from a fixed generator, not std:: distributions).
//
//   AugmentOptions o{.gain_db = -3, .snr_db = 15, .noise = NoiseColor::kPink, .speed = 1.05};
//   AudioBuffer noisy = augment(clean, o, seed);
//   AudioBuffer varied = augment(clean, sample_augment_options(AugmentRanges{}, seed), seed);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "attune/audio_buffer.h"

namespace attune::audio {

enum class NoiseColor {
  kWhite,  // flat spectrum
  kPink,   // -3 dB per octave (1/f power), closer to room and babble noise
};

struct AugmentOptions {
  double gain_db = 0;            // level change, dB
  std::optional<double> snr_db;  // add noise at this SNR (dB, over the active part: see add_noise); none: no noise
  NoiseColor noise = NoiseColor::kWhite;
  double speed = 1.0;  // playback speed: 1.1 is 10% faster and higher; [0.5, 2]
  // Band limit (see band_limit): high-pass at band_low_hz, low-pass at band_high_hz; 0 skips either.
  double band_low_hz = 0, band_high_hz = 0;
  double reverb_rt60_s = 0;  // synthetic room (see add_reverb), [0.05, 3]; 0: no reverb
  double reverb_wet = 0.5;   // reverberant tail relative to the direct path (amplitude), [0, 2]

  // Throws ConfigError naming the bad field.
  void validate() const;
  // "gain -3.0 dB, pink noise at 15.0 dB SNR, speed x1.050, band 300-3400 Hz, reverb RT60 0.40 s wet 0.50"
  // (band and reverb only when set).
  std::string to_string() const;
};

// Applies, in this order: speed, reverb, band limit, gain, noise (the room and the microphone shape the
// speech before it is levelled, and the SNR holds for the level actually produced).
// Works on any number of channels (noise is independent per channel). Samples are not clipped:
// integer writers clip. Throws ConfigError for bad options, InputError for a buffer without a rate.
AudioBuffer augment(const AudioBuffer& audio, const AugmentOptions& options, uint64_t seed);

// Multiplies every sample by 10^(gain_db / 20).
AudioBuffer apply_gain(const AudioBuffer& audio, double gain_db);

// Adds noise so that 10·log10(P_signal / P_noise) = snr_db, where P_noise is the mean power of the
// added noise (scaled to exactly that on this realisation) and P_signal the mean power over the
// signal's active part: the 20 ms frames whose power is within 40 dB of the loudest frame, so
// pauses and leading silence do not dilute the level. All-zero input gets no noise (its SNR is
// undefined) and comes back unchanged.
AudioBuffer add_noise(const AudioBuffer& audio, double snr_db, NoiseColor color, uint64_t seed);

// Plays the audio `speed` times faster by resampling, like a tape: duration divides by `speed` and
// every frequency (pitch and formants) multiplies by it. The rate stays the same. The factor is
// realised as a ratio of whole rates (round(sample_rate x speed) / sample_rate), within 1/(2·rate).
AudioBuffer change_speed(const AudioBuffer& audio, double speed);

// A microphone or telephone channel: a 4th-order Butterworth high-pass at low_hz, then a 4th-order
// Butterworth low-pass at high_hz, each two cascaded biquads (RBJ cookbook, bilinear transform prewarped
// at the cut-off, so |H|^2 = 1 / (1 + (tan(pi f / rate) / tan(pi f_c / rate))^(+-8))), zero initial
// state, per channel, in double. low_hz <= 0 skips the high-pass; high_hz <= 0 or >= rate / 2 skips the
// low-pass. ConfigError for a negative or non-finite frequency, low_hz >= high_hz when both are set, or
// low_hz >= rate / 2.
AudioBuffer band_limit(const AudioBuffer& audio, double low_hz, double high_hz);

// A simple synthetic room: convolves every channel with room_impulse_response(rate, rt60_s, wet, seed),
// keeps the input's length (the tail past the end is cut), and scales the result so that its
// active_power equals the input's. rt60_s in [0.05, 3], wet in [0, 2], else ConfigError.
AudioBuffer add_reverb(const AudioBuffer& audio, double rt60_s, double wet, uint64_t seed);

// The room's impulse response: 1 at t = 0 (the direct path), zeros up to 2.5 ms, then a seeded white-noise
// tail under the envelope exp(-6.9078 t / rt60_s) (60 dB less energy after rt60_s), min(rt60_s, 1) s long
// and scaled so that its energy (sum of squares) is wet^2. Length: 2.5 ms + min(rt60_s, 1) s of samples.
std::vector<float> room_impulse_response(int sample_rate, double rt60_s, double wet, uint64_t seed);

// Mean power of the active part (as add_noise measures it), for checking SNRs; 0 for silence.
double active_power(const AudioBuffer& audio);

// Ranges to draw random augmentations from, for data pipelines.
struct AugmentRanges {
  double gain_db_min = -6, gain_db_max = 6;
  double noise_probability = 0.5;  // chance of adding noise at all
  double snr_db_min = 10, snr_db_max = 30;
  double pink_probability = 0.5;  // of the noisy ones, how many get pink rather than white noise
  double speed_min = 0.9, speed_max = 1.1;
  // Chance of a band limit: telephone (300-3400 Hz) or laptop microphone (150-7000 Hz), half each.
  double band_probability = 0;
  double reverb_probability = 0;  // chance of a synthetic room
  double rt60_min = 0.2, rt60_max = 0.7;
  double reverb_wet_min = 0.2, reverb_wet_max = 0.7;

  void validate() const;
};

// One draw from `ranges`, uniform within each range; the same seed gives the same options. Band and
// reverb are drawn after the other fields, so adding them left the earlier fields' draws unchanged.
AugmentOptions sample_augment_options(const AugmentRanges& ranges, uint64_t seed);

}  // namespace attune::audio
