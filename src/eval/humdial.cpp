#include "eval/humdial.h"

#include <fmt/format.h>

#include <fstream>
#include <functional>

#include "attune/error.h"
#include "audio/audio_file.h"
#include "common/file_util.h"
#include "common/progress.h"
#include "data/dialogue.h"
#include "data/voicing.h"
#include "eval/cause_score.h"
#include "eval/humdial_scores.h"

namespace fs = std::filesystem;

namespace attune::eval {
namespace {

double mean(double sum, int64_t n) { return n ? sum / static_cast<double>(n) : 0.0; }

// The turns a task plays, as indices into d.turns: the ordinary turns up to its question (T1/T2)
// or up to the graded turn (T3). Empty when the dialogue has nothing for the task.
std::vector<size_t> turns_for(const data::Dialogue& d, const std::string& task) {
  std::vector<size_t> play;
  if (task == "t3") {
    const int g = graded_turn(d);
    if (g < 0) return {};
    for (size_t i = 0; i <= static_cast<size_t>(g); ++i) {
      if (d.turns[i].task.empty()) play.push_back(i);
    }
    return play;
  }
  for (size_t i = 0; i < d.turns.size(); ++i) {
    if (d.turns[i].task.empty()) play.push_back(i);
    if (d.turns[i].task == task) {
      play.push_back(i);
      return play;
    }
  }
  return {};
}

}  // namespace

nlohmann::json HumdialRun::summary() const {
  nlohmann::json s = {
      {"task", task}, {"dialogues", dialogues}, {"skipped", skipped.size()}, {"skipped_items", skipped}};
  s["turn_emotion"] = {{"turns", emotion.count()},
                       {"accuracy", emotion.accuracy()},
                       {"ua", emotion.unweighted_average_recall()},
                       {"macro_f1", emotion.macro_f1()},
                       {"confusion", emotion.confusion()}};
  if (task == "t1") {
    s["t1"] = {{"trajectories", trajectories},
               {"trajectory_exact_match", mean(static_cast<double>(trajectory_exact), trajectories)},
               {"answers", t1_answers},
               {"answer_emotions_exact", mean(static_cast<double>(t1_answer_exact), t1_answers)}};
  } else if (task == "t2") {
    s["t2"] = {{"items", t2_items},
               {"turn_precision", mean(t2_precision, t2_items)},
               {"turn_recall", mean(t2_recall, t2_items)},
               {"turn_f1", mean(t2_f1, t2_items)},
               {"span_items", t2_span_items},
               {"span_token_f1", mean(t2_span_f1, t2_span_items)}};
  } else {
    s["t3"] = {{"graded", graded},
               {"acknowledgement_rate", mean(static_cast<double>(acknowledged), graded)},
               {"reply_words_mean", mean(graded_words, graded)},
               {"distinct_1", distinct_n(graded_replies, 1)},
               {"distinct_2", distinct_n(graded_replies, 2)},
               {"vocal_congruence_items", congruence_items},
               {"vocal_congruence", mean(static_cast<double>(congruent), congruence_items)}};
  }
  return s;
}

namespace {

using Chosen = std::vector<std::pair<const data::Dialogue*, std::vector<size_t>>>;

// Every line of the JSONL file; bad lines are reported in run.skipped, not fatal.
std::vector<data::Dialogue> read_dialogue_lines(const fs::path& path, HumdialRun& run) {
  std::ifstream in(path);
  if (!in) throw InputError(path.string(), "cannot open the HumDial JSONL file");
  std::vector<data::Dialogue> dialogues;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      dialogues.push_back(data::dialogue_from_json(nlohmann::json::parse(line)));
    } catch (const std::exception& e) {
      run.skipped.push_back(fmt::format("line {}: {}", n, e.what()));
    }
  }
  return dialogues;
}

