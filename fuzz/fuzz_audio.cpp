// In-memory audio files (WAV, FLAC, OGG, MP3, ... through libsndfile): decode_audio decodes them or
// throws attune::Error, and never expands more than its limit.
#include "attune/error.h"
#include "audio/audio_file.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr double kMaxSeconds = 5;
  try {
    const attune::AudioBuffer audio =
        attune::audio::decode_audio(std::string(attune::fuzz::as_text(data, size)), "fuzz.audio", kMaxSeconds);
    if (audio.sample_rate <= 0 || audio.channels <= 0) std::abort();
    if (audio.samples.size() / audio.channels > static_cast<size_t>(kMaxSeconds * audio.sample_rate) + 1) std::abort();
  } catch (const attune::Error&) {
  }
  return 0;
}
