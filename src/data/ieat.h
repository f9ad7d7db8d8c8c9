// IEAT (Injected Emotional-Attribution Thinking, docs/design.md "The method in one page"): the thinking
// block that precedes every reply target, built from a dialogue's annotations. docs/ieat.md shows
// the trace structure, the thresholds and the mapping tables; keep both in step.
//
//   Dialogue d = ...;                       // from a reader, voiced or not
//   add_thinking(d, {.seed = 7});           // fills turn.thinking / response_style, appends T1/T2
//   affect::parse_style_line(d.turns[0].thinking);  // -> ResponseStyle{"sad", 0.32}
//
// A full trace (English; Chinese for lang "zh", English for every other language):
//
//   They sound quite sad right now (0.6). Compared with their first turn: lower pitch and a slower
//   pace. So far: calm -> sad; it shifted to sad at turn 2. What set it off was what they just said:
//   "I failed the exam again". In my reply I should validate the sadness, then gently ask what happened.
//   style: sad 0.32
//
// The last line is machine-readable: exactly "style: <label> <intensity with two decimals>", the
// tone the reply is to be spoken in (affect/trace.h reads it back at run time).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "affect/speech_style.h"
#include "affect/trace.h"
#include "data/dialogue.h"

namespace attune::data {

// The ablation switch: kNone writes no thinking (response_style is still set), kLabel writes only
// the emotion word and the style line, kFull writes the whole trace.
enum class ThinkingMode { kNone, kLabel, kFull };

// "none", "label", "full"; anything else throws ConfigError.
ThinkingMode parse_thinking_mode(std::string_view name);
std::string_view to_string(ThinkingMode mode);

struct IeatOptions {
  ThinkingMode mode = ThinkingMode::kFull;
  uint64_t seed = 0;          // picks the wording (and which questions are appended); same seed, same output
  bool add_questions = true;  // append a HumDial T1 (trajectory) and/or T2 (cause) question turn
};

// The prosody thresholds of the vocal evidence (VoiceInfo fields; docs/ieat.md "Vocal evidence").
struct VoiceThresholds {
  static constexpr double kPitchSt = 1.5;                   // |pitch_delta_st| >= this: higher / lower pitch
  static constexpr double kRateLow = 0.9, kRateHigh = 1.1;  // rate_ratio outside: slower / faster
  static constexpr double kLoudnessDb = 3.0;                // |loudness_delta_db| >= this: louder / softer
  static constexpr double kJitter = 1.3;                    // jitter_ratio >= this: shaky
};

// The turn's intensity: turn.intensity clamped to [0, 1] if set, else the default of its emotion
// (neutral 0.2, every other label 0.6).
double turn_intensity(const Turn& turn);

// True when the words of a turn would read as neutral but its (synthetic) voice carries the
// emotion: the voicing stage renders some neutral-text turns in an emotional style, sets
// turn.emotion to that style's emotion (the voice is authoritative) and keeps the text's label in
// source_emotion. Exactly: a synthetic voice whose style_emotion equals turn.emotion, turn.emotion
// is not neutral, and source_emotion normalises to neutral (per meta.corpus's label table; an
// unknown corpus accepts "neutral", "no emotion", "none", "calm").
bool words_and_voice_disagree(const Turn& turn, std::string_view corpus = "");

// A deterministic, compact text description of how a turn sounds, for stage 1's teacher input and
// for people: "female voice, sad (0.7), lower pitch than before, slower, softer". Parts that are
// unknown are left out; a speaker's first voiced turn says "first turn". Chinese for lang "zh".
// `dialogue`, when given, lets it tell whether this is the speaker's first voiced turn.
std::string describe_voice(const Turn& turn, std::string_view lang, const Dialogue* dialogue = nullptr);

// A run of equal emotions over consecutive labelled user turns (unlabelled turns and question
// turns are skipped, they do not break a run).
struct EmotionRun {
  std::string emotion;
  int first_turn = 0;  // turn_id
  int last_turn = 0;
};
// Extends `runs` with one labelled turn (an empty label is skipped, a repeat lengthens the last run).
void add_to_runs(std::vector<EmotionRun>& runs, std::string_view emotion, int turn_id);
// The runs over dialogue.turns[0, end) (end clamped to the number of turns).
std::vector<EmotionRun> emotion_runs(const Dialogue& dialogue, size_t end);
// "calm (turn 1) -> surprised (turns 2-3) -> sad (turn 4)"; Chinese "平静（第1轮）→ 惊讶（第2-3轮）→ ..."
std::string trajectory_text(const std::vector<EmotionRun>& runs, std::string_view lang);

// The quotes of a trace: the text between each pair of ASCII double quotes (the English templates
// write their quotes that way; a last unpaired quote is not one).
std::vector<std::string> trace_quotes(std::string_view thinking);

// The thinking for the reply to dialogue.turns[index] in `mode` (the turn must exist). Throws
// InputError for an emotion outside emotion_labels().
std::string build_thinking(const Dialogue& dialogue, size_t index, const IeatOptions& options);

// The HumDial questions that options.add_questions appends to `dialogue` (empty when they do not
// apply): T1 needs >= 2 labelled user turns; T2 also needs a non-neutral turn whose cause is known
// (a cause annotation, meta.situation or meta.problem). When both apply the seed picks T1, T2 or
// both. Each question turn: task "t1"/"t2", turn_id after the last, emotion = the last labelled
// emotion, the answer in response_text, no voice, no audio, thinking and response_style filled.
std::vector<Turn> question_turns(const Dialogue& dialogue, const IeatOptions& options);

// For recorded single-utterance corpora (RAVDESS, EmoDB), which have no reply: turns task
// "describe" whose target is the transcript and how the voice sounds ("You said: \"...\" I hear a
// female voice, angry (0.9), higher pitch than when calm, louder."), stage 1's auxiliary tasks of
// transcribing and describing the voice. Only turns with audio and no reply are changed.
void add_describe_targets(Dialogue& dialogue);

// Fills thinking and response_style of every turn with a reply (response_text not empty; the
// others get "" and no style), then appends question_turns when options.add_questions and the
// dialogue has none yet (so a second call changes nothing).
void add_thinking(Dialogue& dialogue, const IeatOptions& options);

}  // namespace attune::data
