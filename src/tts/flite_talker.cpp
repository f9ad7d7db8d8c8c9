#include "tts/flite_talker.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "attune/error.h"
#include "audio/resample.h"
#include "tts/sentences.h"
#include "tts/subprocess.h"
#include "tts/synthesis_server.h"

namespace attune::tts {
namespace {

constexpr double kNeutralGain = 0.5;  // -6 dB: Flite's voices peak near -3 dBFS
constexpr double kNativeWpm = 175;    // Voice::base_rate_wpm that means "the voice's own rate"

}  // namespace

void FliteOptions::validate() const {
  if (sample_rate < audio::kMinSampleRate || sample_rate > audio::kMaxSampleRate) {
    throw ConfigError(fmt::format("flite options: sample_rate = {}; expected {}..{} Hz", sample_rate,
                                  audio::kMinSampleRate, audio::kMaxSampleRate));
  }
  if (!std::isfinite(timeout_s) || timeout_s <= 0) {
    throw ConfigError(fmt::format("flite options: timeout_s = {:g}; expected > 0", timeout_s));
  }
}

std::string FliteOptions::default_flite_server() {
  if (const char* env = std::getenv("ATTUNE_FLITE_SERVER")) return env;
#ifdef ATTUNE_FLITE_SERVER_PATH
  if (program_exists(ATTUNE_FLITE_SERVER_PATH)) return ATTUNE_FLITE_SERVER_PATH;
#endif
  return program_exists("attune-flite") ? "attune-flite" : "";
}

const std::vector<std::string>& flite_voice_names() {
  static const std::vector<std::string> kNames = {"slt", "rms", "awb", "kal16"};
  return kNames;
}

FliteControls flite_controls(const SpeechStyle& style, const Voice& voice) {
  FliteControls c;
  c.voice = voice.engine_voice;
  c.f0_ratio = std::clamp(std::exp2((voice.base_pitch + style.pitch_semitones) / 12.0), 0.25, 4.0);
  c.range_ratio = std::clamp(style.pitch_range, 0.0, 4.0);
  c.rate_ratio = std::clamp(style.rate * voice.base_rate_wpm / kNativeWpm, 0.25, 4.0);
  c.gain = kNeutralGain * std::pow(10.0, style.energy_db / 20.0);
  return c;
}

bool flite_available(const FliteOptions& options) { return !options.server.empty() && program_exists(options.server); }

FliteTalker::FliteTalker(FliteOptions options) : options_(std::move(options)) {
  options_.validate();
  if (!options_.server.empty()) server_ = std::make_unique<SynthesisServer>(options_.server, options_.timeout_s);
}

FliteTalker::~FliteTalker() = default;

void FliteTalker::reset() {
  if (server_) server_->reset();
}

AudioBuffer FliteTalker::synthesize(std::string_view text, const SpeechStyle& style, const Voice& voice) {
  style.validate();
  voice.validate();
  require_engine(voice, "flite");
  const auto& names = flite_voice_names();
  if (std::find(names.begin(), names.end(), voice.engine_voice) == names.end()) {
    throw ConfigError(fmt::format("voice '{}': flite has no voice '{}'; known: {}", voice.name, voice.engine_voice,
                                  fmt::join(names, ", ")));
  }
  AudioBuffer out{{}, options_.sample_rate, 1};
  const std::string cleaned = clean_text(text);  // Flite reads plain text: newlines are spaces to it
  if (!has_speakable_text(cleaned)) return out;
  if (!server_) throw Error("attune-flite not found: install flite1-dev (scripts/install-deps.sh) and rebuild attune");

  const FliteControls c = flite_controls(style, voice);
  const std::string request = fmt::format("SYNTH {} {:.6f} {:.6f} {:.6f} {}\n", c.voice, c.f0_ratio, c.range_ratio,
                                          c.rate_ratio, cleaned.size()) +
                              cleaned;
  std::string refusal;
  std::optional<AudioBuffer> wav;
  try {
    wav = server_->request(request, &refusal);
  } catch (const ProgramNotFoundError&) {
    throw Error("attune-flite not found at '" + options_.server + "': install flite1-dev and rebuild attune");
  }
  if (!wav) throw Error(fmt::format("attune-flite refused voice '{}': {}", c.voice, refusal));
  if (wav->frames() == 0) return out;
  out.samples = audio::resample(wav->samples, wav->sample_rate, options_.sample_rate, audio::ResampleQuality::kHigh);
  for (float& s : out.samples) s = static_cast<float>(s * c.gain);
  return out;
}

}  // namespace attune::tts
