// Decoding, encoding and resampling, and the errors bad files must give.
#include <gtest/gtest.h>
#include <malloc.h>
#include <sndfile.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <utility>
#include <vector>

#include "attune/error.h"
#include "audio/audio_file.h"
#include "audio/resample.h"
#include "common/file_util.h"
#include "support/test_support.h"

namespace attune::audio {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::write_bytes;

std::vector<float> sine(double hz, double seconds, int rate, float amplitude = 0.5f) {
  std::vector<float> x(static_cast<size_t>(seconds * rate));
  for (size_t i = 0; i < x.size(); ++i) x[i] = amplitude * static_cast<float>(std::sin(2 * M_PI * hz * i / rate));
  return x;
}

// A canonical 44-byte RIFF/WAVE header followed by `data`.
std::string wav_bytes(int rate, int channels, int bits, int format_tag, const std::string& data) {
  auto u32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [](uint16_t v) { return std::string(reinterpret_cast<const char*>(&v), 2); };
  int block = channels * bits / 8;
  return "RIFF" + u32(36 + static_cast<uint32_t>(data.size())) + "WAVE" + "fmt " + u32(16) + u16(format_tag) +
         u16(channels) + u32(rate) + u32(rate * block) + u16(block) + u16(bits) + "data" +
         u32(static_cast<uint32_t>(data.size())) + data;
}

// Frequency estimate from zero crossings (independent of any FFT code).
double zero_crossing_hz(const std::vector<float>& x, int rate) {
  int crossings = 0;
  for (size_t i = 1; i < x.size(); ++i) crossings += (x[i - 1] < 0) != (x[i] < 0);
  return crossings / 2.0 / (static_cast<double>(x.size()) / rate);
}

TEST(AudioFile, WavAndFlacRoundTripWithin16BitQuantisation) {
  TempDir dir;
  AudioBuffer audio{sine(440, 0.5, 16000), 16000, 1};
  for (const char* name : {"a.wav", "a.flac"}) {
    write_audio(dir / name, audio);
    AudioBuffer back = load_audio(dir / name);
    ASSERT_EQ(back.sample_rate, 16000);
    ASSERT_EQ(back.samples.size(), audio.samples.size());
    float worst = 0;
    for (size_t i = 0; i < back.samples.size(); ++i)
      worst = std::max(worst, std::abs(back.samples[i] - audio.samples[i]));
    EXPECT_LE(worst, 1.0f / 32768) << name;
  }
}

TEST(AudioFile, DecodesOggOpusAndMp3WhenLibsndfileHasThem) {
  TempDir dir;
  std::vector<float> x = sine(440, 1.0, 48000);
  struct Case {
    const char* name;
    int format;
  };
  int decoded = 0;
  for (Case c : {Case{"a.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS}, Case{"a.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS},
                 Case{"a.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III}}) {
    SF_INFO info{};
    info.samplerate = 48000;
    info.channels = 1;
    info.format = c.format;
    SNDFILE* sf = sf_open((dir / c.name).c_str(), SFM_WRITE, &info);
    if (!sf) {
      std::cout << c.name << ": this libsndfile cannot write it, skipped\n";
      continue;
    }
    sf_writef_float(sf, x.data(), static_cast<sf_count_t>(x.size()));
    sf_close(sf);
    AudioBuffer mono = load_mono(dir / c.name);
    EXPECT_EQ(mono.sample_rate, 16000);
    EXPECT_NEAR(mono.duration_s(), 1.0, 0.1) << c.name;
    EXPECT_NEAR(zero_crossing_hz(mono.samples, 16000), 440.0, 10.0) << c.name;
    ++decoded;
  }
  std::cout << decoded << " of 3 compressed formats decoded\n";
  EXPECT_GE(decoded, 2);
}

TEST(AudioFile, MixesStereoToMono) {
  AudioBuffer stereo{{0.2f, 0.4f, -1.0f, 1.0f}, 8000, 2};
  AudioBuffer mono = mix_to_mono(stereo);
  ASSERT_EQ(mono.samples.size(), 2u);
  EXPECT_FLOAT_EQ(mono.samples[0], 0.3f);
  EXPECT_FLOAT_EQ(mono.samples[1], 0.0f);
}

// 44.1 kHz 24-bit stereo decoded, mixed and resampled by soxr must land on nearly the samples sox
// gives for the same file: the committed speech clip (tests/fixtures/make_fresh_clone_references.py)
// and, with ../shared, Whisper's jfk.flac against jfk-16k.flac.
TEST(AudioFile, Stereo44kResamplesLikeSox) {
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> pairs = {
      {testing::fixtures_dir() / "speech_44k_stereo.flac", testing::fixtures_dir() / "speech_44k_stereo_sox16k.wav"}};
  if (auto shared = testing::shared_dir()) {
    pairs.emplace_back(*shared / "fixtures/whisper/jfk.flac", *shared / "fixtures/whisper/jfk-16k.flac");
  }
  for (const auto& [input, sox] : pairs) {
    AudioInfo info = probe_audio(input);
    EXPECT_EQ(info.sample_rate, 44100);
    EXPECT_EQ(info.channels, 2);
    AudioBuffer ours = load_mono(input);
    AudioBuffer ref = load_mono(sox);
    ASSERT_NEAR(static_cast<double>(ours.samples.size()), static_cast<double>(ref.samples.size()), 2.0) << input;
    size_t n = std::min(ours.samples.size(), ref.samples.size());
    double dot = 0, e1 = 0, e2 = 0, err = 0;
    for (size_t i = 0; i < n; ++i) {
      dot += ours.samples[i] * ref.samples[i];
      e1 += ours.samples[i] * ours.samples[i];
      e2 += ref.samples[i] * ref.samples[i];
      err += (ours.samples[i] - ref.samples[i]) * (ours.samples[i] - ref.samples[i]);
    }
    double correlation = dot / std::sqrt(e1 * e2);
    double snr_db = 10 * std::log10(e2 / err);
    std::cout << input.filename().string() << " -> 16k mono vs sox: correlation " << correlation << ", SNR " << snr_db
              << " dB\n";
    EXPECT_GT(correlation, 0.999) << input;
    EXPECT_GT(snr_db, 30.0) << input;
  }
}

TEST(Resample, KeepsFrequencyAmplitudeAndLength) {
  std::vector<float> x = sine(1000, 2.0, 44100);
  std::vector<float> y = resample(x, 44100, 16000);
  EXPECT_NEAR(static_cast<double>(y.size()), 32000.0, 2.0);
  EXPECT_NEAR(zero_crossing_hz(y, 16000), 1000.0, 2.0);
  float peak = 0;
  for (size_t i = 1000; i + 1000 < y.size(); ++i) peak = std::max(peak, std::abs(y[i]));
  EXPECT_NEAR(peak, 0.5f, 0.005f);
}

TEST(Resample, StreamingEqualsWholeBuffer) {
  std::vector<float> x = sine(300, 1.0, 22050);
  std::vector<float> whole = resample(x, 22050, 16000);
  Resampler r(22050, 16000);
  std::vector<float> streamed;
  for (size_t i = 0; i < x.size(); i += 1000) r.process(x.data() + i, std::min<size_t>(1000, x.size() - i), streamed);
  r.flush(streamed);
  ASSERT_EQ(streamed.size(), whole.size());
  for (size_t i = 0; i < whole.size(); ++i) ASSERT_NEAR(streamed[i], whole[i], 1e-6) << i;
}

TEST(Resample, HighQualityAgreesWithVeryHighOnSpeechBand) {
  // soxr's HQ recipe (used for synthetic speech) against VHQ: the same length, and a difference
  // at least 90 dB below a 300 Hz + 3 kHz signal away from the edges.
  std::vector<float> x = sine(300, 1.0, 22050), y = sine(3000, 1.0, 22050);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.5f * (x[i] + y[i]);
  std::vector<float> vhq = resample(x, 22050, 16000);
  std::vector<float> hq = resample(x, 22050, 16000, ResampleQuality::kHigh);
  ASSERT_EQ(hq.size(), vhq.size());
  double signal = 0, error = 0;
  for (size_t i = 500; i + 500 < vhq.size(); ++i) {
    signal += double(vhq[i]) * vhq[i];
    error += (double(hq[i]) - vhq[i]) * (double(hq[i]) - vhq[i]);
  }
  EXPECT_GT(10 * std::log10(signal / error), 90.0);
}

// ---- bad input -----------------------------------------------------------------------------------

void expect_input_error(const fs::path& path, const std::string& fragment) {
  try {
    load_mono(path);
    FAIL() << path << ": expected an InputError containing '" << fragment << "'";
  } catch (const InputError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(path.string()), std::string::npos) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
  }
}

TEST(AudioFileBadInput, GivesClearErrors) {
  TempDir dir;
  write_bytes(dir / "empty.wav", "");
  expect_input_error(dir / "empty.wav", "cannot decode audio");
  write_bytes(dir / "text.wav", "this is not audio at all, just text in a file named .wav\n");
  expect_input_error(dir / "text.wav", "cannot decode audio");
  std::string pcm(3200, '\0');
  write_bytes(dir / "truncated.wav", wav_bytes(16000, 1, 16, 1, pcm).substr(0, 30));
  expect_input_error(dir / "truncated.wav", "cannot decode audio");
  write_bytes(dir / "zero.wav", wav_bytes(16000, 1, 16, 1, ""));
  expect_input_error(dir / "zero.wav", "no audio samples");
  write_bytes(dir / "slow.wav", wav_bytes(5, 1, 16, 1, pcm));
  expect_input_error(dir / "slow.wav", "sample rate");
  write_bytes(dir / "fast.wav", wav_bytes(50'000'000, 1, 16, 1, pcm));
  expect_input_error(dir / "fast.wav", "sample rate");
  std::vector<float> floats(100, 0.1f);
  floats[42] = NAN;
  write_bytes(dir / "nan.wav", wav_bytes(16000, 1, 32, 3, std::string(reinterpret_cast<char*>(floats.data()), 400)));
  expect_input_error(dir / "nan.wav", "NaN");
  floats[42] = INFINITY;
  write_bytes(dir / "inf.wav", wav_bytes(16000, 1, 32, 3, std::string(reinterpret_cast<char*>(floats.data()), 400)));
  expect_input_error(dir / "inf.wav", "infinite");
  fs::create_directory(dir / "dir.wav");
  expect_input_error(dir / "dir.wav", "is a directory");
  expect_input_error(dir / "missing.wav", "no such file");
  EXPECT_THROW(decode_audio("garbage", "upload.wav"), InputError);
  // libsndfile itself says "SF_INFO struct incomplete" for these.
  write_bytes(dir / "rate0.wav", wav_bytes(0, 1, 16, 1, pcm));
  expect_input_error(dir / "rate0.wav", "sample rate of 0 Hz");
  write_bytes(dir / "mono0.wav", wav_bytes(16000, 0, 16, 1, pcm));
  expect_input_error(dir / "mono0.wav", "0 channels");
  try {
    decode_audio(wav_bytes(0, 1, 16, 1, pcm), "upload.wav");
    ADD_FAILURE() << "a 0 Hz WAV decoded";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("upload.wav: the WAV header gives a sample rate of 0 Hz"), std::string::npos)
        << e.what();
  }
}

TEST(AudioFileBadInput, FailedWriteLeavesNoFile) {
  TempDir dir;
  AudioBuffer bad{{0.1f, 0.2f, 0.3f}, 16000, 2};  // 3 samples cannot be 2 channels
  EXPECT_THROW(write_audio(dir / "out.wav", bad), InputError);
  EXPECT_THROW(write_audio(dir / "missing_dir" / "out.wav", AudioBuffer{{0.1f}, 16000, 1}), IoError);
  EXPECT_THROW(write_audio(dir / "out.mp4", AudioBuffer{{0.1f}, 16000, 1}), ConfigError);
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

// An Ogg Vorbis file with a malformed header (fuzz/regressions/audio/, found by fuzz_audio) made
// libsndfile leak ~5.8 KB per decode; a server fed such uploads grew without bound. It is refused
// before libsndfile sees it, and decoding it again and again leaves the heap where it was.
TEST(AudioFileBadInput, MalformedOggVorbisHeadersAreRefusedWithoutLeaking) {
  const std::string bad =
      common::read_file(testing::source_dir() / "fuzz" / "regressions" / "audio" / "malformed-ogg-vorbis-header-leak");
  try {
    decode_audio(bad, "upload.ogg");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("upload.ogg: Ogg Vorbis stream ends before"), std::string::npos) << e.what();
  }
  const size_t before = mallinfo2().uordblks;  // bytes in use (0 under ASan, whose LeakSanitizer checks instead)
  for (int i = 0; i < 500; ++i) EXPECT_THROW(decode_audio(bad, "upload.ogg"), InputError);
  EXPECT_LT(mallinfo2().uordblks, before + 256 * 1024) << "500 refusals leaked (the leak was 2.9 MB)";

  // A valid Ogg Vorbis file still decodes, and one cut after its first page is refused by name.
  TempDir dir;
  SF_INFO info{.samplerate = 16000, .channels = 1, .format = SF_FORMAT_OGG | SF_FORMAT_VORBIS};
  SNDFILE* sf = sf_open((dir / "a.ogg").c_str(), SFM_WRITE, &info);
  if (!sf) GTEST_SKIP() << "this libsndfile cannot write Ogg Vorbis";
  const std::vector<float> x = sine(300, 0.5, 16000);
  sf_writef_float(sf, x.data(), static_cast<sf_count_t>(x.size()));
  sf_close(sf);
  const std::string good = common::read_file(dir / "a.ogg");
  EXPECT_NEAR(decode_audio(good, "a.ogg").duration_s(), 0.5, 0.05);
  const size_t second_page = good.find("OggS", 4);
  ASSERT_NE(second_page, std::string::npos);
  try {
    decode_audio(good.substr(0, second_page), "cut.ogg");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("ends before its comment header"), std::string::npos) << e.what();
  }
}

