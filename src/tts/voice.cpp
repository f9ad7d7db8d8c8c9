// The built-in voices and seeded speaker variation.
#include <fmt/format.h>

#include <cctype>
#include <cmath>

#include "attune/error.h"
#include "common/random.h"
#include "tts/talker.h"

namespace attune::tts {
namespace {

// SplitMix64 (common/random.h): a seed gives the same speaker on every platform and standard library.
using common::splitmix64;

// Uniform in [lo, hi).
double uniform(uint64_t& state, double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;
}

constexpr double kEnglishWpm = 175;  // espeak-ng's default rate, and Flite's own rate (Voice::base_rate_wpm)
// espeak-ng's Mandarin at 175 wpm speaks about 2.6 syllables/s; 300 gives about 4.2, close to
// conversational Mandarin (4-5 syllables/s including pauses).
constexpr double kMandarinWpm = 300;

bool is_known_lang(std::string_view lang) { return lang == "en" || lang == "zh"; }
bool is_known_engine(std::string_view engine) { return engine == "espeak" || engine == "flite"; }

}  // namespace

void Voice::validate() const {
  if (name.empty()) throw ConfigError("voice: name is empty");
  if (!is_known_lang(lang)) throw ConfigError("voice '" + name + "': lang = '" + lang + "'; expected en or zh");
  if (!is_known_engine(engine)) {
    throw ConfigError("voice '" + name + "': engine = '" + engine + "'; expected espeak or flite");
  }
  if (engine_voice.empty()) throw ConfigError("voice '" + name + "': engine_voice is empty");
  for (char c : engine_voice) {
    if ((!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '+' && c != '_') || engine_voice[0] == '-') {
      throw ConfigError("voice '" + name + "': engine_voice = '" + engine_voice +
                        "'; expected a name of letters, digits, '-', '_' and '+' (e.g. en-us+f2)");
    }
  }
  if (sex != "male" && sex != "female") {
    throw ConfigError("voice '" + name + "': sex = '" + sex + "'; expected male or female");
  }
  if (!std::isfinite(base_pitch) || base_pitch < -6 || base_pitch > 6) {
    throw ConfigError(fmt::format("voice '{}': base_pitch = {:g}; expected semitones in [-6, 6]", name, base_pitch));
  }
  if (!std::isfinite(base_rate_wpm) || base_rate_wpm < 80 || base_rate_wpm > 450) {
    throw ConfigError(
        fmt::format("voice '{}': base_rate_wpm = {:g}; expected words per minute in [80, 450]", name, base_rate_wpm));
  }
}

std::string Voice::to_string() const {
  return fmt::format("{} ({}, {}, {} {}, pitch {:+.1f} st, {:.0f} wpm)", name, lang, sex,
                     engine == "flite" ? "flite" : "espeak-ng", engine_voice, base_pitch, base_rate_wpm);
}

const std::vector<Voice>& builtin_voices() {
  // espeak-ng's "+mN"/"+fN" variants change pitch, formants and voicing of the language's voice;
  // American, British, Scottish and RP accents add variety. (The variant must follow a language
  // name espeak-ng accepts with variants: "en-gb+f1" silently ignores the variant, "en+f1" does not.)
  static const std::vector<Voice> kVoices = {
      {"en-male-1", "en", "en-us+m3", "male", 0, kEnglishWpm},
      {"en-male-2", "en", "en+m1", "male", 0, kEnglishWpm},
      {"en-male-3", "en", "en-us+m6", "male", 0, kEnglishWpm},
      {"en-male-4", "en", "en-gb-scotland+m4", "male", 0, kEnglishWpm},
      {"en-female-1", "en", "en-us+f2", "female", 0, kEnglishWpm},
      {"en-female-2", "en", "en+f1", "female", 0, kEnglishWpm},
      {"en-female-3", "en", "en-us+f3", "female", 0, kEnglishWpm},
      {"en-female-4", "en", "en-gb-x-rp+f4", "female", 0, kEnglishWpm},
      {"zh-male-1", "zh", "cmn+m3", "male", 0, kMandarinWpm},
      {"zh-male-2", "zh", "cmn+m1", "male", 0, kMandarinWpm},
      {"zh-female-1", "zh", "cmn+f2", "female", 0, kMandarinWpm},
      {"zh-female-2", "zh", "cmn+f4", "female", 0, kMandarinWpm},
      // Flite's voices (Debian's flite1-dev): slt, rms and awb are clustergen (statistical parametric)
      // voices of a US female, a US male and a Scottish male speaker; kal16 is a US male diphone voice.
      {"en-flite-slt", "en", "slt", "female", 0, kEnglishWpm, "flite"},
      {"en-flite-rms", "en", "rms", "male", 0, kEnglishWpm, "flite"},
      {"en-flite-awb", "en", "awb", "male", 0, kEnglishWpm, "flite"},
      {"en-flite-kal16", "en", "kal16", "male", 0, kEnglishWpm, "flite"},
  };
  return kVoices;
}

const Voice& find_voice(std::string_view name) {
  std::string names;
  for (const Voice& v : builtin_voices()) {
    if (v.name == name) return v;
    names += (names.empty() ? "" : ", ") + v.name;
  }
  throw ConfigError("unknown voice '" + std::string(name) + "'; built-in voices: " + names);
}

std::string voice_engine(std::string_view name) {
  const std::string_view base = name.substr(0, name.find('~'));
  for (const Voice& v : builtin_voices()) {
    if (v.name == base) return v.engine;
  }
  return "";
}

Voice random_voice(uint64_t seed, std::string_view lang, std::optional<std::string> sex, std::string_view engine) {
  if (!is_known_lang(lang)) throw ConfigError("random_voice: lang = '" + std::string(lang) + "'; expected en or zh");
  if (sex && *sex != "male" && *sex != "female") {
    throw ConfigError("random_voice: sex = '" + *sex + "'; expected male or female");
  }
  if (!is_known_engine(engine)) {
    throw ConfigError("random_voice: engine = '" + std::string(engine) + "'; expected espeak or flite");
  }
  std::vector<const Voice*> pool;
  for (const Voice& v : builtin_voices()) {
    if (v.lang == lang && v.engine == engine && (!sex || v.sex == *sex)) pool.push_back(&v);
  }
  if (pool.empty()) {
    throw ConfigError(fmt::format("random_voice: no {} voice speaks '{}'{}", engine, lang, sex ? " as " + *sex : ""));
  }
  uint64_t state = seed;
  Voice v = *pool[splitmix64(state) % pool.size()];
  v.base_pitch += uniform(state, -2.0, 2.0);
  v.base_rate_wpm *= uniform(state, 0.9, 1.1);
  v.name += "~" + std::to_string(seed);
  return v;
}

}  // namespace attune::tts
