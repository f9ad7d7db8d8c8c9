// What `attune chat` and `attune demo` print for each turn of a spoken dialogue (heard emotion,
// trajectory, optional thinking, the reply as it streams, its style, the audio written, timings),
// the HumDial-style record of the whole dialogue, and the median timings over many turns.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attune/runtime.h"
#include "common/stats.h"

namespace attune::cli {

struct DialoguePrintOptions {
  bool show_thinking = false;
  std::FILE* out = stdout;                    // the readable transcript (stderr when stdout carries JSON)
  std::string words_decoding = "greedy CTC";  // Model::words_decoding(), shown beside the heard words
};

class DialoguePrinter {
 public:
  explicit DialoguePrinter(DialoguePrintOptions options) : options_(options) {}

  // The header of a turn, before it is run: "turn 2: user-2.wav (3.1 s)" and what was said, if known.
  void begin_turn(size_t turn, const std::string& source, double seconds, const std::string& words = "");
  // Callbacks that stream the reply (and the thinking when shown) to the transcript.
  TurnCallbacks callbacks();
  // Everything after the reply: heard emotion, trajectory, style, audio path, timings, warnings.
  void end_turn(const Reply& reply, const std::string& audio_path);

 private:
  DialoguePrintOptions options_;
  bool reply_started_ = false;
  bool thinking_started_ = false;
};

// One user turn of a dialogue record: what was given and what came back.
struct TurnRecord {
  std::string audio_path;  // the user's audio
  std::string text;        // words given with it, if any
  std::string reply_audio_path;
  Reply reply;
};

// One printed turn: the header, session.turn() with the printer's callbacks, the reply audio written
// to `reply_dir`/reply-N.wav (none when `reply_dir` is empty or there is nothing to say), the rest.
// `shown` is what the header says was said ("" for nothing).
TurnRecord run_printed_turn(Session& session, DialoguePrinter& printer, size_t turn, const std::string& audio_path,
                            const AudioBuffer& clip, const std::string& text, const std::string& shown,
                            const std::filesystem::path& reply_dir);

// The dialogue in attune's dialogue schema (docs/data.md; HumDial's JSONL): per user turn the heard
// emotion and intensity, the reply, its thinking and speech style, and the audio files; plus
// "attune" per turn: probabilities, trajectory and timings.
nlohmann::json dialogue_record(const std::string& dialogue_id, const std::vector<TurnRecord>& turns);

using common::median;

// Medians over turns of the latency figures, one line each, for `attune demo` and the model card.
void print_timing_summary(std::FILE* out, const std::vector<Reply>& replies);

}  // namespace attune::cli
