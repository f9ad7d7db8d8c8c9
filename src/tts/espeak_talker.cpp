#include "tts/espeak_talker.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

#include "attune/error.h"
#include "audio/resample.h"
#include "common/xml_escape.h"
#include "tts/sentences.h"
#include "tts/subprocess.h"
#include "tts/synthesis_server.h"

namespace attune::tts {
namespace {

// Median F0 (semitones re p = 50) of espeak-ng 1.51 at -p 0, 10, ..., 90, 99: the mean over five
// voices (en-us, en-us+m3, en+m1, en-us+f2, en-us+f4; spread within +-0.6 st) of a two-sentence text,
// measured with attune's pitch tracker. The base pitch itself follows 2^((p-50)/50) octaves in
// espeak-ng's source, but the intonation contour is added in Hz on top of it, so the median moves
// less, and unevenly: -7 st at p = 0, +9 st at p = 99.
constexpr std::array<double, 11> kCurvePitch = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99};
constexpr std::array<double, 11> kCurveSemitones = {-6.95, -5.92, -4.56, -3.23, -1.67, 0.0,
                                                    1.71,  3.52,  5.37,  7.30,  9.03};

// Linear interpolation through (xs, ys), clamped to the table's ends; xs increasing.
double interpolate(const std::array<double, 11>& xs, const std::array<double, 11>& ys, double x) {
  if (x <= xs.front()) return ys.front();
  if (x >= xs.back()) return ys.back();
  size_t k = 1;
  while (xs[k] < x) ++k;
  double t = (x - xs[k - 1]) / (xs[k] - xs[k - 1]);
  return ys[k - 1] + t * (ys[k] - ys[k - 1]);
}

constexpr double kNeutralAmplitude = 70;

int clamp_round(double v, int lo, int hi) {
  return static_cast<int>(std::lround(std::clamp(v, double(lo), double(hi))));
}

// First line of a message, bounded, for error text.
std::string first_line(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return line.empty() ? "(no message)" : line;
}

}  // namespace

void EspeakOptions::validate() const {
  if (program.empty()) throw ConfigError("espeak options: program is empty");
  if (sample_rate < audio::kMinSampleRate || sample_rate > audio::kMaxSampleRate) {
    throw ConfigError(fmt::format("espeak options: sample_rate = {}; expected {}..{} Hz", sample_rate,
                                  audio::kMinSampleRate, audio::kMaxSampleRate));
  }
  if (!std::isfinite(timeout_s) || timeout_s <= 0) {
    throw ConfigError(fmt::format("espeak options: timeout_s = {:g}; expected > 0", timeout_s));
  }
}

double espeak_pitch_for_semitones(double semitones) { return interpolate(kCurveSemitones, kCurvePitch, semitones); }

double semitones_for_espeak_pitch(double pitch) { return interpolate(kCurvePitch, kCurveSemitones, pitch); }

EspeakControls espeak_controls(const SpeechStyle& style, const Voice& voice) {
  EspeakControls c;
  c.voice = voice.engine_voice;
  c.pitch = clamp_round(espeak_pitch_for_semitones(voice.base_pitch + style.pitch_semitones), 0, 99);
  c.pitch_range_percent = clamp_round(100.0 * style.pitch_range, 0, 200);
  c.words_per_minute = clamp_round(voice.base_rate_wpm * style.rate, 80, 450);
  c.amplitude = clamp_round(kNeutralAmplitude * std::pow(10.0, style.energy_db / 20.0), 0, 200);
  return c;
}

std::vector<std::string> espeak_argv(const std::string& program, const EspeakControls& c) {
  return {program,
          "-v",
          c.voice,
          "-p",
          std::to_string(c.pitch),
          "-s",
          std::to_string(c.words_per_minute),
          "-a",
          std::to_string(c.amplitude),
          "-m",  // SSML
          "-b",
          "1",  // UTF-8
          "--stdin",
          "--stdout"};
}

