// `attune demo`: the README's main command. Voices the example dialogues of examples/dialogues.json
// (each user turn said by espeak-ng in its emotion), runs them through the shipped model, and prints
// a readable transcript of what was heard, thought and said, with the paths of the audio written.
//   attune demo [--model DIR] [--examples FILE] [--out DIR] [--show-thinking] [--dialogue ID]
// Torch-free: the model is reached through attune/runtime.h.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "affect/speech_style.h"
#include "attune/error.h"
#include "attune/runtime.h"
#include "audio/audio_file.h"
#include "cli/chat_options.h"
#include "cli/command.h"
#include "cli/dialogue_printer.h"
#include "common/file_util.h"
#include "io/model_config.h"
#include "tts/talker.h"

#ifndef ATTUNE_DEFAULT_EXAMPLES
#define ATTUNE_DEFAULT_EXAMPLES "examples/dialogues.json"
#endif

namespace fs = std::filesystem;

namespace attune::cli {
namespace {

struct DemoTurn {
  std::string text, emotion;
  double intensity = 0.5;
};
struct DemoDialogue {
  std::string id, title, voice, reply_voice;
  std::vector<DemoTurn> turns;
};

std::string field_string(const nlohmann::json& j, const std::string& key, const std::string& where) {
  if (!j.contains(key) || !j[key].is_string()) throw InputError(where, "\"" + key + "\": expected a string");
  return j[key].get<std::string>();
}

std::vector<DemoDialogue> read_examples(const fs::path& path) {
  const std::string file = path.string();
  const nlohmann::json root = io::read_json_file(path);
  if (!root.is_object() || !root.contains("dialogues") || !root["dialogues"].is_array()) {
    throw InputError(file, "expected an object with a \"dialogues\" array");
  }
  std::vector<DemoDialogue> out;
  for (size_t i = 0; i < root["dialogues"].size(); ++i) {
    const nlohmann::json& d = root["dialogues"][i];
    const std::string where = fmt::format("{}: dialogues[{}]", file, i);
    if (!d.is_object()) throw InputError(where, "expected an object");
    DemoDialogue dialogue{field_string(d, "id", where),
                          field_string(d, "title", where),
                          field_string(d, "voice", where),
                          field_string(d, "reply_voice", where),
                          {}};
    (void)tts::find_voice(dialogue.voice);
    (void)tts::find_voice(dialogue.reply_voice);
    if (!d.contains("turns") || !d["turns"].is_array() || d["turns"].empty()) {
      throw InputError(where, "\"turns\": expected a non-empty array");
    }
    for (size_t k = 0; k < d["turns"].size(); ++k) {
      const nlohmann::json& t = d["turns"][k];
      const std::string at = fmt::format("{}.turns[{}]", where, k);
      if (!t.is_object()) throw InputError(at, "expected an object");
      DemoTurn turn{field_string(t, "text", at), field_string(t, "emotion", at), 0.5};
      if (!t.contains("intensity") || !t["intensity"].is_number())
        throw InputError(at, "\"intensity\": expected a number");
      turn.intensity = t["intensity"].get<double>();
      (void)affect::emotion_style(turn.emotion, turn.intensity);  // validates both
      dialogue.turns.push_back(std::move(turn));
    }
    out.push_back(std::move(dialogue));
  }
  return out;
}

struct DemoCliOptions {
  ChatModelOptions model;
  std::string examples;
  std::string out = "attune-demo";
  bool show_thinking = false;
  std::vector<std::string> only;
  bool voice_given = false;  // --voice speaks every reply instead of each dialogue's reply_voice
};

int run_demo(const DemoCliOptions& o) {
  const fs::path examples = o.examples.empty() ? fs::path(ATTUNE_DEFAULT_EXAMPLES) : fs::path(o.examples);
  std::vector<DemoDialogue> dialogues = read_examples(examples);
  if (!o.only.empty()) {
    std::erase_if(dialogues,
                  [&](const DemoDialogue& d) { return std::find(o.only.begin(), o.only.end(), d.id) == o.only.end(); });
    if (dialogues.empty())
      throw ConfigError("demo: no dialogue in " + examples.string() + " has the --dialogue ids given");
  }
  const fs::path out_dir(o.out);

  // 1. Voice every user turn (the demo's "microphone").
  std::fprintf(stdout, "Voicing %zu example dialogues from %s...\n", dialogues.size(), examples.string().c_str());
  auto talker = tts::make_talker("auto");
  for (const DemoDialogue& d : dialogues) {
    fs::create_directories(out_dir / d.id);
    talker->reset();
    for (size_t k = 0; k < d.turns.size(); ++k) {
      const DemoTurn& t = d.turns[k];
      const AudioBuffer clip =
          talker->synthesize(t.text, affect::emotion_style(t.emotion, t.intensity), tts::find_voice(d.voice));
      audio::write_audio(out_dir / d.id / fmt::format("user-{}.wav", k + 1), clip);
    }
  }

  // 2. Run each dialogue through the model, one session each.
  Model model = load_chat_model(o.model, stdout);
  std::vector<Reply> all;
  for (const DemoDialogue& d : dialogues) {
    std::printf("\n== %s ==\n", d.title.c_str());
    SessionOptions session_opts = session_options(o.model);
    if (!o.voice_given) session_opts.voice = d.reply_voice;
    Session session = model.open_session(session_opts);
    DialoguePrinter printer({o.show_thinking, stdout, model.words_decoding()});
    std::vector<TurnRecord> records;
    for (size_t k = 0; k < d.turns.size(); ++k) {
      const DemoTurn& t = d.turns[k];
      const std::string user_path = (out_dir / d.id / fmt::format("user-{}.wav", k + 1)).string();
      const AudioBuffer clip = audio::load_audio(user_path);
      records.push_back(run_printed_turn(session, printer, k + 1, user_path, clip, "",
                                         fmt::format("\"{}\" (voiced {} {:.1f})", t.text, t.emotion, t.intensity),
                                         out_dir / d.id));
      all.push_back(records.back().reply);
    }
    common::write_file_atomically(out_dir / d.id / "dialogue.json", dialogue_record(d.id, records).dump(2) + "\n");
  }
  std::printf("\n");
  print_timing_summary(stdout, all);
  std::printf("audio and dialogue records: %s/\n", out_dir.string().c_str());
  return 0;
}

const bool registered_demo = register_command(
    {"demo", "Voice the example dialogues (examples/dialogues.json) and run them through the model",
     [](CLI::App& app) -> Action {
       auto o = std::make_shared<DemoCliOptions>();
       add_chat_model_options(app, o->model);
       app.add_option("--examples", o->examples,
                      "The dialogues to voice (default: examples/dialogues.json of the source tree)");
       app.add_option("--out", o->out,
                      "Where the user and reply audio and the dialogue records go (default attune-demo)");
       app.add_flag("--show-thinking", o->show_thinking, "Print the model's hidden reasoning before each reply");
       app.add_option("--dialogue", o->only, "Only the dialogues with these ids (repeatable)");
       app.get_option("--voice")->description("The replies' voice (default: each dialogue's reply_voice)");
       return [o, &app] {
         o->voice_given = app.get_option("--voice")->count() > 0;
         return run_demo(*o);
       };
     }});

}  // namespace
}  // namespace attune::cli
