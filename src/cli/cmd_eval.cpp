// `attune eval ser | humdial | turns`: the measurements behind a model card, on the runtime.
//   attune eval humdial --data FILE.jsonl --task t1|t2|t3 --out DIR [--judge-url URL --judge-model M]
//   attune eval report DIR... [--out DIR]
//   attune eval ser   [--model DIR] [--corpus ravdess|emodb | --manifest CSV] [--baseline prosody] [--out DIR]
//   attune eval turns [--model DIR] --dialogues BUILD/dialogues.jsonl [--corpus reccon] [--json FILE]
//   attune eval replies --model DIR [--model DIR2 ...] --dialogues BUILD/dialogues.jsonl [--corpus C]
//   attune eval talkers [--model DIR] [--voices V,...] [--sentences N] [--out DIR]
// `ser`: emotion from the voice alone, one clip per session (RAVDESS valid = actors 19-20), beside
// the classical prosody baseline.
// `turns`: per-turn emotion, the cause quoted in the thinking vs the annotation (word F1), and the
// replies, over voiced multi-turn dialogues. Tables on stdout, details in --json.
// `replies`: perplexity of the corpus replies (per token and per word) under each model, in one run.
// `talkers`: how each voice carries the emotion profiles (measured prosody deltas, the emotion the
// model's encoder head hears in them, RTF and first audio), and which voice does it best.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>

#include "attune/error.h"
#include "cli/chat_options.h"
#include "cli/command.h"
#include "cli/dialogue_printer.h"
#include "common/file_util.h"
#include "eval/evaluate.h"
#include "eval/humdial_report.h"
#include "eval/reply_perplexity.h"
#include "eval/report.h"
#include "eval/ser_eval.h"
#include "eval/talker_eval.h"

#ifndef ATTUNE_DEFAULT_SHARED_DIR
#define ATTUNE_DEFAULT_SHARED_DIR "../shared"
#endif

