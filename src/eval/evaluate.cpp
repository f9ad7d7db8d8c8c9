#include "eval/evaluate.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <random>

#include "attune/error.h"
#include "audio/audio_file.h"
#include "common/progress.h"
#include "data/diagnostics.h"
#include "data/dialogue.h"
#include "data/labels.h"
#include "data/readers.h"
#include "data/voicing.h"
#include "eval/cause_score.h"
#include "eval/humdial_scores.h"

namespace fs = std::filesystem;

namespace attune::eval {
namespace {

// Expected calibration error over 10 equal-width confidence bins.
double expected_calibration_error(const std::vector<std::pair<double, bool>>& top) {
  if (top.empty()) return 0;
  std::array<double, 10> confidence{}, correct{};
  std::array<int64_t, 10> count{};
  for (const auto& [p, right] : top) {
    const size_t bin = std::min<size_t>(9, static_cast<size_t>(p * 10));
    confidence[bin] += p, correct[bin] += right ? 1 : 0, ++count[bin];
  }
  double ece = 0;
  for (size_t b = 0; b < 10; ++b) {
    if (count[b] > 0) ece += std::abs(confidence[b] - correct[b]);
  }
  return ece / static_cast<double>(top.size());
}

// A turn whose words read neutral but which was voiced in another emotion (data/voicing.h).
bool neutral_words_emotional_voice(const data::Dialogue& d, const data::Turn& t) {
  return t.voice && t.voice->source == "synthetic" && !t.emotion.empty() && t.emotion != "neutral" &&
         (t.source_emotion.empty() || data::words_read_neutral(d.meta.corpus, t.source_emotion));
}

}  // namespace

nlohmann::json TurnsReport::summary() const {
  auto ratio = [](double a, int64_t b) { return b ? a / static_cast<double>(b) : 0.0; };
  nlohmann::json j = {{"dialogues", dialogues},
                      {"turns", turns},
                      {"emotion_accuracy", emotion.accuracy()},
                      {"emotion_uar", emotion.unweighted_average_recall()},
                      {"emotion_macro_f1", emotion.macro_f1()},
                      {"emotion_brier", ratio(brier_sum, calibrated_turns)},
                      {"emotion_ece", expected_calibration_error(top_confidence)},
                      {"neutral_words_emotional_voice",
                       {{"turns", voice_over_words.count()},
                        {"voice_wins", voice_over_words.accuracy()},
                        {"uar", voice_over_words.unweighted_average_recall()}}},
                      {"cause_turns", cause_turns},
                      {"cause_f1_mean", ratio(cause_f1_sum, cause_turns)},
                      {"cause_hit_rate", ratio(static_cast<double>(cause_hits), cause_turns)},
                      {"replies", replies},
                      {"empty_reply_rate", ratio(static_cast<double>(empty_replies), replies)},
                      {"reply_words_mean", ratio(reply_words_sum, replies)},
                      {"reply_f1_vs_reference_mean", ratio(reply_f1_sum, replies)}};
  for (const auto& [engine, errors] : heard_words) {
    j["heard_words"][engine] = {
        {"cer", errors.cer()}, {"wer", errors.wer()}, {"reference_chars", errors.reference_chars}};
  }
  if (emotion_head.count() > 0) {
    for (const auto& [key, scores] :
         {std::pair{"emotion_head", &emotion_head}, {"emotion_thinking", &emotion_thinking}}) {
      j[key] = {{"accuracy", scores->accuracy()}, {"uar", scores->unweighted_average_recall()}};
    }
  }
  return j;
}

TurnsReport evaluate_turns(const Model& model, const SessionOptions& session, const TurnsOptions& options) {
  std::vector<data::Dialogue> dialogues = data::read_dialogues(options.dialogues.string());
  std::erase_if(dialogues,
                [&](const data::Dialogue& d) { return !options.corpus.empty() && d.meta.corpus != options.corpus; });
  if (options.sample > 0 && static_cast<int64_t>(dialogues.size()) > options.sample) {
    std::vector<size_t> order(dialogues.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::mt19937_64 rng(options.seed);
    std::shuffle(order.begin(), order.end(), rng);
    order.resize(static_cast<size_t>(options.sample));
    std::sort(order.begin(), order.end());
    std::vector<data::Dialogue> drawn;
    for (size_t i : order) drawn.push_back(std::move(dialogues[i]));
    dialogues = std::move(drawn);
  }
  if (options.limit > 0 && static_cast<int64_t>(dialogues.size()) > options.limit) dialogues.resize(options.limit);
  if (dialogues.empty()) {
    throw InputError(options.dialogues.string(), "no dialogues of corpus '" + options.corpus + "'");
  }
  const fs::path base = options.dialogues.parent_path();
  TurnsReport report;
  common::Progress bar("eval turns " + options.corpus, static_cast<int64_t>(dialogues.size()), "dialogues");
  for (const data::Dialogue& d : dialogues) {
    Session s = model.open_session(session);
    nlohmann::json turns = nlohmann::json::array();
    for (const data::Turn& t : d.turns) {
      if (t.split_audio_file.empty() || !t.task.empty()) continue;  // T1/T2 questions are issue 8's
      const Reply r = s.turn(audio::load_audio(data::resolve_audio(base, t.split_audio_file)),
                             options.reference_words ? t.text : std::string());
      ++report.turns;
      if (model.transcribes() && !options.reference_words) {
        const std::string engine =
            !t.voice || t.voice->source == "recorded" ? "recorded" : tts::voice_engine(t.voice->speaker);
        report.heard_words[engine.empty() ? "other" : engine].add(r.heard_words, t.text);
        report.heard_words["all"].add(r.heard_words, t.text);
      }
      if (!t.emotion.empty()) {
        report.emotion.add(t.emotion, r.emotion.label);
        if (!r.head_label.empty()) {
          report.emotion_head.add(t.emotion, r.head_label);
          report.emotion_thinking.add(t.emotion, r.thinking_label);
        }
        if (neutral_words_emotional_voice(d, t)) report.voice_over_words.add(t.emotion, r.emotion.label);
        // Calibration; a turn where no feeling was named counts as the uniform distribution.
        std::vector<std::pair<std::string, double>> dist = r.emotion.probabilities;
        if (dist.empty()) {
          for (const std::string& label : emotion_labels())
            dist.emplace_back(label, 1.0 / static_cast<double>(emotion_labels().size()));
        }
        double brier = 0, top = 0;
        bool top_right = false;
        for (const auto& [label, p] : dist) {
          const double miss = p - (label == t.emotion ? 1.0 : 0.0);
          brier += miss * miss;
          if (p > top) top = p, top_right = !r.emotion.probabilities.empty() && label == t.emotion;
        }
        report.brier_sum += brier;
        ++report.calibrated_turns;
        report.top_confidence.emplace_back(top, top_right);
      }
      double cause = -1;
      if (t.emotion != "neutral" && !t.emotion.empty() && (!t.cause_span.empty() || !t.cause_turns.empty())) {
        std::vector<std::string> refs = t.cause_span;
        if (refs.empty()) {
          for (int k : t.cause_turns) {
            if (k >= 1 && k <= static_cast<int>(d.turns.size()))
              refs.push_back(d.turns[static_cast<size_t>(k - 1)].text);
          }
        }
        cause = cause_f1(r.thinking, refs);
        ++report.cause_turns;
        report.cause_f1_sum += cause;
        if (cause >= 0.5) ++report.cause_hits;
      }
      if (!t.response_text.empty()) {
        ++report.replies;
        if (r.text.empty()) ++report.empty_replies;
        report.reply_words_sum += static_cast<double>(word_count(r.text));
        report.reply_f1_sum += word_f1(r.text, t.response_text);
      }
      if (r.timings.first_reply_token > 0) report.first_reply_token_s.push_back(r.timings.first_reply_token);
      turns.push_back({{"turn_id", t.turn_id},
                       {"text", t.text},
                       {"emotion", t.emotion},
                       {"heard", r.emotion.label},
                       {"heard_source", r.emotion.source},
                       {"heard_probabilities", r.emotion.probabilities},
                       {"heard_words", r.heard_words},
                       {"head", r.head_label},
                       {"thinking_label", r.thinking_label},
                       {"cause_f1", cause},
                       {"thinking", r.thinking},
                       {"reference_reply", t.response_text},
                       {"reply", r.text},
                       {"stop_reason", to_string(r.stop_reason)},
                       {"warnings", r.warnings}});
    }
    report.records.push_back({{"dialogue_id", d.dialogue_id}, {"corpus", d.meta.corpus}, {"turns", turns}});
    ++report.dialogues;
    bar.advance();
    bar.set_postfix(fmt::format("emotion accuracy {:.3f}", report.emotion.accuracy()));
  }
  bar.finish();
  return report;
}

std::string turns_transcript_markdown(const nlohmann::json& records) {
  std::string md;
  for (const nlohmann::json& d : records) {
    md += fmt::format("### {} ({})\n\n", d.value("dialogue_id", ""), d.value("corpus", ""));
    for (const nlohmann::json& t : d.at("turns")) {
      std::string thinking = t.value("thinking", "");
      std::replace(thinking.begin(), thinking.end(), '\n', ' ');
      md += fmt::format("- **user** ({}; heard {}): {}\n", t.value("emotion", "?"), t.value("heard", "nothing"),
                        t.value("text", ""));
      md += fmt::format("  - thinking: {}\n  - **reply**: {}\n  - corpus reply: {}\n", thinking, t.value("reply", ""),
                        t.value("reference_reply", ""));
    }
    md += "\n";
  }
  return md;
}

}  // namespace attune::eval
