// `attune features AUDIO...`: duration, rate, prosody functionals and (optionally) the Whisper
// log-mel of each file. Results go to stdout (JSON lines or a table); timing and RTF to stderr.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "attune/error.h"
#include "audio/audio_file.h"
#include "audio/log_mel.h"
#include "audio/prosody.h"
#include "cli/command.h"
#include "common/progress.h"
#include "io/npy.h"

namespace attune::cli {
namespace {

namespace fs = std::filesystem;

struct FeaturesOptions {
  std::vector<std::string> inputs;
  std::string mel_path;
  std::string format = "json";
  int n_mels = 80;
  bool pad_30s = false;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Where the log-mel of input `index` goes: the path itself for one input, DIR/<stem>.npy for several.
fs::path mel_output(const FeaturesOptions& o, size_t index) {
  if (o.inputs.size() == 1) return o.mel_path;
  return fs::path(o.mel_path) / (fs::path(o.inputs[index]).stem().string() + ".npy");
}

void validate(const FeaturesOptions& o) {
  if (o.mel_path.empty()) return;
  if (o.inputs.size() > 1 && !fs::is_directory(o.mel_path)) {
    throw ConfigError("--mel: with several inputs it must name an existing directory (got '" + o.mel_path + "')");
  }
  if (o.inputs.size() == 1 && fs::path(o.mel_path).extension() != ".npy") {
    throw ConfigError("--mel: expected a path ending in .npy (got '" + o.mel_path + "')");
  }
}

void print_table(const std::vector<nlohmann::json>& rows) {
  std::vector<std::string> keys{"sample_rate"};  // duration_s comes with the prosody functionals
  for (const auto& name : audio::prosody_feature_names()) keys.push_back(name);
  // Columns as wide as the longest file name (without extension), within reason.
  int width = 12;
  for (const auto& row : rows)
    width = std::max(width, static_cast<int>(fs::path(row["file"].get<std::string>()).stem().string().size()));
  width = std::min(width, 28);
  std::printf("%-28s", "feature");
  for (const auto& row : rows)
    std::printf(" %*.*s", width, width, fs::path(row["file"].get<std::string>()).stem().c_str());
  std::printf("\n");
  for (const auto& key : keys) {
    std::printf("%-28s", key.c_str());
    for (const auto& row : rows) {
      const nlohmann::json& value = row.contains(key) ? row[key] : row["prosody"][key];
      std::printf(" %*.6g", width, value.get<double>());
    }
    std::printf("\n");
  }
}

int run(const FeaturesOptions& o) {
  validate(o);
  audio::LogMelExtractor mel_extractor({.n_mels = o.n_mels, .pad_to_30s = o.pad_30s});
  std::optional<common::Progress> progress;
  if (o.inputs.size() > 1) progress.emplace("features", static_cast<int64_t>(o.inputs.size()), "files");
  std::vector<nlohmann::json> rows;
  double total_audio_s = 0, total_processing_s = 0;
  for (size_t i = 0; i < o.inputs.size(); ++i) {
    const std::string& path = o.inputs[i];
    auto start = std::chrono::steady_clock::now();
    audio::AudioInfo info = audio::probe_audio(path);
    AudioBuffer mono = audio::load_mono(path);
    audio::Prosody prosody = audio::analyse_prosody(mono.samples, mono.sample_rate);
    nlohmann::json row{{"file", path},
                       {"duration_s", info.duration_s()},
                       {"sample_rate", info.sample_rate},
                       {"channels", info.channels},
                       {"format", info.format}};
    for (size_t k = 0; k < prosody.values.size(); ++k)
      row["prosody"][audio::prosody_feature_names()[k]] = prosody.values[k];
    if (!o.mel_path.empty()) {
      audio::LogMel mel = mel_extractor.compute(mono.samples);
      fs::path out = mel_output(o, i);
      io::write_npy(out, {mel.n_mels, mel.frames}, mel.data.data());
      row["mel"] = {{"path", out.string()}, {"shape", {mel.n_mels, mel.frames}}};
    }
    double elapsed = seconds_since(start);
    total_audio_s += info.duration_s();
    total_processing_s += elapsed;
    row["rtf"] = elapsed / info.duration_s();
    if (o.format == "json") {
      std::printf("%s\n", row.dump().c_str());
      std::fflush(stdout);
    }
    std::fprintf(stderr, "%s: RTF = %.4f s / %.2f s = %.5f\n", path.c_str(), elapsed, info.duration_s(),
                 elapsed / info.duration_s());
    rows.push_back(std::move(row));
    if (progress) progress->advance();
  }
  if (progress) progress->finish();
  if (o.format == "table") print_table(rows);
  if (o.inputs.size() > 1) {
    std::fprintf(stderr, "total: RTF = %.4f s / %.2f s = %.5f\n", total_processing_s, total_audio_s,
                 total_processing_s / total_audio_s);
  }
  return 0;
}

const bool registered = register_command(
    {"features", "Analyse audio files: duration, prosody and voice-quality features, optional Whisper log-mel",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<FeaturesOptions>();
       app.add_option("audio", o->inputs, "Audio files (wav, flac, ogg, opus, mp3, ...)")->required();
       app.add_option("--mel", o->mel_path,
                      "Write the log-mel as float32 .npy of shape (n_mels, frames); a directory when several inputs");
       app.add_option("--format", o->format, "Output on stdout: json (one object per line) or table")
           ->check(CLI::IsMember({"json", "table"}))
           ->capture_default_str();
       app.add_option("--n-mels", o->n_mels, "Mel bins: 80 (Whisper up to large-v2) or 128 (large-v3)")
           ->check(CLI::IsMember({80, 128}))
           ->capture_default_str();
       app.add_flag("--pad-30s", o->pad_30s, "Pad or trim to Whisper's fixed 30 s window (3000 frames)");
       app.footer("RTF (processing time / audio duration) is printed per file on stderr.");
       return [o] { return run(*o); };
     }});

}  // namespace
}  // namespace attune::cli
