#include "audio/audio_file.h"

#include <sndfile.h>

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>

#include "attune/error.h"
#include "audio/ogg_vorbis_check.h"
#include "audio/resample.h"
#include "common/file_util.h"

namespace fs = std::filesystem;

namespace attune::audio {
namespace {

constexpr int64_t kBlockFrames = 1 << 16;

std::string describe_format(int format) {
  SF_FORMAT_INFO major{}, sub{};
  major.format = format & SF_FORMAT_TYPEMASK;
  sub.format = format & SF_FORMAT_SUBMASK;
  std::string out;
  if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &major, sizeof(major)) == 0) out = major.name;
  if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &sub, sizeof(sub)) == 0) out += std::string(" / ") + sub.name;
  return out;
}

void validate_info(const SF_INFO& sf, const std::string& name) {
  if (sf.samplerate < kMinSampleRate || sf.samplerate > kMaxSampleRate) {
    throw InputError(name, "sample rate " + std::to_string(sf.samplerate) + " Hz is outside the supported " +
                               std::to_string(kMinSampleRate) + "-" + std::to_string(kMaxSampleRate) + " Hz");
  }
  if (sf.channels < 1 || sf.channels > 64) {
    throw InputError(name, "has " + std::to_string(sf.channels) + " channels, expected 1 to 64");
  }
  if (sf.frames <= 0) throw InputError(name, "contains no audio samples");
}

// Why sf_open refused a file, in the reader's terms. libsndfile reports a WAV whose fmt chunk gives
// 0 Hz or 0 channels as "SF_INFO struct incomplete"; say which field is wrong instead.
std::string open_failure(std::string_view head) {
  std::string why = std::string("cannot decode audio: ") + sf_strerror(nullptr);
  auto le = [&](size_t at, int n) {
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(head[at + static_cast<size_t>(i)]);
    return v;
  };
  if (head.size() < 12 || head.substr(0, 4) != "RIFF" || head.substr(8, 4) != "WAVE") return why;
  for (size_t at = 12; at + 8 <= head.size();) {
    const uint32_t size = le(at + 4, 4);
    if (head.substr(at, 4) == "fmt " && at + 16 <= head.size()) {
      const uint32_t channels = le(at + 10, 2), rate = le(at + 12, 4);
      if (rate == 0)
        return "the WAV header gives a sample rate of 0 Hz (expected " + std::to_string(kMinSampleRate) + "-" +
               std::to_string(kMaxSampleRate) + " Hz)";
      if (channels == 0) return "the WAV header gives 0 channels (expected 1 to 64)";
      return why;
    }
    if (size > head.size()) break;
    at += 8 + size + (size & 1);
  }
  return why;
}

std::string open_failure(const fs::path& path) {
  std::string head(4096, '\0');
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    head.resize(std::fread(head.data(), 1, head.size(), f));
    std::fclose(f);
  } else {
    head.clear();
  }
  return open_failure(std::string_view(head));
}

// In-memory file for libsndfile's virtual I/O (decode_audio / encode_audio).
struct MemoryFile {
  std::string bytes;
  sf_count_t pos = 0;
};

sf_count_t mem_length(void* user) { return static_cast<sf_count_t>(static_cast<MemoryFile*>(user)->bytes.size()); }
sf_count_t mem_seek(sf_count_t offset, int whence, void* user) {
  auto* f = static_cast<MemoryFile*>(user);
  sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? f->pos : static_cast<sf_count_t>(f->bytes.size());
  f->pos = std::max<sf_count_t>(0, base + offset);
  return f->pos;
}
sf_count_t mem_read(void* ptr, sf_count_t count, void* user) {
  auto* f = static_cast<MemoryFile*>(user);
  sf_count_t available = std::max<sf_count_t>(0, static_cast<sf_count_t>(f->bytes.size()) - f->pos);
  sf_count_t n = std::min(count, available);
  if (n > 0) std::memcpy(ptr, f->bytes.data() + f->pos, static_cast<size_t>(n));
  f->pos += n;
  return n;
}
sf_count_t mem_write(const void* ptr, sf_count_t count, void* user) {
  auto* f = static_cast<MemoryFile*>(user);
  size_t end = static_cast<size_t>(f->pos + count);
  if (end > f->bytes.size()) f->bytes.resize(end);
  std::memcpy(f->bytes.data() + f->pos, ptr, static_cast<size_t>(count));
  f->pos += count;
  return count;
}
sf_count_t mem_tell(void* user) { return static_cast<MemoryFile*>(user)->pos; }
SF_VIRTUAL_IO memory_io{mem_length, mem_seek, mem_read, mem_write, mem_tell};

