// SpeechStyle and the per-emotion prosody profiles (docs/talker.md: the table and its sources).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "affect/emotions.h"
#include "affect/speech_style.h"
#include "attune/error.h"

namespace attune::affect {
namespace {

// The full-intensity profile of one emotion, relative to the same voice speaking neutrally.
struct EmotionProfile {
  const char* emotion;
  double pitch_semitones;  // pitch level
  double pitch_range;      // intonation width (multiplier)
  double rate;             // tempo (multiplier)
  double energy_db;        // loudness
};

// Directions from the reviews of vocal emotion (Scherer 2003; Juslin & Laukka 2003; Murray & Arnott
// 1993); magnitudes chosen within what those studies report and what espeak-ng can render. Keep in
// step with the table in docs/talker.md.
constexpr EmotionProfile kProfiles[] = {
    {"neutral", 0.0, 1.00, 1.00, 0.0},    //
    {"happy", 3.0, 1.50, 1.10, 3.0},      // higher, wider, faster, louder
    {"sad", -3.0, 0.60, 0.80, -6.0},      // lower, narrower, slower, softer
    {"anger", 2.0, 1.40, 1.12, 6.0},      // (hot anger) louder above all, higher, wider, faster
    {"fear", 4.0, 1.10, 1.20, 0.0},       // highest level, fast; range and loudness disputed: near neutral
    {"surprise", 4.0, 1.80, 1.00, 3.0},   // high and widest range, louder
    {"disgust", -2.0, 1.10, 0.80, -2.0},  // lower, much slower, softer
};

const EmotionProfile* find_profile(std::string_view emotion) {
  for (const auto& p : kProfiles) {
    if (emotion == p.emotion) return &p;
  }
  return nullptr;
}

void check_range(const char* field, double value, double lo, double hi) {
  if (!std::isfinite(value) || value < lo || value > hi) {
    throw ConfigError(fmt::format("speech style: {} = {:g}; expected a value in [{:g}, {:g}]", field, value, lo, hi));
  }
}

}  // namespace

}  // namespace attune::affect

namespace attune {

void SpeechStyle::validate() const {
  if (!affect::find_profile(emotion)) {
    throw ConfigError("speech style: emotion = '" + emotion + "'; expected one of " + affect::joined_emotion_labels());
  }
  affect::check_range("intensity", intensity, 0, 1);
  affect::check_range("pitch_semitones", pitch_semitones, -12, 12);
  affect::check_range("pitch_range", pitch_range, 0, 3);
  affect::check_range("rate", rate, 0.5, 2);
  affect::check_range("energy_db", energy_db, -30, 12);
}

std::string SpeechStyle::to_string() const {
  return fmt::format("{} {:.2f}: pitch {:+.1f} st, range x{:.2f}, rate x{:.2f}, energy {:+.1f} dB", emotion, intensity,
                     pitch_semitones, pitch_range, rate, energy_db);
}

}  // namespace attune

namespace attune::affect {

SpeechStyle emotion_style(std::string_view emotion, double intensity) {
  std::string label = canonical_emotion(emotion);
  const EmotionProfile* p = find_profile(label);
  if (!p) {
    throw ConfigError("unknown emotion '" + std::string(emotion) + "'; expected one of " + joined_emotion_labels());
  }
  if (!std::isfinite(intensity) || intensity < 0 || intensity > 1) {
    throw ConfigError(fmt::format("emotion intensity = {:g}; expected a value in [0, 1]", intensity));
  }
  SpeechStyle s;
  s.emotion = label;
  s.intensity = intensity;
  s.pitch_semitones = intensity * p->pitch_semitones;
  s.pitch_range = std::pow(p->pitch_range, intensity);
  s.rate = std::pow(p->rate, intensity);
  s.energy_db = intensity * p->energy_db;
  return s;
}

namespace {

double attribute_value(const std::vector<float>& values, const std::vector<std::string>& attributes,
                       std::string_view name, double fallback) {
  for (size_t i = 0; i < attributes.size() && i < values.size(); ++i) {
    if (attributes[i] == name && std::isfinite(values[i])) return values[i];
  }
  return fallback;
}

void check_attribute_names(const std::vector<std::string>& attributes) {
  for (const std::string& a : attributes) {
    if (a != "intensity" && a != "pitch" && a != "pace" && a != "energy" && a != "range") {
      throw ConfigError("style_head.style_attributes: unknown attribute '" + a +
                        "' (known: intensity, pitch, pace, energy, range)");
    }
  }
}

}  // namespace

std::vector<float> style_to_attributes(const SpeechStyle& style, const std::vector<std::string>& attributes) {
  check_attribute_names(attributes);
  std::vector<float> out;
  for (const std::string& a : attributes) {
    double v = 0;
    if (a == "intensity") v = style.intensity;
    if (a == "pitch") v = style.pitch_semitones / 12.0;
    if (a == "pace") v = std::log(style.rate);
    if (a == "energy") v = style.energy_db / 12.0;
    if (a == "range") v = std::log(std::max(1e-3, style.pitch_range));
    out.push_back(static_cast<float>(v));
  }
  return out;
}

SpeechStyle style_from_attributes(std::string_view emotion, const std::vector<float>& values,
                                  const std::vector<std::string>& attributes) {
  check_attribute_names(attributes);
  const double intensity = std::clamp(attribute_value(values, attributes, "intensity", 0.5), 0.0, 1.0);
  SpeechStyle s = emotion_style(emotion, intensity);
  s.pitch_semitones =
      std::clamp(12.0 * attribute_value(values, attributes, "pitch", s.pitch_semitones / 12.0), -12.0, 12.0);
  s.rate = std::clamp(std::exp(attribute_value(values, attributes, "pace", std::log(s.rate))), 0.5, 2.0);
  s.energy_db = std::clamp(12.0 * attribute_value(values, attributes, "energy", s.energy_db / 12.0), -30.0, 12.0);
  s.pitch_range = std::clamp(
      std::exp(attribute_value(values, attributes, "range", std::log(std::max(1e-3, s.pitch_range)))), 0.0, 3.0);
  return s;
}

}  // namespace attune::affect

namespace attune::affect {

ResponseStyle empathic_style(std::string_view emotion, double intensity) {
  const double i = std::isfinite(intensity) ? std::clamp(intensity, 0.0, 1.0) : 0.5;
  ResponseStyle style{"neutral", 0.3};
  if (emotion == "sad") {
    style = {"sad", 0.2 + 0.2 * i};  // soft and gentle: a little sad, never as sad as the user
  } else if (emotion == "anger") {
    style = {"neutral", 0.2};  // calm; answering anger with anger escalates
  } else if (emotion == "fear") {
    style = {"neutral", 0.3};  // soothing, steady
  } else if (emotion == "happy") {
    style = {"happy", std::clamp(i, 0.3, 0.8)};  // share the joy at about its strength
  } else if (emotion == "surprise") {
    style = {"surprise", 0.1 + 0.3 * i};  // join in, lightly
  }
  style.intensity = std::round(style.intensity * 100) / 100;
  return style;
}

}  // namespace attune::affect
