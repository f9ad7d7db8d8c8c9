// Decoding and encoding audio files through libsndfile (wav, flac, ogg/vorbis, opus, mp3 where the
// installed libsndfile supports it, and everything else it reads), with the checks that keep bad
// files from turning into garbage features: empty files, corrupt headers, absurd sample rates,
// NaN/Inf samples all raise InputError naming the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "attune/audio_buffer.h"
#include "attune/error.h"

namespace attune::audio {

inline constexpr int kModelSampleRate = 16000;  // what every model in attune hears
inline constexpr int kMinSampleRate = 1000;
inline constexpr int kMaxSampleRate = 768000;

struct AudioInfo {
  int sample_rate = 0;
  int channels = 0;
  int64_t frames = 0;
  std::string format;  // e.g. "WAV (Microsoft) / Signed 16 bit PCM"
  double duration_s() const { return sample_rate > 0 ? static_cast<double>(frames) / sample_rate : 0.0; }
};

// Streams a file block by block, mixed down to mono, so hours of audio never sit in memory at once.
class AudioReader {
 public:
  explicit AudioReader(const std::filesystem::path& path);
  ~AudioReader();
  AudioReader(AudioReader&&) noexcept;
  AudioReader& operator=(AudioReader&&) noexcept;

  const AudioInfo& info() const;
  // Reads up to max_frames frames, averaged across channels, into `mono`; returns the frames read
  // (0 at the end). Throws InputError on a read error or a non-finite sample.
  int64_t read_mono(float* mono, int64_t max_frames);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads the header only.
AudioInfo probe_audio(const std::filesystem::path& path);

// Decodes the whole file, keeping its channels and rate.
AudioBuffer load_audio(const std::filesystem::path& path);

// Decodes, mixes to mono and resamples to `sample_rate` (16 kHz by default): what the models take.
// Streams internally, so memory is the output size plus one block.
AudioBuffer load_mono(const std::filesystem::path& path, int sample_rate = kModelSampleRate);

// Averages interleaved channels into one.
AudioBuffer mix_to_mono(const AudioBuffer& audio);

enum class AudioFormat { kWav16, kWavFloat, kFlac16 };

// The format an output path asks for: .wav -> 16-bit PCM wav, .flac -> 16-bit flac.
AudioFormat format_for_path(const std::filesystem::path& path);

// Writes atomically (temp file + rename); samples are clipped to [-1, 1] for integer formats.
void write_audio(const std::filesystem::path& path, const AudioBuffer& audio, AudioFormat format);
void write_audio(const std::filesystem::path& path, const AudioBuffer& audio);

// Encodes to an in-memory file (for the server); format as above.
std::string encode_audio(const AudioBuffer& audio, AudioFormat format);
// decode_audio's refusal of audio longer than its `max_seconds`: raised from the header's length
// before anything is decoded, or as soon as decoding passes the limit (formats that only estimate
// their length), so a small compressed file cannot make the decoder expand minutes of audio.
class AudioTooLong : public InputError {
 public:
  AudioTooLong(const std::string& name, double seconds, double max_seconds);
  double seconds() const { return seconds_; }  // the header's length, or the limit when it was passed

 private:
  double seconds_;
};

// Decodes an in-memory file; `name` is used in error messages. `max_seconds` > 0: AudioTooLong
// beyond it.
AudioBuffer decode_audio(const std::string& bytes, const std::string& name, double max_seconds = 0);

}  // namespace attune::audio
