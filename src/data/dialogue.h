// The one dialogue schema of attune: HumDial JSONL extended with optional fields (docs/design.md,
// "Formats"). Every corpus reader produces it, every later stage (IEAT builder, voicing, shards,
// evaluation) consumes it. docs/data.md documents every field.
//
// A dialogue is a list of user turns; each turn holds what the user said (text, emotion, audio)
// and what the other side answered (response_text, response_audio). Corpora with both sides
// annotated are mapped onto this shape per docs/data.md ("Role mapping").
//
//   {"dialogue_id": "reccon_tr_4466", "lang": "en",
//    "turns": [{"turn_id": 1, "text": "...", "emotion": "happy", "split_audio_file": "audio/reccon_tr_4466_1.flac",
//               "response_text": "...", "response_audio": "", "intensity": 0.6, "cause_turns": [1],
//               "cause_span": ["see a movie tomorrow ?"], "voice": {...}}],
//    "meta": {"corpus": "reccon", "situation": "..."}}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "affect/speech_style.h"

namespace attune::data {

// How a user turn sounds: the speaker and, for synthetic turns, the style it was rendered with.
struct VoiceInfo {
  std::string source;          // "recorded" (a real recording) or "synthetic" (rendered by a talker)
  std::string speaker;         // corpus speaker id or talker voice name
  std::string gender;          // "male", "female" or ""
  std::string style_emotion;   // synthetic: the emotion the voice was rendered with (may differ from `emotion`)
  double style_intensity = 0;  // synthetic: [0, 1]
  // Prosody of the audio relative to the same speaker's first turn (filled when voiced):
  // semitones of median F0, ratio of syllable rate, dB of loudness, jitter ratio.
  std::optional<double> pitch_delta_st, rate_ratio, loudness_delta_db, jitter_ratio;
};

// The tone a reply should be spoken in (the talker renders it; affect::emotion_style gives the prosody).
using ResponseStyle = affect::ResponseStyle;  // the tone a reply is spoken in

struct Turn {
  int turn_id = 0;                  // 1-based, consecutive
  std::string text;                 // what the user said
  std::string emotion;              // one of emotion_labels(), or "" when the corpus gives none
  std::string source_emotion;       // the corpus's own label before normalisation ("" if none)
  std::optional<double> intensity;  // [0, 1]
  std::string split_audio_file;     // user audio, relative to the JSONL's directory or absolute; "" if none
  // What a speech encoder's CTC head heard in split_audio_file (`attune data transcribe`); the audio
  // view of the shards shows it beside the audio, as the runtime does for models with words_in_prompt.
  std::string heard_words;
  std::string response_text;   // the other side's answer; "" when the dialogue ends on the user
  std::string response_audio;  // "" unless the corpus has it
  // Cause annotation: turns whose user text (cause_turns) or response (cause_response_turns; 0 is
  // meta.opening, what the other side said before the user's first turn)
  // brought the emotion about; cause_span quotes the words; cause_type as the corpus names it
  // (RECCON: no-context, inter-personal, self-contagion, hybrid, latent).
  std::vector<int> cause_turns;
  std::vector<int> cause_response_turns;
  std::vector<std::string> cause_span;
  std::string cause_type;
  std::optional<VoiceInfo> voice;
  std::string strategy;  // the responder's strategy for this reply (ESConv), or ""
  // Written by the IEAT builder (src/data/ieat.h) for turns that get a reply:
  std::string thinking;  // the content of <think>...</think> for the reply ("" = none)
  std::optional<ResponseStyle> response_style;
  // "" (an ordinary turn: T3), "t1" (trajectory question), "t2" (cause question), "describe" (a
  // recorded clip whose target is its transcript and how the voice sounds)
  std::string task;
};

struct DialogueMeta {
  std::string corpus;                           // reader name, e.g. "reccon"
  std::string source_id;                        // the corpus's own id
  std::string split;                            // "train" or "valid"
  std::string situation;                        // the background the user described (EmpatheticDialogues, ESConv)
  std::string problem;                          // ESConv problem type
  std::string topic;                            // Counsel Chat, AnnoMI
  std::string opening;                          // what the other side said before the user's first turn, if anything
  std::string user_speaker, responder_speaker;  // original speaker names mapped to user / responder
  std::optional<double> intensity_before, intensity_after;  // ESConv, [0, 1]
};

struct Dialogue {
  std::string dialogue_id;
  std::string lang = "en";  // "en" or "zh" (EmoDB: "de")
  std::vector<Turn> turns;
  DialogueMeta meta;
};

// JSON conversion; from_json throws attune::Error naming the first missing or mistyped field
// ("turns[2].emotion: expected a string"). Optional fields are written only when set.
nlohmann::json to_json(const Dialogue& dialogue);
Dialogue dialogue_from_json(const nlohmann::json& j);

// JSONL files: one dialogue per line. write_dialogues is atomic. read_dialogues throws
// InputError "FILE:LINE: ..." on the first bad line.
void write_dialogues(const std::string& path, const std::vector<Dialogue>& dialogues);
std::vector<Dialogue> read_dialogues(const std::string& path);

}  // namespace attune::data