namespace attune::cli {
namespace {

struct EvalCli {
  ChatModelOptions model;
  std::string corpus = "ravdess", split = "valid", manifest, train_manifest, baseline, out;
  int64_t limit = 0;
  eval::HumdialOptions humdial;
  eval::JudgeOptions judge;
  std::vector<std::string> report_dirs;
  std::string report_out = "report";
  eval::TurnsOptions turns;
  eval::ReplyPerplexityOptions replies;
  std::vector<std::string> reply_models;
  std::vector<std::string> reply_dtypes = {"fp32"};
  std::string data_root;
  std::string json, transcript;
  eval::TalkerEvalOptions talkers;
};

void write_json(const std::string& path, const nlohmann::json& j) {
  if (path.empty()) return;
  common::write_file_atomically(path, j.dump(2) + "\n");
  std::printf("details: %s\n", path.c_str());
}

std::string shared_data_root(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("ATTUNE_SHARED_DIR")) return std::string(env) + "/data";
  return std::string(ATTUNE_DEFAULT_SHARED_DIR) + "/data";
}

void print_ser_row(const eval::SerRun& r) {
  std::printf("| %s | %lld | %.3f | %.3f | %.3f |\n", r.system.c_str(), static_cast<long long>(r.scores.count()),
              r.scores.unweighted_average_recall(), r.scores.accuracy(), r.scores.macro_f1());
}

int run_ser(EvalCli& c) {
  const std::string root = shared_data_root(c.data_root);
  if (!c.manifest.empty() && c.baseline == "prosody" && c.train_manifest.empty())
    throw ConfigError("--baseline prosody with --manifest needs --train-manifest (the clips to fit it on)");
  eval::SerManifest test =
      c.manifest.empty() ? eval::corpus_manifest(c.corpus, c.split, root) : eval::read_ser_manifest(c.manifest);
  if (c.limit > 0 && static_cast<int64_t>(test.clips.size()) > c.limit) test.clips.resize(static_cast<size_t>(c.limit));
  if (test.clips.empty()) {
    throw InputError(test.source, "no usable clips (" + std::to_string(test.skipped.size()) + " skipped" +
                                      (test.skipped.empty() ? "" : "; the first: " + test.skipped.front()) + ")");
  }
  for (const std::string& s : test.skipped) std::fprintf(stderr, "skipped: %s\n", s.c_str());

  c.model.no_speech = true;
  Model model = load_chat_model(c.model, stdout);
  const std::string name = std::filesystem::path(chat_model_dir(c.model)).filename().string();
  const std::vector<eval::SerRun> runs = eval::evaluate_ser_model(model, session_options(c.model), test.clips, name);
  const eval::SerRun& run = runs.front();
  std::optional<eval::SerRun> baseline;
  std::optional<eval::SerManifest> train;
  if (c.baseline == "prosody") {
    train =
        c.manifest.empty() ? eval::corpus_manifest(c.corpus, "train", root) : eval::read_ser_manifest(c.train_manifest);
    baseline = eval::evaluate_prosody_baseline(train->clips, test.clips);
  }

  std::printf(
      "\n%s: %zu clips (%zu skipped); UA = mean recall over the labels present (the headline), WA = accuracy\n\n",
      test.source.c_str(), test.clips.size(), test.skipped.size());
  std::printf("| system | clips | UA | WA | macro-F1 |\n|---|---|---|---|---|\n");
  for (const eval::SerRun& r : runs) print_ser_row(r);
  if (baseline) print_ser_row(*baseline);
  std::printf("\nper speaker (UA): ");
  for (const auto& [speaker, s] : run.per_speaker) {
    std::printf("%s %.3f", speaker.c_str(), s.unweighted_average_recall());
    if (baseline && baseline->per_speaker.count(speaker))
      std::printf(" (baseline %.3f)", baseline->per_speaker.at(speaker).unweighted_average_recall());
    std::printf("; ");
  }
  std::printf("\nmedian first token %.0f ms\n\n%s: confusion\n%s", 1000 * median(run.first_token_s), name.c_str(),
              run.scores.markdown().c_str());
  if (baseline) std::printf("\nprosody baseline: confusion\n%s", baseline->scores.markdown().c_str());

  nlohmann::json summary = {{"source", test.source},
                            {"clips", test.clips.size()},
                            {"skipped", test.skipped},
                            {"model", run.summary()},
                            {"first_token_median_s", median(run.first_token_s)}};
  for (size_t i = 1; i < runs.size(); ++i) summary[i == 1 ? "encoder_head" : "thinking"] = runs[i].summary();
  if (baseline) {
    summary["baseline"] = baseline->summary();
    summary["baseline"]["trained_on"] = {{"source", train->source}, {"clips", train->clips.size()}};
  }
  if (!c.out.empty()) {
    const std::filesystem::path out(c.out);
    std::filesystem::create_directories(out);
    common::write_file_atomically(out / "summary.json", summary.dump(2) + "\n");
    std::string lines;
    for (const auto& clip : run.clips) lines += clip.dump() + "\n";
    common::write_file_atomically(out / "clips.jsonl", lines);
    common::write_file_atomically(out / "confusion-model.svg",
                                  eval::confusion_svg(run.scores, name + " on " + test.source));
    for (size_t i = 1; i < runs.size(); ++i) {
      common::write_file_atomically(out / (i == 1 ? "confusion-encoder-head.svg" : "confusion-thinking.svg"),
                                    eval::confusion_svg(runs[i].scores, runs[i].system + " on " + test.source));
    }
    if (baseline)
      common::write_file_atomically(out / "confusion-prosody-baseline.svg",
                                    eval::confusion_svg(baseline->scores, "prosody baseline on " + test.source));
    std::printf("\nresults: %s (summary.json, clips.jsonl, confusion-*.svg)\n", c.out.c_str());
  }
  write_json(c.json, summary);
  return 0;
}

int run_humdial(EvalCli& c) {
  const eval::HumdialOptions& o = c.humdial;
  c.model.no_speech = o.task != "t3";
  Model model = load_chat_model(c.model, stdout);
  const std::string name = std::filesystem::path(chat_model_dir(c.model)).filename().string();
  eval::HumdialRun run = eval::evaluate_humdial(model, session_options(c.model), o);
  nlohmann::json judged = nullptr;
  if (!c.judge.url.empty()) {
    eval::JudgeOptions jo = c.judge;
    if (jo.model.empty()) throw ConfigError("--judge-url needs --judge-model");
    for (const char* env : {"ATTUNE_JUDGE_API_KEY", "OPENAI_API_KEY"}) {
      if (jo.api_key.empty() && std::getenv(env)) jo.api_key = std::getenv(env);
    }
    jo.cache = o.out / "judge-cache.jsonl";
    eval::Judge judge(jo);
    judged = eval::judge_humdial(run, judge);
  }
  nlohmann::json summary = run.summary();
  summary["model"] = name;
  summary["data"] = o.data.string();
  summary["judge"] = judged;
  summary["score_components"] = eval::score_components(judged, o.task);
  summary["final_score"] = eval::final_score(summary["score_components"]);
  std::filesystem::create_directories(o.out);
  std::string lines;
  for (const auto& r : run.records) lines += r.dump() + "\n";
  common::write_file_atomically(o.out / "results.jsonl", lines);
  if (o.task == "t3") eval::write_human_rating_sheet(run, o.out);
  common::write_file_atomically(o.out / "summary.json", summary.dump(2) + "\n");

  std::printf("\nHumDial %s on %s: %lld dialogues (%zu skipped)\n", o.task.c_str(), o.data.string().c_str(),
              static_cast<long long>(run.dialogues), run.skipped.size());
  for (size_t i = 0; i < run.skipped.size() && i < 20; ++i)
    std::fprintf(stderr, "skipped: %s\n", run.skipped[i].c_str());
  if (run.skipped.size() > 20)
    std::fprintf(stderr, "skipped: ... %zu more (summary.json lists them)\n", run.skipped.size() - 20);
  std::printf("per-turn emotion: %lld turns, accuracy %.3f, UA %.3f, macro-F1 %.3f\n",
              static_cast<long long>(run.emotion.count()), run.emotion.accuracy(),
              run.emotion.unweighted_average_recall(), run.emotion.macro_f1());
  for (const char* key : {"t1", "t2", "t3"}) {
    if (summary.contains(key)) std::printf("%s: %s\n", key, summary[key].dump().c_str());
  }
  if (!judged.is_null())
    std::printf("judge: %lld of %lld items judged (%zu failed); means %s\n", judged["judged"].get<long long>(),
                judged["items"].get<long long>(), judged["failures"].size(), judged["mean"].dump().c_str());
  std::printf("score components %s; final (renormalised) %s\nresults: %s (%s.jsonl, results.jsonl, summary.json%s)\n",
              summary["score_components"].dump().c_str(), summary["final_score"]["score"].dump().c_str(),
              o.out.string().c_str(), o.task.c_str(), o.task == "t3" ? ", t3/*.wav, human-rating.{csv,html}" : "");
  return 0;
}

int run_report(EvalCli& c) {
  std::vector<std::filesystem::path> dirs(c.report_dirs.begin(), c.report_dirs.end());
  const eval::Report r = eval::build_report(dirs);
  const std::filesystem::path out(c.report_out);
  std::filesystem::create_directories(out);
  common::write_file_atomically(out / "report.md", r.markdown);
  common::write_file_atomically(out / "report.html", r.html);
  common::write_file_atomically(out / "report.json", r.summary.dump(2) + "\n");
  std::printf("%s\nreport: %s (report.html, report.md, report.json)\n",
              r.markdown.substr(0, r.markdown.find("## Figures")).c_str(), out.string().c_str());
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
  std::printf("calibration of the reported probabilities: Brier %.3f, ECE %.3f\n", s["emotion_brier"].get<double>(),
              s["emotion_ece"].get<double>());
  if (r.emotion_head.count() > 0) {
    std::printf("by source: encoder head accuracy %.3f UA %.3f; thinking accuracy %.3f UA %.3f\n",
                r.emotion_head.accuracy(), r.emotion_head.unweighted_average_recall(), r.emotion_thinking.accuracy(),
                r.emotion_thinking.unweighted_average_recall());
  }
  std::printf("neutral words, emotional voice (%lld turns): the voice's label wins in %.1f%%, UA %.3f\n",
              static_cast<long long>(r.voice_over_words.count()), 100 * r.voice_over_words.accuracy(),
              r.voice_over_words.unweighted_average_recall());
  std::printf(
      "cause (%lld non-neutral turns with an annotated cause): mean word F1 of the quoted cause %.3f; "
      "F1 >= 0.5 in %.1f%%\n",
      static_cast<long long>(r.cause_turns), s["cause_f1_mean"].get<double>(), 100 * s["cause_hit_rate"].get<double>());
  for (const auto& [engine, errors] : r.heard_words) {
    std::printf("heard words (%s), %s: CER %.3f, WER %.3f over %lld characters\n", model.words_decoding().c_str(),
                engine.c_str(), errors.cer(), errors.wer(), static_cast<long long>(errors.reference_chars));
  }
  std::printf(
      "replies (%lld): %.1f words on average, %.1f%% empty, word F1 vs the corpus reply %.3f; median first "
      "reply token %.0f ms\n\n%s",
      static_cast<long long>(r.replies), s["reply_words_mean"].get<double>(), 100 * s["empty_reply_rate"].get<double>(),
      s["reply_f1_vs_reference_mean"].get<double>(), 1000 * median(r.first_reply_token_s),
      r.emotion.markdown().c_str());
  write_json(c.json, {{"summary", s}, {"dialogues", r.records}});
  if (!c.transcript.empty()) {
    common::write_file_atomically(c.transcript, eval::turns_transcript_markdown(r.records));
    std::printf("transcript: %s\n", c.transcript.c_str());
  }
  return 0;
}

int run_replies(EvalCli& c) {
  nlohmann::json results = nlohmann::json::array();
  std::vector<std::pair<std::string, eval::ReplyPerplexity>> rows;
  for (const std::string& dir : c.reply_models) {
    for (const std::string& dtype : c.reply_dtypes) {
      eval::ReplyPerplexityOptions options = c.replies;
      options.int8 = dtype == "int8";
      const std::string name = c.reply_dtypes.size() > 1 ? dir + " (" + dtype + ")" : dir;
      rows.emplace_back(name, eval::evaluate_reply_perplexity(dir, options));
      results.push_back({{"model", dir}, {"dtype", dtype}, {"summary", rows.back().second.summary()}});
    }
  }
  const std::string corpus = c.replies.corpus.empty() ? "all corpora" : c.replies.corpus;
  std::printf("\nreply perplexity, %s (%s; the corpus thinking given, text view)\n\n", corpus.c_str(),
              c.replies.dialogues.string().c_str());
  std::printf("| model | dialogues | replies | words | tokens | ppl/word | ppl/token | vs first |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& [dir, r] : rows) {
    std::printf("| %s | %lld | %lld | %lld | %lld | %.2f | %.2f | %+.1f%% |\n", dir.c_str(),
                static_cast<long long>(r.dialogues), static_cast<long long>(r.replies), static_cast<long long>(r.words),
                static_cast<long long>(r.tokens), r.per_word(), r.per_token(),
                100 * (r.per_word() / rows.front().second.per_word() - 1));
  }
  write_json(c.json, {{"dialogues", c.replies.dialogues.string()}, {"corpus", c.replies.corpus}, {"models", results}});
  return 0;
}

int run_talkers(EvalCli& c) {
  c.talkers.validate();
  c.model.no_speech = true;
  Model model = load_chat_model(c.model, stdout);
  const std::string name = std::filesystem::path(chat_model_dir(c.model)).filename().string();
  const eval::TalkerEvalResult r = eval::evaluate_talkers(model, name, c.talkers);
  const std::string md = r.markdown(c.talkers.congruence_from);
  std::printf("\n%s\nbest voice: %s (congruence %.2f)\n", md.c_str(), r.best_voice().voice.c_str(),
              r.best_voice().congruence);
  if (!c.out.empty()) {
    const std::filesystem::path out(c.out);
    std::filesystem::create_directories(out);
    common::write_file_atomically(out / "talkers.json", r.to_json().dump(2) + "\n");
    common::write_file_atomically(out / "talkers.md", md);
    std::printf("results: %s (talkers.json, talkers.md)\n", c.out.c_str());
  }
  return 0;
}

const bool registered_eval = register_command(
    {"eval",
     "Measure a model: emotion from voice (ser), HumDial T1/T2/T3 (humdial), per-turn emotion and cause (turns), "
     "reply perplexity (replies), how the voices carry emotion (talkers)",
     [](CLI::App& app) -> Action {
       auto c = std::make_shared<EvalCli>();
       app.require_subcommand(1);
       auto* ser = app.add_subcommand("ser", "Emotion from the voice alone, one clip per session");
       add_chat_model_options(*ser, c->model);
       ser->add_option("--corpus", c->corpus, "A speech corpus of ../shared/data: ravdess (default) or emodb")
           ->check(CLI::IsMember({"ravdess", "emodb"}));
       ser->add_option("--split", c->split, "train or valid (valid: RAVDESS actors 19-20, EmoDB speakers 03 and 08)");
       ser->add_option("--manifest", c->manifest, "A CSV with columns file, emotion, speaker instead of a corpus");
       ser->add_option("--baseline", c->baseline, "prosody: also a linear classifier over prosody functionals")
           ->check(CLI::IsMember({"prosody"}));
       ser->add_option("--train-manifest", c->train_manifest,
                       "Clips to fit the baseline on (with --manifest; a corpus uses its train split)");
       ser->add_option("--data-root", c->data_root, "The shared data folder (default ../shared/data)");
       ser->add_option("--limit", c->limit, "Clips at most");
       ser->add_option("--out", c->out, "Write summary.json, clips.jsonl and confusion plots (SVG) here");
       ser->add_option("--json", c->json, "Write the summary here");
       auto* hd =
           app.add_subcommand("humdial", "HumDial Track I: T1 trajectory, T2 reasoning, T3 empathy, turn by turn");
       add_chat_model_options(*hd, c->model);
       hd->add_option("--data", c->humdial.data, "HumDial JSONL (audio paths relative to it)")->required();
       hd->add_option("--task", c->humdial.task, "t1, t2 or t3")->check(CLI::IsMember({"t1", "t2", "t3"}))->required();
       hd->add_option("--out", c->humdial.out, "Where the task's JSONL, results, summary.json (and T3 audio) go")
           ->required();
       hd->add_option("--lang", c->humdial.lang, "Keep only en or zh dialogues")->check(CLI::IsMember({"en", "zh"}));
       hd->add_option("--limit", c->humdial.limit, "Dialogues at most");
       hd->add_option("--judge-url", c->judge.url,
                      "An OpenAI-compatible endpoint for the LLM judge (http(s)://host:port/v1)");
       hd->add_option("--judge-model", c->judge.model,
                      "The judge model's name (key: $ATTUNE_JUDGE_API_KEY or $OPENAI_API_KEY)");
       hd->add_option("--judge-prompts", c->judge.prompts_dir, "A folder with t1.txt/t2.txt/t3.txt prompt templates");
       hd->add_option("--judge-timeout", c->judge.timeout_s, "Seconds per judge request")->check(CLI::Range(1, 3600));
       hd->add_option("--judge-retries", c->judge.retries, "Retries after a failed or garbled judge answer")
           ->check(CLI::Range(0, 20));
       auto* rep =
           app.add_subcommand("report", "Gather eval ser / eval humdial runs into one report (HTML, Markdown, JSON)");
       rep->add_option("runs", c->report_dirs, "Run directories (each with summary.json); several side by side")
           ->required()
           ->check(CLI::ExistingDirectory);
       rep->add_option("--out", c->report_out, "Where report.html, report.md and report.json go (default ./report)");
       auto* turns = app.add_subcommand("turns", "Per-turn emotion, cause and replies over voiced dialogues");
       add_chat_model_options(*turns, c->model);
       turns->add_option("--dialogues", c->turns.dialogues, "dialogues.jsonl of `attune data build --voices`")
           ->required();
       turns->add_option("--corpus", c->turns.corpus, "Keep dialogues of this corpus (default reccon; \"\" = all)");
       turns->add_option("--limit", c->turns.limit, "Dialogues at most");
       turns->add_option("--sample", c->turns.sample,
                         "Draw this many dialogues at random (--sample-seed), in file order");
       turns->add_option("--sample-seed", c->turns.seed, "Seed of --sample")->capture_default_str();
       turns->add_flag("--reference-words", c->turns.reference_words,
                       "Give the model each turn's reference words beside its audio (an upper bound: a perfect "
                       "transcription)");
       turns->add_option("--json", c->json, "Write the summary and every turn's result here");
       turns->add_option("--transcript", c->transcript,
                         "Write every dialogue (words, heard emotion, thinking, reply) here as Markdown");
       auto* replies = app.add_subcommand(
           "replies", "Perplexity of the corpus replies (per token and per word) under one or more models");
       replies->add_option("--model", c->reply_models, "Model directory (repeat to compare models in one run)")
           ->required();
       replies->add_option("--dialogues", c->replies.dialogues, "dialogues.jsonl of `attune data build`")->required();
       replies->add_option("--corpus", c->replies.corpus,
                           "Keep dialogues of this corpus (default empatheticdialogues; \"\" = all)");
       replies->add_option("--limit", c->replies.limit, "Dialogues at most");
       replies
           ->add_option("--dtype", c->reply_dtypes,
                        "Language model weights, fp32 or int8; several (fp32,int8) score each model in each")
           ->delimiter(',')
           ->check(CLI::IsMember({"fp32", "int8"}));
       replies->add_option("--json", c->json, "Write each model's counts and perplexities here");
       auto* talkers = app.add_subcommand(
           "talkers",
           "How each voice carries the emotion profiles: prosody deltas, congruence heard by the encoder head");
       add_chat_model_options(*talkers, c->model);
       talkers->add_option("--voices", c->talkers.voices, "Built-in voices (default: every English one)")
           ->delimiter(',');
       talkers->add_option("--sentences", c->talkers.sentences, "How many of the 20 fixed sentences")
           ->check(CLI::Range(1, 20))
           ->capture_default_str();
       talkers->add_option("--intensities", c->talkers.intensities, "Emotion intensities to speak")
           ->delimiter(',')
           ->check(CLI::Range(0.01, 1.0));
       talkers->add_option("--out", c->out, "Write talkers.json and talkers.md here");
       return [c, ser, hd, rep, replies, talkers] {
         if (ser->parsed()) return run_ser(*c);
         if (talkers->parsed()) return run_talkers(*c);
         if (hd->parsed()) return run_humdial(*c);
         if (replies->parsed()) return run_replies(*c);
         return rep->parsed() ? run_report(*c) : run_turns(*c);
       };
     }});

}  // namespace
}  // namespace attune::cli