int sndfile_format(AudioFormat format) {
  switch (format) {
    case AudioFormat::kWav16:
      return SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    case AudioFormat::kWavFloat:
      return SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    case AudioFormat::kFlac16:
      return SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  }
  return 0;
}

void check_writable(const AudioBuffer& audio, const std::string& name) {
  if (audio.sample_rate < kMinSampleRate || audio.sample_rate > kMaxSampleRate) {
    throw InputError(name, "cannot write audio with sample rate " + std::to_string(audio.sample_rate) + " Hz");
  }
  if (audio.channels < 1 || audio.samples.size() % static_cast<size_t>(audio.channels) != 0) {
    throw InputError(name, "sample count is not a multiple of the channel count");
  }
}

void write_frames(SNDFILE* sf, const AudioBuffer& audio, const std::string& name) {
  sf_command(sf, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  sf_count_t written = sf_writef_float(sf, audio.samples.data(), audio.frames());
  if (written != audio.frames()) throw IoError(name + ": write failed: " + sf_strerror(sf));
}

// Reads every frame (some formats, e.g. mp3 and ogg, only estimate `frames`, so read until the
// decoder stops) and rejects non-finite samples.
AudioBuffer read_all(SNDFILE* sf, const SF_INFO& sf_info, const std::string& name, double max_seconds = 0) {
  validate_info(sf_info, name);
  const double claimed_s = static_cast<double>(sf_info.frames) / sf_info.samplerate;
  if (max_seconds > 0 && claimed_s > max_seconds) throw AudioTooLong(name, claimed_s, max_seconds);
  const auto max_frames = max_seconds > 0 ? static_cast<sf_count_t>(max_seconds * sf_info.samplerate)
                                          : std::numeric_limits<sf_count_t>::max();
  AudioBuffer audio;
  audio.sample_rate = sf_info.samplerate;
  audio.channels = sf_info.channels;
  std::vector<float> block(static_cast<size_t>(kBlockFrames * sf_info.channels));
  sf_count_t frames = 0;
  for (sf_count_t got; (got = sf_readf_float(sf, block.data(), kBlockFrames)) > 0;) {
    frames += got;
    if (frames > max_frames) throw AudioTooLong(name, max_seconds, max_seconds);
    audio.samples.insert(audio.samples.end(), block.begin(), block.begin() + got * sf_info.channels);
  }
  if (sf_error(sf) != SF_ERR_NO_ERROR) throw InputError(name, std::string("decoding failed: ") + sf_strerror(sf));
  for (size_t i = 0; i < audio.samples.size(); ++i) {
    if (!std::isfinite(audio.samples[i])) throw InputError(name, "sample " + std::to_string(i) + " is NaN or infinite");
  }
  if (audio.samples.empty()) throw InputError(name, "contains no audio samples");
  return audio;
}

}  // namespace

struct AudioReader::Impl {
  SNDFILE* sf = nullptr;
  AudioInfo info;
  std::string name;
  std::vector<float> block;
  ~Impl() {
    if (sf) sf_close(sf);
  }
};

