// `attune chat`: a whole spoken dialogue from the command line, one audio file per user turn.
//   attune chat --model models/attune-small turn1.wav turn2.wav [--show-thinking] [--out DIR] [--json]
//   attune chat                       (a terminal and no files: asks for one file per turn)
// Per turn it prints what was heard (emotion, probabilities, trajectory), the reply as it streams,
// the voice it is spoken in, where the audio went, and timings; --json prints the dialogue record
// (attune's dialogue schema, HumDial style) on stdout and moves the transcript to stderr.
// Torch-free: the model is reached through attune/runtime.h.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "attune/error.h"
#include "attune/runtime.h"
#include "audio/audio_file.h"
#include "cli/chat_options.h"
#include "cli/command.h"
#include "cli/dialogue_printer.h"
#include "common/file_util.h"

namespace fs = std::filesystem;

namespace attune::cli {
namespace {

struct ChatCliOptions {
  ChatModelOptions model;
  std::vector<std::string> turns;
  std::vector<std::string> texts;
  bool show_thinking = false;
  std::string out;
  bool json = false;
};

int run_chat(const ChatCliOptions& o) {
  const bool interactive = o.turns.empty();
  if (interactive && !isatty(STDIN_FILENO)) {
    throw ConfigError("chat: give the user's turns as audio files (or run it in a terminal to enter them one by one)");
  }
  if (o.texts.size() > o.turns.size()) {
    throw ConfigError("chat: " + std::to_string(o.texts.size()) + " --text values for " +
                      std::to_string(o.turns.size()) + " turns");
  }
  // Every file is read before the (slow) model load, so a bad one fails at once.
  std::vector<AudioBuffer> audio;
  for (const std::string& path : o.turns) audio.push_back(audio::load_audio(path));

  std::FILE* transcript = o.json ? stderr : stdout;
  const fs::path out_dir = o.out.empty() ? fs::path() : fs::path(o.out);
  if (!out_dir.empty()) fs::create_directories(out_dir);
  Model model = load_chat_model(o.model, transcript);
  Session session = model.open_session(session_options(o.model));
  DialoguePrinter printer({o.show_thinking, transcript, model.words_decoding()});
  std::vector<TurnRecord> records;

  auto run_turn = [&](const std::string& path, const AudioBuffer& clip, const std::string& words) {
    const std::string shown = words.empty() ? "" : "\"" + words + "\" (text)";
    records.push_back(run_printed_turn(session, printer, records.size() + 1, path, clip, words, shown, out_dir));
  };

  if (interactive) {
    std::fprintf(stderr, "chat: enter one audio file per turn (an empty line or Ctrl-D ends the dialogue)\n");
    for (std::string line;;) {
      std::fprintf(stderr, "turn %zu audio> ", records.size() + 1);
      if (!std::getline(std::cin, line) || line.empty()) break;
      try {
        run_turn(line, audio::load_audio(line), "");
      } catch (const InputError& e) {
        std::fprintf(stderr, "chat: %s\n", e.what());  // a bad file costs the turn, not the dialogue
      }
    }
  } else {
    for (size_t i = 0; i < o.turns.size(); ++i) run_turn(o.turns[i], audio[i], i < o.texts.size() ? o.texts[i] : "");
  }

  if (records.empty()) return 0;
  std::vector<Reply> replies;
  for (const TurnRecord& r : records) replies.push_back(r.reply);
  std::fputc('\n', transcript);
  print_timing_summary(transcript, replies);
  const nlohmann::json record = dialogue_record("chat", records);
  if (!out_dir.empty()) {
    common::write_file_atomically(out_dir / "dialogue.json", record.dump(2) + "\n");
    std::fprintf(transcript, "wrote %s\n", (out_dir / "dialogue.json").string().c_str());
  }
  if (o.json) std::printf("%s\n", record.dump().c_str());
  return 0;
}

const bool registered_chat = register_command(
    {"chat", "Run a spoken dialogue: one audio file per user turn in, empathetic replies (text and speech) out",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<ChatCliOptions>();
       add_chat_model_options(app, o->model);
       app.add_option("turns", o->turns, "The user's turns, one audio file each, in order (none: ask in a terminal)");
       app.add_option("--text", o->texts, "Words that go with turn i's audio in the same message (repeat, in order)");
       app.add_flag("--show-thinking", o->show_thinking, "Print the model's hidden reasoning before each reply");
       app.add_option("--out", o->out, "Write reply-N.wav per turn and dialogue.json here");
       app.add_flag("--json", o->json, "Print the dialogue record as JSON on stdout (the transcript goes to stderr)");
       return [o] { return run_chat(*o); };
     }});

}  // namespace
}  // namespace attune::cli
