// Audio front-end speed on a few minutes of real speech, single thread.
//   log-mel: attune (FFTW, sparse filterbank) vs a torch::stft implementation of the same formula
//   prosody: all features, reported as x real time
// Prints medians over repeats and the ratio; also the max difference between the two log-mels.
//
//   ./build/bench/bench_audio [--repeats N] [--seconds S]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "audio/audio_file.h"
#include "audio/log_mel.h"
#include "audio/prosody.h"

namespace fs = std::filesystem;
using namespace attune;

namespace {

template <typename F>
double median_seconds(int repeats, F&& f) {
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    auto start = std::chrono::steady_clock::now();
    f();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Real speech: RAVDESS clips (or Whisper's jfk clip) from ../shared concatenated to `seconds`.
std::vector<float> load_speech(double seconds, std::string& source) {
  const char* env = std::getenv("ATTUNE_SHARED_DIR");
  fs::path shared = env ? fs::path(env) : fs::path("../shared");
  std::vector<fs::path> files;
  fs::path ravdess = shared / "data/speech/ravdess/flac16k";
  if (fs::is_directory(ravdess)) {
    for (const auto& entry : fs::directory_iterator(ravdess)) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    source = "RAVDESS clips";
  } else if (fs::exists(shared / "fixtures/whisper/jfk-16k.flac")) {
    files.push_back(shared / "fixtures/whisper/jfk-16k.flac");
    source = "jfk-16k.flac repeated";
  } else {
    std::fprintf(stderr, "bench_audio: ../shared not found (set ATTUNE_SHARED_DIR); it holds the speech to measure\n");
    std::exit(1);
  }
  std::vector<float> speech;
  const size_t want = static_cast<size_t>(seconds * 16000);
  for (size_t i = 0; speech.size() < want; ++i) {
    AudioBuffer clip = audio::load_mono(files[i % files.size()]);
    speech.insert(speech.end(), clip.samples.begin(), clip.samples.end());
  }
  speech.resize(want);
  return speech;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 7;
  double seconds = 180;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
  }
  at::set_num_threads(1);
  std::string source;
  std::vector<float> speech = load_speech(seconds, source);
  std::printf("input: %.0f s of real speech (%s), 16 kHz, single thread, median of %d runs\n", seconds, source.c_str(),
              repeats);

  // ---- log-mel ----
  audio::LogMelExtractor extractor;
  audio::LogMel ours;
  double t_ours = median_seconds(repeats, [&] { ours = extractor.compute(speech); });

  torch::Tensor x = torch::from_blob(speech.data(), {static_cast<int64_t>(speech.size())}, torch::kFloat32);
  torch::Tensor window = torch::hann_window(400, /*periodic=*/true);
  std::vector<float> fb = audio::mel_filterbank(80);
  torch::Tensor filters = torch::from_blob(fb.data(), {80, 201}, torch::kFloat32).clone();
  torch::Tensor theirs;
  double t_torch = median_seconds(repeats, [&] {
    torch::NoGradGuard no_grad;
    auto padded = torch::nn::functional::pad(x.view({1, 1, -1}),
                                             torch::nn::functional::PadFuncOptions({200, 200}).mode(torch::kReflect))
                      .view(-1);
    auto spec = torch::stft(padded, 400, 160, 400, window, false, true, true);
    auto power = spec.slice(1, 0, spec.size(1) - 1).abs().pow(2);
    auto log_spec = torch::matmul(filters, power).clamp_min(1e-10).log10();
    log_spec = torch::maximum(log_spec, log_spec.max() - 8.0);
    theirs = (log_spec + 4.0) / 4.0;
  });
  torch::Tensor ours_t = torch::from_blob(ours.data.data(), {ours.n_mels, ours.frames}, torch::kFloat32);
  double diff = (ours_t - theirs).abs().max().item<double>();
  std::printf("\nlog-mel (80 bins, %lld frames)\n", static_cast<long long>(ours.frames));
  std::printf("  attune (FFTW)        %8.1f ms  %8.0fx real time\n", t_ours * 1e3, seconds / t_ours);
  std::printf("  torch::stft baseline %8.1f ms  %8.0fx real time\n", t_torch * 1e3, seconds / t_torch);
  std::printf("  ratio: attune is %.2fx the baseline's speed; max |attune - torch| = %.2e\n", t_torch / t_ours, diff);

  // ---- prosody ----
  audio::Prosody prosody;
  double t_prosody = median_seconds(repeats, [&] { prosody = audio::analyse_prosody(speech, 16000); });
  std::printf("\nprosody (all %zu functionals, F0 + voicing + loudness + spectral + HNR + jitter/shimmer + rate)\n",
              prosody.values.size());
  std::printf("  attune               %8.1f ms  %8.0fx real time\n", t_prosody * 1e3, seconds / t_prosody);
  std::printf("  relative to log-mel: prosody costs %.1fx the log-mel time\n", t_prosody / t_ours);
  return 0;
}