AudioReader::AudioReader(const fs::path& path) : impl_(std::make_unique<Impl>()) {
  impl_->name = path.string();
  common::require_regular_file(path);
  SF_INFO sf_info{};
  impl_->sf = sf_open(path.c_str(), SFM_READ, &sf_info);
  if (!impl_->sf) {
    throw InputError(impl_->name,
                     open_failure(path) + " (expected wav, flac, ogg, opus, mp3 or another format libsndfile reads)");
  }
  validate_info(sf_info, impl_->name);
  impl_->info = {sf_info.samplerate, sf_info.channels, sf_info.frames, describe_format(sf_info.format)};
}

AudioReader::~AudioReader() = default;
AudioReader::AudioReader(AudioReader&&) noexcept = default;
AudioReader& AudioReader::operator=(AudioReader&&) noexcept = default;

const AudioInfo& AudioReader::info() const { return impl_->info; }

int64_t AudioReader::read_mono(float* mono, int64_t max_frames) {
  const int channels = impl_->info.channels;
  impl_->block.resize(static_cast<size_t>(max_frames * channels));
  sf_count_t got = sf_readf_float(impl_->sf, impl_->block.data(), max_frames);
  if (got < 0 || sf_error(impl_->sf) != SF_ERR_NO_ERROR) {
    throw InputError(impl_->name, std::string("decoding failed: ") + sf_strerror(impl_->sf));
  }
  const float* in = impl_->block.data();
  for (sf_count_t i = 0; i < got; ++i) {
    float sum = 0.0f;
    for (int c = 0; c < channels; ++c) sum += in[i * channels + c];
    float v = sum / static_cast<float>(channels);
    if (!std::isfinite(v)) {
      throw InputError(impl_->name, "sample " + std::to_string(i) + " of a block is NaN or infinite");
    }
    mono[i] = v;
  }
  return got;
}

AudioInfo probe_audio(const fs::path& path) { return AudioReader(path).info(); }

AudioBuffer load_audio(const fs::path& path) {
  common::require_regular_file(path);
  SF_INFO sf_info{};
  SNDFILE* sf = sf_open(path.c_str(), SFM_READ, &sf_info);
  if (!sf) throw InputError(path.string(), open_failure(path));
  std::unique_ptr<SNDFILE, int (*)(SNDFILE*)> guard(sf, sf_close);
  return read_all(sf, sf_info, path.string());
}

// A header's length is a claim, not a size: reserve for at most this many samples up front and let
// the buffer grow with what is really decoded (a 126-byte FLAC can claim 2^36 frames).
constexpr int64_t kMaxReserveSamples = int64_t{1} << 24;

AudioBuffer load_mono(const fs::path& path, int sample_rate) {
  AudioReader reader(path);
  const AudioInfo& info = reader.info();
  AudioBuffer out;
  out.sample_rate = sample_rate;
  out.channels = 1;
  std::vector<float> block(static_cast<size_t>(kBlockFrames));
  if (info.sample_rate == sample_rate) {
    out.samples.reserve(static_cast<size_t>(std::min(info.frames, kMaxReserveSamples)));
    for (int64_t got; (got = reader.read_mono(block.data(), kBlockFrames)) > 0;) {
      out.samples.insert(out.samples.end(), block.begin(), block.begin() + got);
    }
  } else {
    Resampler resampler(info.sample_rate, sample_rate);
    out.samples.reserve(
        static_cast<size_t>(std::min(static_cast<int64_t>(info.duration_s() * sample_rate) + 64, kMaxReserveSamples)));
    for (int64_t got; (got = reader.read_mono(block.data(), kBlockFrames)) > 0;) {
      resampler.process(block.data(), static_cast<size_t>(got), out.samples);
    }
    resampler.flush(out.samples);
  }
  if (out.samples.empty()) throw InputError(path.string(), "contains no audio samples");
  return out;
}

AudioBuffer mix_to_mono(const AudioBuffer& audio) {
  if (audio.channels == 1) return audio;
  AudioBuffer out;
  out.sample_rate = audio.sample_rate;
  out.channels = 1;
  out.samples.resize(static_cast<size_t>(audio.frames()));
  for (int64_t i = 0; i < audio.frames(); ++i) {
    float sum = 0.0f;
    for (int c = 0; c < audio.channels; ++c) sum += audio.samples[static_cast<size_t>(i * audio.channels + c)];
    out.samples[static_cast<size_t>(i)] = sum / static_cast<float>(audio.channels);
  }
  return out;
}

