// The public audio functions (attune/audio.h) over the internal decoder, resampler and writer.
#include "attune/audio.h"

#include <string>

#include "attune/error.h"
#include "audio/audio_file.h"
#include "audio/resample.h"

namespace attune {

AudioBuffer load_audio(const std::filesystem::path& path, int sample_rate) {
  if (sample_rate < 0 ||
      (sample_rate > 0 && (sample_rate < audio::kMinSampleRate || sample_rate > audio::kMaxSampleRate))) {
    throw ConfigError("load_audio: sample_rate = " + std::to_string(sample_rate) + "; expected 0 (the file's) or " +
                      std::to_string(audio::kMinSampleRate) + "-" + std::to_string(audio::kMaxSampleRate) + " Hz");
  }
  if (sample_rate > 0) return audio::load_mono(path, sample_rate);
  return audio::mix_to_mono(audio::load_audio(path));
}

AudioBuffer resample_audio(const AudioBuffer& in, int sample_rate) {
  if (in.sample_rate <= 0 || in.channels <= 0) {
    throw InputError("resample_audio: the buffer has sample_rate " + std::to_string(in.sample_rate) + " and " +
                     std::to_string(in.channels) + " channel(s); expected both positive");
  }
  if (sample_rate < audio::kMinSampleRate || sample_rate > audio::kMaxSampleRate) {
    throw ConfigError("resample_audio: sample_rate = " + std::to_string(sample_rate) + "; expected " +
                      std::to_string(audio::kMinSampleRate) + "-" + std::to_string(audio::kMaxSampleRate) + " Hz");
  }
  AudioBuffer out;
  out.sample_rate = sample_rate;
  out.channels = in.channels;
  const int64_t frames = in.frames();
  for (int c = 0; c < in.channels; ++c) {
    std::vector<float> channel(static_cast<size_t>(frames));
    for (int64_t i = 0; i < frames; ++i)
      channel[static_cast<size_t>(i)] = in.samples[static_cast<size_t>(i * in.channels + c)];
    const std::vector<float> converted = audio::resample(channel, in.sample_rate, sample_rate);
    if (c == 0) out.samples.assign(converted.size() * static_cast<size_t>(in.channels), 0.0f);
    for (size_t i = 0; i < converted.size(); ++i)
      out.samples[i * static_cast<size_t>(in.channels) + static_cast<size_t>(c)] = converted[i];
  }
  return out;
}

void save_wav(const std::filesystem::path& path, const AudioBuffer& audio) {
  audio::write_audio(path, audio, audio::AudioFormat::kWav16);
}

}  // namespace attune