std::string espeak_ssml(std::string_view text, const EspeakControls& c) {
  return "<speak><prosody range=\"" + std::to_string(c.pitch_range_percent) + "%\">" +
         common::xml_escape(clean_text(text)) + "</prosody></speak>";
}

bool espeak_available(const std::string& program) { return program_exists(program); }

std::string EspeakOptions::default_espeak_server() {
  if (const char* env = std::getenv("ATTUNE_ESPEAK_SERVER")) return env;  // "" switches the server off
#ifdef ATTUNE_ESPEAK_SERVER_PATH
  if (program_exists(ATTUNE_ESPEAK_SERVER_PATH)) return ATTUNE_ESPEAK_SERVER_PATH;
#endif
  return program_exists("attune-espeak") ? "attune-espeak" : "";
}

EspeakTalker::EspeakTalker(EspeakOptions options) : options_(std::move(options)) {
  options_.validate();
  if (!options_.server.empty()) server_ = std::make_unique<SynthesisServer>(options_.server, options_.timeout_s);
}

EspeakTalker::~EspeakTalker() = default;

void EspeakTalker::reset() {
  if (server_) server_->reset();
}

std::optional<AudioBuffer> EspeakTalker::server_synthesize(const EspeakControls& c, const std::string& ssml) {
  if (!server_ || server_failed_) return std::nullopt;
  const std::string request =
      fmt::format("SYNTH {} {} {} {} {}\n", c.voice, c.pitch, c.words_per_minute, c.amplitude, ssml.size()) + ssml;
  try {
    // A refusal (e.g. an unknown voice) is nullopt too: the espeak-ng program says it in its own words.
    return server_->request(request, nullptr);
  } catch (const ProgramNotFoundError&) {
    server_failed_ = true;
  } catch (const Error& e) {
    spdlog::warn("{}; running espeak-ng for every utterance instead", e.what());
    server_failed_ = true;
  }
  return std::nullopt;
}

AudioBuffer EspeakTalker::synthesize(std::string_view text, const SpeechStyle& style, const Voice& voice) {
  style.validate();
  voice.validate();
  require_engine(voice, "espeak");
  AudioBuffer out{{}, options_.sample_rate, 1};
  std::string cleaned = clean_text(text);
  if (!has_speakable_text(cleaned)) return out;

  EspeakControls controls = espeak_controls(style, voice);
  const std::string ssml = espeak_ssml(cleaned, controls);
  if (std::optional<AudioBuffer> served = server_synthesize(controls, ssml)) {
    if (served->frames() > 0) {
      out.samples =
          audio::resample(served->samples, served->sample_rate, options_.sample_rate, audio::ResampleQuality::kHigh);
    }
    return out;
  }
  ProcessResult run;
  try {
    run = run_process(espeak_argv(options_.program, controls), ssml, {.timeout_s = options_.timeout_s});
  } catch (const ProgramNotFoundError&) {
    std::string tried = options_.program == "espeak-ng" ? "" : " (looked for '" + options_.program + "')";
    throw Error("espeak-ng not found: install it with scripts/install-deps.sh" + tried);
  }
  if (run.exit_code != 0) {
    throw Error(fmt::format("espeak-ng failed (exit status {}) with voice '{}': {}", run.exit_code, controls.voice,
                            first_line(run.err)));
  }
  if (run.out.empty()) return out;
  AudioBuffer wav = audio::decode_audio(run.out, "espeak-ng output");
  if (wav.frames() == 0) return out;
  if (wav.channels != 1) wav = audio::mix_to_mono(wav);
  // espeak-ng's output is band-limited synthetic speech: soxr's HQ recipe is transparent for it.
  out.samples = audio::resample(wav.samples, wav.sample_rate, options_.sample_rate, audio::ResampleQuality::kHigh);
  return out;
}

}  // namespace attune::tts