// Which dialogues the task can use (language, a question or graded turn, audio present), up to the
// limit, each with the turns to play.
Chosen choose_dialogues(const std::vector<data::Dialogue>& dialogues, const HumdialOptions& options,
                        const std::function<fs::path(const std::string&)>& audio_path, HumdialRun& run) {
  Chosen chosen;
  for (const data::Dialogue& d : dialogues) {
    if (options.limit > 0 && static_cast<int64_t>(chosen.size()) >= options.limit) break;
    if (d.lang != "en" && d.lang != "zh") {
      run.skipped.push_back(fmt::format("{}: language '{}' (HumDial is en and zh)", d.dialogue_id, d.lang));
      continue;
    }
    if (!options.lang.empty() && d.lang != options.lang) continue;
    std::vector<size_t> play = turns_for(d, options.task);
    if (play.empty()) {
      run.skipped.push_back(
          fmt::format("{}: nothing for {} (no question turn, or no graded turn)", d.dialogue_id, options.task));
      continue;
    }
    std::string missing;
    for (size_t i : play) {
      const data::Turn& t = d.turns[i];
      if (t.split_audio_file.empty() && t.text.empty())
        missing = fmt::format("turn {} has neither audio nor text", t.turn_id);
      else if (!t.split_audio_file.empty() && !fs::is_regular_file(audio_path(t.split_audio_file)))
        missing = fmt::format("turn {}: audio {} is missing", t.turn_id, audio_path(t.split_audio_file).string());
      if (!missing.empty()) break;
    }
    if (!missing.empty()) {
      run.skipped.push_back(fmt::format("{}: {}", d.dialogue_id, missing));
      continue;
    }
    chosen.emplace_back(&d, std::move(play));
  }
  return chosen;
}

// T2: the cause turns the reply mentions against the reference ones, and its words against the
// annotated cause spans.
void score_t2(const data::Dialogue& d, const std::vector<size_t>& play, const data::Turn& t, const Reply& r,
              HumdialRun& run, nlohmann::json& rec) {
  std::set<int> reference = mentioned_turns(t.response_text);
  std::vector<std::string> spans;
  for (size_t k : play) {
    const data::Turn& u = d.turns[k];
    if (!u.task.empty() || u.emotion.empty() || u.emotion == "neutral") continue;
    if (t.response_text.empty()) reference.insert(u.cause_turns.begin(), u.cause_turns.end());
    spans.insert(spans.end(), u.cause_span.begin(), u.cause_span.end());
  }
  if (!reference.empty()) {
    const SetScore sc = set_score(mentioned_turns(r.text), reference);
    ++run.t2_items;
    run.t2_precision += sc.precision;
    run.t2_recall += sc.recall;
    run.t2_f1 += sc.f1;
    rec["cause_turns"] = {{"predicted", mentioned_turns(r.text)}, {"reference", reference}, {"f1", sc.f1}};
  }
  if (!spans.empty()) {
    const double f = cause_f1(r.text + "\n" + r.thinking, spans);
    ++run.t2_span_items;
    run.t2_span_f1 += f;
    rec["cause_span_f1"] = f;
  }
}

// T3: the reply's audio saved; on the graded turn, whether the reply acknowledges the feeling and
// whether a fresh session hears the intended style in its voice.
void score_t3(const Model& model, const SessionOptions& hear, const fs::path& wav_dir, const std::string& name,
              bool graded, const Reply& r, HumdialRun& run, nlohmann::json& rec) {
  if (!r.audio.samples.empty() && !wav_dir.empty()) {
    audio::write_audio(wav_dir / name, r.audio);
    rec["response_audio"] = (wav_dir.filename() / name).string();
  }
  if (!graded) return;
  ++run.graded;
  run.acknowledged += acknowledges_emotion(r.text);
  run.graded_words += static_cast<double>(word_count(r.text));
  run.graded_replies.push_back(r.text);
  rec["graded"] = true;
  rec["intended_style"] = r.style.emotion;
  if (!r.audio.samples.empty()) {
    Session listener = model.open_session(hear);
    const Reply back = listener.turn(r.audio);
    ++run.congruence_items;
    run.congruent += back.emotion.label == r.style.emotion;
    rec["heard_in_reply_audio"] = back.emotion.label;
  }
}

}  // namespace

