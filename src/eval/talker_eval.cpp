#include "eval/talker_eval.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "affect/emotions.h"
#include "affect/speech_style.h"
#include "attune/error.h"
#include "audio/prosody.h"
#include "common/progress.h"
#include "common/stats.h"
#include "tts/talker.h"

namespace attune::eval {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Measured {
  double f0_hz = 0, range_st = 0, duration_s = 0, loudness_db = 0;
};

Measured measure(const AudioBuffer& a) {
  audio::ProsodyOptions options;
  options.spectral = false;
  options.hnr = false;
  const audio::Prosody p = audio::analyse_prosody(a.samples, a.sample_rate, options);
  return {p.get("f0_p50_hz"), p.get("f0_range_semitones"), p.get("duration_s"), p.get("loudness_db")};
}

// The sign of a delta, with a dead band: deltas within it count as "no change".
int sign(double v, double dead_band) { return v > dead_band ? 1 : v < -dead_band ? -1 : 0; }

}  // namespace

void TalkerEvalOptions::validate() const {
  if (sentences < 1 || sentences > static_cast<int64_t>(talker_eval_sentences().size()))
    throw ConfigError(fmt::format("sentences = {}; expected 1..{}", sentences, talker_eval_sentences().size()));
  if (intensities.empty()) throw ConfigError("intensities: empty; expected values in (0, 1]");
  for (double i : intensities) {
    if (!(i > 0 && i <= 1)) throw ConfigError(fmt::format("intensities: {:g}; expected values in (0, 1]", i));
  }
  for (const std::string& v : voices) (void)tts::find_voice(v);  // names the built-in ones
}

const std::vector<std::string>& talker_eval_sentences() {
  static const std::vector<std::string> kSentences = {
      "I just got the results back from the office.",
      "They called me about the apartment this morning.",
      "My brother is coming to stay with us next week.",
      "The meeting was moved to Friday afternoon.",
      "I found the old letters in a box in the attic.",
      "We are not going to the lake this summer.",
      "She told me everything about what happened last night.",
      "The train stopped in the middle of nowhere for an hour.",
      "I have to give the presentation tomorrow.",
      "Somebody left the door open again.",
      "My dog ran off when we were at the park.",
      "They said the flight has been cancelled.",
      "I saw my old teacher at the market today.",
      "The doctor wants to see me again on Monday.",
      "We finally finished painting the kitchen.",
      "He sold the car without asking anyone.",
      "There was a letter from the bank on the table.",
      "I heard the news on the radio on my way home.",
      "My sister is moving to another city.",
      "The package arrived, but it was not what I ordered.",
  };
  return kSentences;
}

const TalkerVoiceSummary& TalkerEvalResult::best_voice() const {
  if (voices.empty()) throw Error("eval talkers: no voice was measured");
  const TalkerVoiceSummary* best = &voices.front();
  for (const auto& v : voices) {
    if (v.congruence > best->congruence + 1e-12 ||
        (std::abs(v.congruence - best->congruence) <= 1e-12 && v.first_audio_s < best->first_audio_s))
      best = &v;
  }
  return *best;
}

nlohmann::json TalkerEvalResult::to_json() const {
  nlohmann::json jcells = nlohmann::json::array(), jvoices = nlohmann::json::array();
  for (const TalkerCell& c : cells) {
    jcells.push_back({{"voice", c.voice},
                      {"engine", c.engine},
                      {"emotion", c.emotion},
                      {"intensity", c.intensity},
                      {"clips", c.clips},
                      {"congruence", c.congruence()},
                      {"heard", c.heard},
                      {"measured",
                       {{"pitch_st", c.pitch_st},
                        {"range_ratio", c.range_ratio},
                        {"rate_ratio", c.rate_ratio},
                        {"loudness_db", c.loudness_db}}},
                      {"intended",
                       {{"pitch_st", c.intended_pitch_st},
                        {"range_ratio", c.intended_range},
                        {"rate_ratio", c.intended_rate},
                        {"loudness_db", c.intended_loudness_db}}}});
  }
  for (const auto& v : voices) {
    jvoices.push_back({{"voice", v.voice},
                       {"engine", v.engine},
                       {"congruence", v.congruence},
                       {"neutral_congruence", v.neutral_congruence},
                       {"direction_agreement", v.direction_agreement},
                       {"rtf", v.rtf},
                       {"first_audio_s", v.first_audio_s}});
  }
  return {{"classifier", classifier}, {"voices", jvoices}, {"cells", jcells}, {"best_voice", best_voice().voice}};
}

