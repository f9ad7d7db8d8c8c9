// Reading and writing audio files for programs that embed attune: Session::turn takes an AudioBuffer
// of any rate and channel count, and Reply::audio is one to play or save.
#pragma once

#include <filesystem>

#include "attune/audio_buffer.h"
#include "attune/export.h"

namespace attune {

// Decodes WAV, FLAC, OGG/Vorbis, Opus (and MP3 where the installed libsndfile reads it), mixed down
// to mono and, when sample_rate > 0, resampled to it (soxr, very high quality). Throws InputError
// naming the file for a missing, empty, truncated or undecodable file.
ATTUNE_API AudioBuffer load_audio(const std::filesystem::path& path, int sample_rate = 0);
// `audio` resampled to `sample_rate` (channels kept).
ATTUNE_API AudioBuffer resample_audio(const AudioBuffer& audio, int sample_rate);
// Writes 16-bit PCM WAV atomically (a temporary file renamed into place, so a failure leaves no
// partial file). Throws InputError for an empty buffer or a bad rate, IoError when it cannot write.
ATTUNE_API void save_wav(const std::filesystem::path& path, const AudioBuffer& audio);

}  // namespace attune