TEST(AudioFile, EncodesAndDecodesInMemory) {
  AudioBuffer audio{sine(200, 0.25, 16000), 16000, 1};
  for (auto format : {AudioFormat::kWav16, AudioFormat::kFlac16, AudioFormat::kWavFloat}) {
    std::string bytes = encode_audio(audio, format);
    AudioBuffer back = decode_audio(bytes, "memory");
    ASSERT_EQ(back.samples.size(), audio.samples.size());
    EXPECT_NEAR(back.samples[100], audio.samples[100], 1e-4);
  }
}

}  // namespace
}  // namespace attune::audio

namespace attune {
namespace {

// A FLAC whose STREAMINFO claims 2^36 - 1 frames (a 275 GB float buffer) but holds one second:
// load_mono and load_audio decode what is there instead of allocating for the claim.
TEST(AudioFileBadInput, AHeaderClaimingHugeLengthAllocatesNothingForIt) {
  testing::TempDir dir;
  AudioBuffer tone;
  tone.sample_rate = 16000;
  for (int i = 0; i < 16000; ++i) tone.samples.push_back(0.3f * std::sin(0.1f * static_cast<float>(i)));
  std::string flac = audio::encode_audio(tone, audio::AudioFormat::kFlac16);
  ASSERT_EQ(flac.substr(0, 4), "fLaC");
  // STREAMINFO starts at byte 8; its 36-bit total-samples field is the low nibble of byte 21 and bytes 22-25.
  flac[21] = static_cast<char>(flac[21] | 0x0F);
  for (int i = 22; i <= 25; ++i) flac[i] = static_cast<char>(0xFF);
  const auto path = dir / "claims-forever.flac";
  testing::write_bytes(path, flac);
  ASSERT_GT(audio::probe_audio(path).frames, int64_t{1} << 35);
  const AudioBuffer mono = audio::load_mono(path, 16000);
  EXPECT_EQ(mono.samples.size(), 16000u);
  const AudioBuffer resampled = audio::load_mono(path, 8000);
  EXPECT_NEAR(static_cast<double>(resampled.samples.size()), 8000.0, 16.0);
}

}  // namespace
}  // namespace attune