std::string TalkerEvalResult::markdown(double congruence_from) const {
  std::string md = fmt::format(
      "Per voice (congruence: emotional clips at intensity >= {:.1f} heard as intended by the {}; direction: "
      "measured deltas with the profile's sign)\n\n"
      "| voice | engine | congruence | neutral heard neutral | direction | RTF | first audio |\n"
      "|---|---|---:|---:|---:|---:|---:|\n",
      congruence_from, classifier);
  for (const auto& v : voices) {
    md += fmt::format("| {} | {} | {:.2f} | {:.2f} | {:.2f} | {:.4f} | {:.0f} ms |\n", v.voice, v.engine, v.congruence,
                      v.neutral_congruence, v.direction_agreement, v.rtf, 1000 * v.first_audio_s);
  }
  const std::vector<std::string>& labels = affect::emotion_labels();
  md += "\nCongruence per emotion and intensity (neutral: once per voice)\n\n| voice | intensity |";
  for (const auto& l : labels) md += " " + l + " |";
  md += "\n|---|---:|";
  for (size_t i = 0; i < labels.size(); ++i) md += "---:|";
  md += "\n";
  for (const auto& v : voices) {
    for (const TalkerCell& c : cells) {
      if (c.voice != v.voice || c.emotion != labels.front()) continue;
      md += fmt::format("| {} | {:.1f} |", v.voice, c.intensity);
      for (const auto& l : labels) {
        const TalkerCell* cell = nullptr;
        for (const TalkerCell& d : cells) {
          if (d.voice == v.voice && d.emotion == l && (l == "neutral" || d.intensity == c.intensity)) cell = &d;
        }
        md += cell ? fmt::format(" {:.2f} |", cell->congruence()) : " - |";
      }
      md += "\n";
    }
  }
  md +=
      "\nMeasured against the same voice's neutral (mean over sentences; intended in brackets)\n\n"
      "| voice | emotion | intensity | pitch (st) | range (x) | rate (x) | loudness (dB) |\n"
      "|---|---|---:|---:|---:|---:|---:|\n";
  for (const TalkerCell& c : cells) {
    if (c.emotion == "neutral") continue;
    md += fmt::format(
        "| {} | {} | {:.1f} | {:+.1f} ({:+.1f}) | {:.2f} ({:.2f}) | {:.2f} ({:.2f}) | {:+.1f} ({:+.1f}) |\n", c.voice,
        c.emotion, c.intensity, c.pitch_st, c.intended_pitch_st, c.range_ratio, c.intended_range, c.rate_ratio,
        c.intended_rate, c.loudness_db, c.intended_loudness_db);
  }
  return md;
}

namespace {

// Whether each measured change moves the way the profile asks (dead bands: 0.3 st, 3 %, 3 %, 0.5 dB):
// `directed` counts the attributes the profile moves, `agree` those that went its way.
void count_directions(const TalkerCell& cell, int64_t& agree, int64_t& directed) {
  const std::pair<double, double> pairs[] = {{cell.intended_pitch_st, cell.pitch_st},
                                             {std::log(cell.intended_range), std::log(cell.range_ratio)},
                                             {std::log(cell.intended_rate), std::log(cell.rate_ratio)},
                                             {cell.intended_loudness_db, cell.loudness_db}};
  const double dead[] = {0.3, 0.03, 0.03, 0.5};
  for (size_t i = 0; i < 4; ++i) {
    if (std::abs(pairs[i].first) < 1e-9) continue;
    ++directed;
    agree += sign(pairs[i].second, dead[i]) == sign(pairs[i].first, 0);
  }
}

// Median time to the first sentence's audio when two sentences are streamed.
double first_audio_median(tts::Talker& talker, const std::vector<std::string>& sentences, const tts::Voice& voice) {
  std::vector<double> first;
  for (size_t s = 0; s + 1 < sentences.size(); s += 2) {
    const auto t0 = Clock::now();
    double at = -1;
    talker.synthesize_stream(sentences[s] + " " + sentences[s + 1], affect::emotion_style("happy", 0.6), voice,
                             [&](const AudioBuffer&, size_t i) {
                               if (i == 0) at = seconds_since(t0);
                             });
    if (at >= 0) first.push_back(at);
  }
  return common::median(first);
}

}  // namespace

