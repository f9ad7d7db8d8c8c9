// `attune eval ser | turns`: the measurements behind a model card, on the runtime.
//   attune eval ser   [--model DIR] [--corpus ravdess] [--split valid] [--data-root DIR] [--json FILE]
//   attune eval turns [--model DIR] --dialogues BUILD/dialogues.jsonl [--corpus reccon] [--json FILE]
// `ser`: emotion from the voice alone, one clip per session (RAVDESS valid = actors 19-20).
// `turns`: per-turn emotion, the cause quoted in the thinking vs the annotation (word F1), and the
// replies, over voiced multi-turn dialogues. Tables on stdout, details in --json.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "attune/error.h"
#include "cli/chat_options.h"
#include "cli/command.h"
#include "cli/dialogue_printer.h"
#include "common/file_util.h"
#include "eval/evaluate.h"

#ifndef ATTUNE_DEFAULT_SHARED_DIR
#define ATTUNE_DEFAULT_SHARED_DIR "../shared"
#endif

namespace attune::cli {
namespace {

struct EvalCli {
  ChatModelOptions model;
  eval::SerOptions ser;
  eval::TurnsOptions turns;
  std::string data_root;
  std::string json;
};

void write_json(const std::string& path, const nlohmann::json& j) {
  if (path.empty()) return;
  common::write_file_atomically(path, j.dump(2) + "\n");
  std::printf("details: %s\n", path.c_str());
}

int run_ser(EvalCli& c) {
  c.ser.data_root = !c.data_root.empty()               ? c.data_root
                    : std::getenv("ATTUNE_SHARED_DIR") ? std::string(std::getenv("ATTUNE_SHARED_DIR")) + "/data"
                                                       : std::string(ATTUNE_DEFAULT_SHARED_DIR) + "/data";
  c.model.no_speech = true;
  Model model = load_chat_model(c.model, stdout);
  const eval::SerReport r = eval::evaluate_ser(model, session_options(c.model), c.ser);
  std::printf(
      "\n%s %s: %lld clips; accuracy %.3f, unweighted average recall %.3f, macro F1 %.3f "
      "(chance: 1/%d labels present); median first token %.0f ms\n\n%s",
      c.ser.corpus.c_str(), c.ser.split.c_str(), static_cast<long long>(r.scores.count()), r.scores.accuracy(),
      r.scores.unweighted_average_recall(), r.scores.macro_f1(),
      static_cast<int>(std::count_if(r.scores.confusion().begin(), r.scores.confusion().end(),
                                     [](const auto& row) {
                                       int64_t n = 0;
                                       for (int64_t v : row) n += v;
                                       return n > 0;
                                     })),
      1000 * median(r.first_token_s), r.scores.markdown().c_str());
  write_json(c.json, {{"corpus", c.ser.corpus},
                      {"split", c.ser.split},
                      {"clips", r.scores.count()},
                      {"accuracy", r.scores.accuracy()},
                      {"uar", r.scores.unweighted_average_recall()},
                      {"macro_f1", r.scores.macro_f1()},
                      {"per_clip", r.clips}});
  return 0;
}

int run_turns(EvalCli& c) {
  c.model.no_speech = true;
  Model model = load_chat_model(c.model, stdout);
  const eval::TurnsReport r = eval::evaluate_turns(model, session_options(c.model), c.turns);
  const nlohmann::json s = r.summary();
  std::printf("\n%s: %lld dialogues, %lld turns\n", c.turns.corpus.c_str(), static_cast<long long>(r.dialogues),
              static_cast<long long>(r.turns));
  std::printf("emotion per turn: accuracy %.3f, unweighted average recall %.3f, macro F1 %.3f\n", r.emotion.accuracy(),
              r.emotion.unweighted_average_recall(), r.emotion.macro_f1());
  std::printf(
      "cause (%lld non-neutral turns with an annotated cause): mean word F1 of the quoted cause %.3f; "
      "F1 >= 0.5 in %.1f%%\n",
      static_cast<long long>(r.cause_turns), s["cause_f1_mean"].get<double>(), 100 * s["cause_hit_rate"].get<double>());
  std::printf(
      "replies (%lld): %.1f words on average, %.1f%% empty, word F1 vs the corpus reply %.3f; median first "
      "reply token %.0f ms\n\n%s",
      static_cast<long long>(r.replies), s["reply_words_mean"].get<double>(), 100 * s["empty_reply_rate"].get<double>(),
      s["reply_f1_vs_reference_mean"].get<double>(), 1000 * median(r.first_reply_token_s),
      r.emotion.markdown().c_str());
  write_json(c.json, {{"summary", s}, {"dialogues", r.records}});
  return 0;
}

const bool registered_eval = register_command(
    {"eval", "Measure a model: emotion from voice (ser), per-turn emotion, cause and replies (turns)",
     [](CLI::App& app) -> Action {
       auto c = std::make_shared<EvalCli>();
       app.require_subcommand(1);
       auto* ser = app.add_subcommand("ser", "Emotion from the voice alone, one clip per session");
       add_chat_model_options(*ser, c->model);
       ser->add_option("--corpus", c->ser.corpus, "A speech corpus reader (default ravdess)");
       ser->add_option("--split", c->ser.split, "train or valid (RAVDESS valid: actors 19-20)");
       ser->add_option("--data-root", c->data_root, "The shared data folder (default ../shared/data)");
       ser->add_option("--limit", c->ser.limit, "Clips at most");
       ser->add_option("--json", c->json, "Write the scores and every clip's result here");
       auto* turns = app.add_subcommand("turns", "Per-turn emotion, cause and replies over voiced dialogues");
       add_chat_model_options(*turns, c->model);
       turns->add_option("--dialogues", c->turns.dialogues, "dialogues.jsonl of `attune data build --voices`")
           ->required();
       turns->add_option("--corpus", c->turns.corpus, "Keep dialogues of this corpus (default reccon; \"\" = all)");
       turns->add_option("--limit", c->turns.limit, "Dialogues at most");
       turns->add_option("--json", c->json, "Write the summary and every turn's result here");
       return [c, ser] { return ser->parsed() ? run_ser(*c) : run_turns(*c); };
     }});

}  // namespace
}  // namespace attune::cli