AudioFormat format_for_path(const fs::path& path) {
  std::string ext = path.extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".wav") return AudioFormat::kWav16;
  if (ext == ".flac") return AudioFormat::kFlac16;
  throw ConfigError(path.string() + ": cannot tell the audio format from the extension '" + ext +
                    "' (expected .wav or .flac)");
}

// FLAC's fastest level: speech files come out ~5% larger and encode several times faster, which is
// what data pipelines writing hundreds of thousands of turns need. Lossless either way.
static void set_fast_compression(SNDFILE* sf, AudioFormat format) {
  if (format != AudioFormat::kFlac16) return;
  double level = 0.0;
  sf_command(sf, SFC_SET_COMPRESSION_LEVEL, &level, sizeof(level));
}

void write_audio(const fs::path& path, const AudioBuffer& audio, AudioFormat format) {
  check_writable(audio, path.string());
  common::write_atomically(path, [&](const fs::path& tmp) {
    SF_INFO sf_info{};
    sf_info.samplerate = audio.sample_rate;
    sf_info.channels = audio.channels;
    sf_info.format = sndfile_format(format);
    SNDFILE* sf = sf_open(tmp.c_str(), SFM_WRITE, &sf_info);
    if (!sf) throw IoError(path.string() + ": cannot open for writing: " + sf_strerror(nullptr));
    std::unique_ptr<SNDFILE, int (*)(SNDFILE*)> guard(sf, sf_close);
    set_fast_compression(sf, format);
    write_frames(sf, audio, path.string());
  });
}

void write_audio(const fs::path& path, const AudioBuffer& audio) { write_audio(path, audio, format_for_path(path)); }

std::string encode_audio(const AudioBuffer& audio, AudioFormat format) {
  check_writable(audio, "<memory>");
  MemoryFile file;
  SF_INFO sf_info{};
  sf_info.samplerate = audio.sample_rate;
  sf_info.channels = audio.channels;
  sf_info.format = sndfile_format(format);
  SNDFILE* sf = sf_open_virtual(&memory_io, SFM_WRITE, &sf_info, &file);
  if (!sf) throw IoError(std::string("encoding audio failed: ") + sf_strerror(nullptr));
  {
    std::unique_ptr<SNDFILE, int (*)(SNDFILE*)> guard(sf, sf_close);
    set_fast_compression(sf, format);
    write_frames(sf, audio, "<memory>");
  }
  return std::move(file.bytes);
}

AudioTooLong::AudioTooLong(const std::string& name, double seconds, double max_seconds)
    : InputError(name, seconds > max_seconds
                           ? fmt::format("{:.1f} s of audio, more than the limit of {:g} s", seconds, max_seconds)
                           : fmt::format("more than the limit of {:g} s of audio", max_seconds)),
      seconds_(seconds) {}

AudioBuffer decode_audio(const std::string& bytes, const std::string& name, double max_seconds) {
  if (bytes.empty()) throw InputError(name, "audio data is empty");
  // Before libsndfile, which leaks on these (audio/ogg_vorbis_check.h).
  if (std::string problem = ogg_vorbis_header_problem(bytes); !problem.empty()) throw InputError(name, problem);
  MemoryFile file{bytes, 0};
  SF_INFO sf_info{};
  SNDFILE* sf = sf_open_virtual(&memory_io, SFM_READ, &sf_info, &file);
  if (!sf) throw InputError(name, open_failure(std::string_view(bytes).substr(0, 4096)));
  std::unique_ptr<SNDFILE, int (*)(SNDFILE*)> guard(sf, sf_close);
  return read_all(sf, sf_info, name, max_seconds);
}

}  // namespace attune::audio