TalkerEvalResult evaluate_talkers(const Model& model, const std::string& model_name, const TalkerEvalOptions& options) {
  options.validate();
  std::vector<tts::Voice> voices;
  for (const tts::Voice& v : tts::builtin_voices()) {
    const bool chosen = options.voices.empty()
                            ? v.lang == "en"
                            : std::find(options.voices.begin(), options.voices.end(), v.name) != options.voices.end();
    if (chosen) voices.push_back(v);
  }
  const std::vector<std::string> sentences(talker_eval_sentences().begin(),
                                           talker_eval_sentences().begin() + options.sentences);
  const std::vector<std::string>& labels = affect::emotion_labels();

  SessionOptions hear;
  hear.max_new_tokens = 1;  // the head hears the turn before anything is generated
  hear.speak = false;
  auto heard_label = [&](const AudioBuffer& audio) {
    Session s = model.open_session(hear);
    const Reply r = s.turn(audio);
    if (r.head_label.empty()) {
      throw ConfigError(model_name +
                        " has no encoder emotion head (config.json \"encoder_heads\"): it cannot "
                        "classify the voices");
    }
    return r.head_label;
  };

  TalkerEvalResult result;
  result.classifier = model_name + " encoder head";
  auto talker = tts::make_talker("auto");
  const int64_t emotional = static_cast<int64_t>((labels.size() - 1) * options.intensities.size());
  common::Progress bar("eval talkers", static_cast<int64_t>(voices.size() * sentences.size()) * (1 + emotional),
                       "clips");
  for (const tts::Voice& voice : voices) {
    talker->reset();
    std::vector<Measured> neutral;
    std::vector<double> rtf;
    TalkerCell neutral_cell{voice.name, voice.engine, "neutral", 0};
    for (const std::string& text : sentences) {
      const auto t0 = Clock::now();
      const AudioBuffer a = talker->synthesize(text, affect::emotion_style("neutral", 0), voice);
      rtf.push_back(seconds_since(t0) / std::max(a.duration_s(), 1e-3));
      neutral.push_back(measure(a));
      const std::string heard = heard_label(a);
      ++neutral_cell.heard[heard];
      ++neutral_cell.clips;
      neutral_cell.congruent += heard == "neutral";
      bar.advance();
    }
    result.cells.push_back(neutral_cell);

    TalkerVoiceSummary summary{voice.name, voice.engine};
    summary.neutral_congruence = neutral_cell.congruence();
    int64_t agree = 0, directed = 0, high_clips = 0, high_congruent = 0;
    for (const std::string& emotion : labels) {
      if (emotion == "neutral") continue;
      for (double intensity : options.intensities) {
        const SpeechStyle style = affect::emotion_style(emotion, intensity);
        TalkerCell cell{voice.name, voice.engine, emotion, intensity};
        cell.intended_pitch_st = style.pitch_semitones;
        cell.intended_range = style.pitch_range;
        cell.intended_rate = style.rate;
        cell.intended_loudness_db = style.energy_db;
        double log_range = 0, log_rate = 0;
        int64_t pitched = 0;
        for (size_t s = 0; s < sentences.size(); ++s) {
          const AudioBuffer a = talker->synthesize(sentences[s], style, voice);
          const Measured m = measure(a), &n = neutral[s];
          if (m.f0_hz > 0 && n.f0_hz > 0) {
            cell.pitch_st += 12 * std::log2(m.f0_hz / n.f0_hz);
            if (m.range_st > 0 && n.range_st > 0) log_range += std::log(m.range_st / n.range_st);
            ++pitched;
          }
          log_rate += std::log(n.duration_s / std::max(m.duration_s, 1e-3));
          cell.loudness_db += m.loudness_db - n.loudness_db;
          const std::string heard = heard_label(a);
          ++cell.heard[heard];
          ++cell.clips;
          cell.congruent += heard == emotion;
          bar.advance();
        }
        const double k = static_cast<double>(sentences.size());
        cell.pitch_st = pitched ? cell.pitch_st / pitched : 0;
        cell.range_ratio = pitched ? std::exp(log_range / pitched) : 1;
        cell.rate_ratio = std::exp(log_rate / k);
        cell.loudness_db /= k;
        count_directions(cell, agree, directed);
        if (intensity >= options.congruence_from) {
          high_clips += cell.clips;
          high_congruent += cell.congruent;
        }
        result.cells.push_back(cell);
      }
    }
    summary.congruence = high_clips ? static_cast<double>(high_congruent) / high_clips : 0;
    summary.direction_agreement = directed ? static_cast<double>(agree) / directed : 0;
    summary.rtf = common::median(rtf);
    summary.first_audio_s = first_audio_median(*talker, sentences, voice);
    result.voices.push_back(summary);
    bar.set_postfix(fmt::format("{} congruence {:.2f}", voice.name, summary.congruence));
  }
  bar.finish();
  return result;
}

}  // namespace attune::eval
