// Audio augmentation for training data: gain, additive noise at a chosen signal-to-noise ratio, and
// small speed changes. Torch-free and deterministic: the same input, options and seed give the same
// samples on every platform (the noise comes from a fixed generator, not std:: distributions).
//
//   AugmentOptions o{.gain_db = -3, .snr_db = 15, .noise = NoiseColor::kPink, .speed = 1.05};
//   AudioBuffer noisy = augment(clean, o, seed);
//   AudioBuffer varied = augment(clean, sample_augment_options(AugmentRanges{}, seed), seed);
#pragma once

#include <cstdint>
#include <optional>
#include <string>

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

  // Throws ConfigError naming the bad field.
  void validate() const;
  // "gain -3.0 dB, pink noise at 15.0 dB SNR, speed x1.05"
  std::string to_string() const;
};

// Applies, in this order: speed, gain, noise (so the SNR holds for the level actually produced).
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

// Mean power of the active part (as add_noise measures it), for checking SNRs; 0 for silence.
double active_power(const AudioBuffer& audio);

// Ranges to draw random augmentations from, for data pipelines.
struct AugmentRanges {
  double gain_db_min = -6, gain_db_max = 6;
  double noise_probability = 0.5;  // chance of adding noise at all
  double snr_db_min = 10, snr_db_max = 30;
  double pink_probability = 0.5;  // of the noisy ones, how many get pink rather than white noise
  double speed_min = 0.9, speed_max = 1.1;

  void validate() const;
};

// One draw from `ranges`, uniform within each range; the same seed gives the same options.
AugmentOptions sample_augment_options(const AugmentRanges& ranges, uint64_t seed);

}  // namespace attune::audio
