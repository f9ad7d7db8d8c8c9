// `attune speak TEXT`: speaks text in a voice and emotional style with the talker (espeak-ng or CMU
// Flite, each run as a separate process) and writes the audio atomically. A JSON summary goes to stdout; the resolved
// voice and style, timing and RTF go to stderr.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>

#include "affect/speech_style.h"
#include "attune/error.h"
#include "audio/audio_file.h"
#include "cli/command.h"
#include "tts/espeak_talker.h"
#include "tts/flite_talker.h"
#include "tts/sentences.h"
#include "tts/talker.h"

namespace attune::cli {
namespace {

struct SpeakOptions {
  std::string text;
  std::string emotion = "neutral";
  double intensity = 0.5;
  std::string voice;
  std::optional<uint64_t> seed;
  std::string sex;
  std::string lang = "en";
  std::string engine = "espeak";
  double rate = 1.0;
  double pitch = 0.0;
  double energy = 0.0;
  std::string out = "speech.wav";
  int sample_rate = audio::kModelSampleRate;
  double timeout_s = 60;
  bool stream = false;
  bool list_voices = false;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void list_voices() {
  std::printf("%-15s %-7s %-4s %-7s %-20s %s\n", "name", "engine", "lang", "sex", "engine's voice", "rate (wpm)");
  for (const auto& v : tts::builtin_voices()) {
    std::printf("%-15s %-7s %-4s %-7s %-20s %.0f\n", v.name.c_str(), v.engine.c_str(), v.lang.c_str(), v.sex.c_str(),
                v.engine_voice.c_str(), v.base_rate_wpm);
  }
}

std::unique_ptr<tts::Talker> make_talker(const SpeakOptions& o, const tts::Voice& voice) {
  if (voice.engine == "flite")
    return std::make_unique<tts::FliteTalker>(
        tts::FliteOptions{.sample_rate = o.sample_rate, .timeout_s = o.timeout_s});
  return std::make_unique<tts::EspeakTalker>(
      tts::EspeakOptions{.sample_rate = o.sample_rate, .timeout_s = o.timeout_s});
}

tts::Voice resolve_voice(const SpeakOptions& o, bool lang_given) {
  if (!o.voice.empty()) {
    const tts::Voice& v = tts::find_voice(o.voice);
    if (lang_given && v.lang != o.lang) {
      throw ConfigError("--voice " + o.voice + " speaks '" + v.lang + "' but --lang is '" + o.lang + "'");
    }
    return v;
  }
  std::optional<std::string> sex;
  if (!o.sex.empty()) sex = o.sex;
  if (o.seed) return tts::random_voice(*o.seed, o.lang, sex, o.engine);
  // No voice and no seed: the first built-in voice of the engine and language (and sex).
  for (const auto& v : tts::builtin_voices()) {
    if (v.engine == o.engine && v.lang == o.lang && (!sex || v.sex == *sex)) return v;
  }
  throw ConfigError("no " + o.engine + " voice speaks '" + o.lang + "'" + (sex ? " as " + *sex : ""));
}

int run(SpeakOptions o, bool lang_given) {
  if (o.list_voices) {
    list_voices();
    return 0;
  }
  if (o.text == "-") o.text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  if (!tts::has_speakable_text(o.text)) {
    throw ConfigError("nothing to say: TEXT has no letters or digits (give the text, or '-' to read it from stdin)");
  }
  const auto format = audio::format_for_path(o.out);  // checks the extension before any work
  tts::Voice voice = resolve_voice(o, lang_given);
  tts::SpeechStyle style = affect::emotion_style(o.emotion, o.intensity);
  style.rate *= o.rate;
  style.pitch_semitones += o.pitch;
  style.energy_db += o.energy;
  style.validate();
  std::unique_ptr<tts::Talker> talker_ptr = make_talker(o, voice);
  tts::Talker& talker = *talker_ptr;
  std::fprintf(stderr, "voice: %s\nstyle: %s\n", voice.to_string().c_str(), style.to_string().c_str());

  auto start = std::chrono::steady_clock::now();
  AudioBuffer audio{{}, talker.sample_rate(), 1};
  double first_audio_s = -1;
  size_t sentences = 0;
  if (o.stream) {
    talker.synthesize_stream(o.text, style, voice, [&](const AudioBuffer& chunk, size_t index) {
      double t = seconds_since(start);
      if (first_audio_s < 0) first_audio_s = t;
      std::fprintf(stderr, "sentence %zu: %.2f s of audio ready after %.3f s\n", index + 1, chunk.duration_s(), t);
      audio.samples.insert(audio.samples.end(), chunk.samples.begin(), chunk.samples.end());
      sentences = index + 1;
    });
  } else {
    audio = talker.synthesize(o.text, style, voice);
    sentences = 1;
  }
  const double synthesis_s = seconds_since(start);
  if (audio.samples.empty()) throw InputError(voice.engine + " produced no audio for this text");
  audio::write_audio(o.out, audio, format);

  const double duration = audio.duration_s();
  std::fprintf(stderr, "wrote %s (%.2f s, %d Hz)\n", o.out.c_str(), duration, audio.sample_rate);
  std::fprintf(stderr, "RTF = %.3f s / %.2f s = %.4f\n", synthesis_s, duration, synthesis_s / duration);
  nlohmann::json summary{{"out", o.out},
                         {"duration_s", duration},
                         {"sample_rate", audio.sample_rate},
                         {"voice", voice.name},
                         {"engine", voice.engine},
                         {"engine_voice", voice.engine_voice},
                         {"emotion", style.emotion},
                         {"intensity", style.intensity},
                         {"synthesis_s", synthesis_s},
                         {"rtf", synthesis_s / duration}};
  if (o.stream) {
    summary["sentences"] = sentences;
    summary["first_audio_s"] = first_audio_s;
  }
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}

const bool registered = register_command(
    {"speak",
     "Speak text in a voice and emotional style (espeak-ng or Flite, with prosody control) into a wav/flac file",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<SpeakOptions>();
       app.add_option("text", o->text, "Text to speak (UTF-8); '-' reads it from stdin");
       app.add_option("--emotion", o->emotion, "happy, sad, anger, fear, neutral, surprise or disgust")
           ->capture_default_str();
       app.add_option("--intensity", o->intensity, "How strongly the emotion shows, 0..1")
           ->check(CLI::Range(0.0, 1.0))
           ->capture_default_str();
       auto* voice = app.add_option("--voice", o->voice, "A built-in voice (see --list-voices)");
       auto* seed = app.add_option("--seed", o->seed, "A random speaker for this seed (voice, pitch, rate)");
       voice->excludes(seed);
       app.add_option("--engine", o->engine, "With --seed or no voice: espeak or flite")
           ->check(CLI::IsMember({"espeak", "flite"}))
           ->capture_default_str();
       app.add_option("--sex", o->sex, "With --seed or no voice: male or female")
           ->check(CLI::IsMember({"male", "female"}));
       auto* lang = app.add_option("--lang", o->lang, "Language without --voice: en or zh")
                        ->check(CLI::IsMember({"en", "zh"}))
                        ->capture_default_str();
       app.add_option("--rate", o->rate, "Speaking-rate multiplier on top of the emotion's")->capture_default_str();
       app.add_option("--pitch", o->pitch, "Pitch shift in semitones on top of the emotion's")->capture_default_str();
       app.add_option("--energy", o->energy, "Loudness change in dB on top of the emotion's")->capture_default_str();
       app.add_option("--out,-o", o->out, "Output file: .wav (16-bit) or .flac")->capture_default_str();
       app.add_option("--sample-rate", o->sample_rate, "Output sample rate in Hz")->capture_default_str();
       app.add_option("--timeout", o->timeout_s, "Seconds before a hung synthesis is killed")->capture_default_str();
       app.add_flag("--stream", o->stream, "Synthesise sentence by sentence and report when each is ready");
       app.add_flag("--list-voices", o->list_voices, "Print the built-in voices and exit");
       app.footer("Synthesis time, audio duration and RTF go to stderr; a JSON summary to stdout.");
       return [o, lang] { return run(*o, lang->count() > 0); };
     }});

}  // namespace
}  // namespace attune::cli