HumdialRun evaluate_humdial(const Model& model, const SessionOptions& session, const HumdialOptions& options) {
  if (options.task != "t1" && options.task != "t2" && options.task != "t3")
    throw ConfigError(fmt::format("task '{}'; expected t1, t2 or t3", options.task));
  HumdialRun run;
  run.task = options.task;
  const fs::path base = options.data.parent_path();
  auto audio_path = [&](const std::string& p) { return data::resolve_audio(base, p); };
  const std::vector<data::Dialogue> dialogues = read_dialogue_lines(options.data, run);
  const fs::path wav_dir = options.out.empty() ? fs::path() : options.out / options.task;
  if (options.task == "t3" && !wav_dir.empty()) fs::create_directories(wav_dir);
  SessionOptions so = session;
  so.speak = options.task == "t3";
  SessionOptions hear = session;
  hear.speak = false;
  const Chosen chosen = choose_dialogues(dialogues, options, audio_path, run);

  common::Progress bar(fmt::format("eval humdial {}", options.task), static_cast<int64_t>(chosen.size()), "dialogues");
  std::string jsonl;
  for (const auto& [dp, play] : chosen) {
    const data::Dialogue& d = *dp;
    bar.advance();
    try {
      Session s = model.open_session(so);
      nlohmann::json turns = nlohmann::json::array();
      std::vector<std::string> truth, heard;
      std::set<std::string> annotated;
      for (size_t i : play) {
        const data::Turn& t = d.turns[i];
        // A turn with audio is heard from its audio alone, as in the challenge; text only without audio.
        const Reply r = t.split_audio_file.empty() ? s.turn(AudioBuffer{}, t.text)
                                                   : s.turn(audio::load_audio(audio_path(t.split_audio_file)));
        nlohmann::json rec = {{"turn_id", t.turn_id},         {"text", t.text},
                              {"emotion", t.emotion},         {"task", t.task},
                              {"heard", r.emotion.label},     {"heard_probabilities", r.emotion.probabilities},
                              {"heard_words", r.heard_words}, {"thinking", r.thinking},
                              {"response_text", r.text},      {"reference_response", t.response_text}};
        if (!t.cause_turns.empty() || !t.cause_span.empty()) {
          std::string cause;
          for (int k : t.cause_turns) cause += fmt::format("turn {}; ", k);
          for (const std::string& span : t.cause_span) cause += "\"" + span + "\"; ";
          rec["cause"] = cause.substr(0, cause.size() - 2);
        }
        if (t.task.empty() && !t.emotion.empty()) {
          run.emotion.add(t.emotion, r.emotion.label);
          truth.push_back(t.emotion);
          heard.push_back(r.emotion.label);
          annotated.insert(t.emotion);
        }
        if (t.task == "t1") {
          const std::set<std::string> named = named_emotions(r.text);
          ++run.t1_answers;
          run.t1_answer_exact += same_emotions(named, annotated);
          rec["named_emotions"] = named;
        }
        if (t.task == "t2") score_t2(d, play, t, r, run, rec);
        if (options.task == "t3") {
          score_t3(model, hear, wav_dir, fmt::format("{}_{}_response.wav", d.dialogue_id, t.turn_id), i == play.back(),
                   r, run, rec);
        }
        turns.push_back(rec);
      }
      if (!truth.empty()) {
        ++run.trajectories;
        run.trajectory_exact += truth == heard;
      }
      nlohmann::json record = {
          {"dialogue_id", d.dialogue_id}, {"lang", d.lang}, {"task", options.task}, {"turns", turns}};
      jsonl += record.dump() + "\n";
      run.records.push_back(std::move(record));
      ++run.dialogues;
    } catch (const Error& e) {
      run.skipped.push_back(fmt::format("{}: {}", d.dialogue_id, e.what()));
    }
    bar.set_postfix(fmt::format("turn emotion accuracy {:.3f}", run.emotion.accuracy()));
  }
  bar.finish();
  if (!options.out.empty()) {
    fs::create_directories(options.out);
    common::write_file_atomically(options.out / (options.task + ".jsonl"), jsonl);
  }
  return run;
}

}  // namespace attune::eval
