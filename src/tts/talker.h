// The talker: turns reply text into speech in a given voice and speech style (emotion and prosody).
//
//   auto talker = attune::tts::make_talker();                        // each voice's own engine, a separate process
//   Voice voice = attune::tts::find_voice("en-flite-slt");           // or random_voice(seed, "en", "female")
//   SpeechStyle style = attune::affect::emotion_style("sad", 0.7);   // prosody profile of the emotion
//   AudioBuffer audio = talker->synthesize("I lost my keys again.", style, voice);   // 16 kHz mono
//   talker->synthesize_stream(reply, style, voice, [](const AudioBuffer& chunk, size_t sentence) { play(chunk); });
//
// A back end implements Talker; callers choose one by name with make_talker(), so a neural back end
// can be added without changing them. Styles and voices are plain values, validated before use.
// Two engines speak: espeak-ng (formant synthesis, English and Mandarin) and CMU Flite (clustergen and
// diphone voices, English). docs/talker.md documents the emotion profiles (with sources), how each
// engine renders them, and the measurement that picks the default voice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "affect/speech_style.h"
#include "attune/audio_buffer.h"
#include "attune/speech_style.h"

namespace attune::tts {

// How to say something (attune/speech_style.h).
using SpeechStyle = attune::SpeechStyle;

// Who speaks.
struct Voice {
  std::string name;               // e.g. "en-female-1", "en-flite-slt"; random_voice() appends the seed
  std::string lang;               // "en" or "zh"
  std::string engine_voice;       // the engine's own name: espeak-ng voice and variant ("en-us+m3", "cmn+f2"),
                                  // or a Flite voice ("slt", "rms", "awb", "kal16")
  std::string sex;                // "male" or "female"
  double base_pitch = 0;          // semitones relative to the voice's natural pitch, [-6, 6]
  double base_rate_wpm = 175;     // speaking rate at style rate 1.0, words per minute (175: the engine's own)
  std::string engine = "espeak";  // the back end that speaks it: "espeak" or "flite" (talker_backends())

  // Throws ConfigError naming the first bad field.
  void validate() const;
  // "en-female-1 (en, female, espeak-ng en-us+f2, pitch +0.0 st, 175 wpm)"
  std::string to_string() const;
};

// The built-in voices: espeak-ng's four male and four female English voices and two of each for
// Mandarin, then Flite's four English voices (slt female; rms, awb, kal16 male).
const std::vector<Voice>& builtin_voices();
// The built-in voice called `name`; ConfigError listing the names when there is none.
const Voice& find_voice(std::string_view name);
// The engine of a built-in voice or of a random_voice() made from one ("en-flite-slt~42" -> "flite");
// "" for any other name.
std::string voice_engine(std::string_view name);
// A speaker for data synthesis: a built-in voice of `engine`, `lang` ("en" or "zh") and, if given, `sex`
// ("male" or "female"), with its base pitch moved by up to +-2 semitones and its rate by up to +-10%.
// The same seed always gives the same speaker. ConfigError for an unknown lang, sex or engine, or for
// a combination no voice has (Flite speaks English only).
Voice random_voice(uint64_t seed, std::string_view lang, std::optional<std::string> sex = {},
                   std::string_view engine = "espeak");

// A speech synthesis back end.
class Talker {
 public:
  // Receives the audio of sentence `sentence_index` (0, 1, 2, ...) as soon as it is ready.
  using ChunkCallback = std::function<void(const AudioBuffer& chunk, size_t sentence_index)>;

  virtual ~Talker();

  // "espeak", "flite" or "auto"
  virtual std::string name() const = 0;
  // Rate of the mono audio this talker returns (16 kHz unless configured otherwise).
  virtual int sample_rate() const = 0;

  // Speaks `text` (UTF-8) in one piece. Text with nothing to pronounce (empty, whitespace, only
  // punctuation) gives empty audio at sample_rate(). Throws ConfigError for a bad style or voice,
  // attune::Error when the back end fails (with its message).
  virtual AudioBuffer synthesize(std::string_view text, const SpeechStyle& style, const Voice& voice) = 0;

  // Splits `text` into sentences (split_sentences) and calls `on_chunk` once per sentence, in order,
  // on the calling thread, as soon as that sentence's audio is ready, so playback can start before the
  // rest is synthesised. No calls for text with nothing to pronounce. The next sentence is already
  // being synthesised (on another thread: synthesize() must be thread-safe) while `on_chunk` handles
  // the current one. An exception from `on_chunk` stops the stream and propagates.
  virtual void synthesize_stream(std::string_view text, const SpeechStyle& style, const Voice& voice,
                                 const ChunkCallback& on_chunk);

  // Forgets whatever a back end carries from one utterance to the next, so the next one sounds
  // exactly as it would from a fresh talker. Callers that need reproducible audio for a group of
  // utterances (a dialogue in the data builder) call it before each group. Default: nothing.
  virtual void reset() {}
};

// ConfigError when `voice` belongs to another engine than `engine` (a talker of one engine calls it).
void require_engine(const Voice& voice, std::string_view engine);

// The engines a Voice can name: {"espeak", "flite"}.
std::vector<std::string> talker_backends();
// A talker by back end name with its default options: "espeak", "flite", or "auto" (the default), which
// speaks each voice with its own engine (Voice::engine), starting each engine on first use. A talker of
// one engine refuses another engine's voice with a ConfigError. ConfigError listing the known names
// for any other name.
std::unique_ptr<Talker> make_talker(std::string_view backend = "auto");

}  // namespace attune::tts
