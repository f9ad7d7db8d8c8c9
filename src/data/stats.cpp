#include "data/stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <numeric>

#include "attune/error.h"
#include "audio/audio_file.h"
#include "common/file_util.h"
#include "common/xml_escape.h"
#include "data/dialogue.h"
#include "data/ieat.h"
#include "data/labels.h"
#include "data/shards.h"
#include "data/voicing.h"
#include "tts/talker.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace attune::data {
namespace {

constexpr int kSamplesPerCorpus = 3;

// One colour per label (happy, sad, anger, fear, neutral, surprise, disgust, unlabelled).
const std::vector<std::string> kColours = {"#f2c14e", "#4a78b5", "#d1495b", "#7b5ea7",
                                           "#b8b8b8", "#66a182", "#8d6e4a", "#eeeeee"};

void add(CorpusStats& into, const CorpusStats& s) {
  into.dialogues += s.dialogues;
  into.user_turns += s.user_turns;
  into.reply_turns += s.reply_turns;
  into.t1_questions += s.t1_questions;
  into.t2_questions += s.t2_questions;
  into.recorded_turns += s.recorded_turns;
  into.synthetic_turns += s.synthetic_turns;
  into.mismatched_turns += s.mismatched_turns;
  into.with_cause += s.with_cause;
  into.with_thinking += s.with_thinking;
  into.with_cause_span += s.with_cause_span;
  into.quoting_cause += s.quoting_cause;
  for (size_t a = 0; a < CorpusStats::kQuoteAges; ++a) into.quote_source_ages[a] += s.quote_source_ages[a];
  for (size_t n = 0; n < CorpusStats::kQuoteLengths; ++n) into.quote_lengths[n] += s.quote_lengths[n];
  into.quotes_elsewhere += s.quotes_elsewhere;
  into.audio_seconds += s.audio_seconds;
  for (const auto& [engine, n] : s.synthetic_by_engine) into.synthetic_by_engine[engine] += n;
  if (into.emotion_counts.empty()) into.emotion_counts.assign(s.emotion_counts.size(), 0);
  for (size_t i = 0; i < s.emotion_counts.size(); ++i) into.emotion_counts[i] += s.emotion_counts[i];
  into.turns_per_dialogue.insert(into.turns_per_dialogue.end(), s.turns_per_dialogue.begin(),
                                 s.turns_per_dialogue.end());
}

struct Spread {
  int64_t min = 0, median = 0, max = 0;
  double mean = 0;
};

Spread spread(std::vector<int64_t> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (int64_t x : v) sum += static_cast<double>(x);
  return {v.front(), v[v.size() / 2], v.back(), sum / static_cast<double>(v.size())};
}

// Whether the thinking quotes one of the turn's cause spans: it holds the span's first four words
// (the trace clips long spans and turns '"' into '\'').
bool quotes_a_span(const Turn& t) {
  for (std::string span : t.cause_span) {
    std::replace(span.begin(), span.end(), '"', '\'');
    std::string prefix;
    int words = 0;
    for (size_t i = 0; i < span.size() && words < 4; ++i) {
      if (span[i] == ' ') ++words;
      if (words < 4) prefix += span[i];
    }
    if (!prefix.empty() && t.thinking.find(prefix) != std::string::npos) return true;
  }
  return false;
}

// Text as quotes are compared: lower case, '"' as '\'' (the traces' clip), white space runs as one space.
std::string quote_form(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c == '"' ? '\'' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Counts each quote of turns[index]'s thinking by the user turn it copies (the newest holding it);
// `forms`: quote_form of every turn's text.
void count_quote_sources(const Dialogue& d, const std::vector<std::string>& forms, size_t index, CorpusStats& s) {
  for (const std::string& quote : trace_quotes(d.turns[index].thinking)) {
    const std::string q = quote_form(quote);
    if (q.find(' ') == std::string::npos) continue;  // a word, not a quoted phrase
    const auto words = static_cast<size_t>(std::count(q.begin(), q.end(), ' ')) + 1;
    bool found = false;
    for (size_t age = 0; age <= index && !found; ++age) {
      if (forms[index - age].find(q) == std::string::npos) continue;
      ++s.quote_source_ages[std::min(age, CorpusStats::kQuoteAges - 1)];
      ++s.quote_lengths[std::min(words - 2, CorpusStats::kQuoteLengths - 1)];
      found = true;
    }
    if (!found) ++s.quotes_elsewhere;
  }
}

json corpus_json(const CorpusStats& s) {
  json labels = json::object();
  const auto& names = emotion_labels();
  for (size_t i = 0; i < s.emotion_counts.size(); ++i) {
    labels[i < names.size() ? names[i] : "unlabelled"] = s.emotion_counts[i];
  }
  Spread sp = spread(s.turns_per_dialogue);
  return {{"dialogues", s.dialogues},
          {"user_turns", s.user_turns},
          {"reply_turns", s.reply_turns},
          {"t1_questions", s.t1_questions},
          {"t2_questions", s.t2_questions},
          {"recorded_turns", s.recorded_turns},
          {"synthetic_turns", s.synthetic_turns},
          {"synthetic_turns_by_engine", s.synthetic_by_engine},
          {"voice_differs_from_words", s.mismatched_turns},
          {"turns_with_cause", s.with_cause},
          {"replies_with_thinking", s.with_thinking},
          {"turns_with_cause_span", s.with_cause_span},
          {"thinking_quotes_the_cause", s.quoting_cause},
          {"quote_sources",
           {{"by_turns_back", s.quote_source_ages},
            {"elsewhere", s.quotes_elsewhere},
            {"by_words_from_2", s.quote_lengths}}},
          {"audio_hours", s.audio_seconds / 3600},
          {"labels", labels},
          {"turns_per_dialogue", {{"min", sp.min}, {"median", sp.median}, {"mean", sp.mean}, {"max", sp.max}}}};
}

}  // namespace

std::vector<double> quote_source_prior(const std::vector<int64_t>& counts) {
  double total = 0;
  for (int64_t n : counts) total += static_cast<double>(n + 1);
  std::vector<double> prior;
  for (int64_t n : counts) prior.push_back(static_cast<double>(n + 1) / total);
  return prior;
}

std::vector<double> quote_length_hazard(const std::vector<int64_t>& lengths) {
  std::vector<double> hazard(lengths.size());
  int64_t longer = 0;
  for (size_t n = lengths.size(); n-- > 0;) {
    hazard[n] = static_cast<double>(lengths[n] + 1) / static_cast<double>(lengths[n] + longer + 2);
    longer += lengths[n];
  }
  return hazard;
}

DataStats compute_stats(const fs::path& dir, const CorpusWeights& weights) {
  const fs::path jsonl = dir / "dialogues.jsonl";
  if (!fs::exists(jsonl))
    throw InputError(jsonl.string(), "no such file (is this a directory `attune data build` wrote?)");
  DataStats out;
  std::map<std::string, int> sampled;
  const size_t n_labels = emotion_labels().size();
  for (const Dialogue& d : read_dialogues(jsonl.string())) {
    CorpusStats& s = out.corpora[d.meta.corpus.empty() ? "unknown" : d.meta.corpus];
    if (s.emotion_counts.empty()) s.emotion_counts.assign(n_labels + 1, 0);
    ++s.dialogues;
    int64_t user_turns = 0;
    std::vector<std::string> forms;
    for (const Turn& t : d.turns) forms.push_back(quote_form(t.text));
    for (size_t i = 0; i < d.turns.size(); ++i) {
      const Turn& t = d.turns[i];
      if (!t.thinking.empty()) count_quote_sources(d, forms, i, s);
      if (t.task == "t1") ++s.t1_questions;
      if (t.task == "t2") ++s.t2_questions;
      if (t.task == "t1" || t.task == "t2") continue;
      ++user_turns;
      int e = emotion_index(t.emotion);
      ++s.emotion_counts[e >= 0 ? static_cast<size_t>(e) : n_labels];
      if (!t.response_text.empty()) ++s.reply_turns;
      if (!t.thinking.empty()) ++s.with_thinking;
      if (!t.thinking.empty() && !t.cause_span.empty()) {
        ++s.with_cause_span;
        if (quotes_a_span(t)) ++s.quoting_cause;
      }
      if (!t.cause_turns.empty() || !t.cause_response_turns.empty() || !t.cause_span.empty()) ++s.with_cause;
      if (!t.split_audio_file.empty()) {
        const bool synthetic = t.voice && t.voice->source == "synthetic";
        ++(synthetic ? s.synthetic_turns : s.recorded_turns);
        if (synthetic) {
          const std::string engine = tts::voice_engine(t.voice->speaker);
          ++s.synthetic_by_engine[engine.empty() ? "other" : engine];
        }
        if (synthetic && words_and_voice_disagree(t, d.meta.corpus)) ++s.mismatched_turns;
        try {
          s.audio_seconds += audio::probe_audio(resolve_audio(dir, t.split_audio_file)).duration_s();
        } catch (const Error&) {
          // A missing file shows as less audio; `data build` already reported it.
        }
      }
    }
    s.user_turns += user_turns;
    s.turns_per_dialogue.push_back(user_turns);
    // Samples: the first dialogues of each corpus with thinking (and audio when any was built).
    auto& picked = sampled[d.meta.corpus];
    const bool has_thinking =
        std::any_of(d.turns.begin(), d.turns.end(), [](const Turn& t) { return !t.thinking.empty(); });
    const bool has_audio =
        std::any_of(d.turns.begin(), d.turns.end(), [](const Turn& t) { return !t.split_audio_file.empty(); });
    if (picked < kSamplesPerCorpus && has_thinking && (has_audio || s.synthetic_turns + s.recorded_turns == 0)) {
      ++picked;
      out.samples.push_back({d.meta.corpus, to_json(d).dump()});
    }
  }
  for (const auto& [name, s] : out.corpora) add(out.total, s);
  if (fs::exists(dir / "shards" / kShardIndexName)) {
    ShardSet set = ShardSet::open(dir / "shards");
    const json& t = set.index().at("totals");
    out.has_shards = true;
    out.records = t.value("records", int64_t{0});
    out.text_tokens = t.value("text_tokens", int64_t{0});
    out.audio_tokens = t.value("audio_tokens", int64_t{0});
    out.target_tokens = t.value("target_tokens", int64_t{0});
    out.shares = corpus_shares(set.dialogue_ids(), set.lengths("text"), weights);
    out.weighted = !weights.uniform();
  }
  return out;
}

json stats_to_json(const DataStats& s) {
  json corpora = json::object();
  for (const auto& [name, c] : s.corpora) corpora[name] = corpus_json(c);
  json j = {{"corpora", corpora}, {"total", corpus_json(s.total)}};
  if (s.has_shards) {
    json shares = json::object();
    for (const auto& [name, c] : s.shares) {
      shares[name] = {{"records", c.records},
                      {"text_tokens", c.tokens},
                      {"weight", c.weight},
                      {"share", c.share},
                      {"weighted_share", c.weighted_share}};
    }
    j["shards"] = {{"records", s.records},
                   {"text_tokens", s.text_tokens},
                   {"audio_tokens", s.audio_tokens},
                   {"target_tokens", s.target_tokens},
                   {"corpora", shares},
                   {"weighted", s.weighted}};
  }
  return j;
}

std::string stats_table(const DataStats& s) {
  std::string out = fmt::format("{:<22}{:>9}{:>9}{:>9}{:>7}{:>9}{:>9}{:>8}{:>8}\n", "corpus", "dialogs", "turns",
                                "replies", "T1/T2", "recorded", "synth", "causes", "hours");
  auto row = [&](const std::string& name, const CorpusStats& c) {
    out += fmt::format("{:<22}{:>9}{:>9}{:>9}{:>7}{:>9}{:>9}{:>8}{:>8.2f}\n", name, c.dialogues, c.user_turns,
                       c.reply_turns, c.t1_questions + c.t2_questions, c.recorded_turns, c.synthetic_turns,
                       c.with_cause, c.audio_seconds / 3600);
  };
  for (const auto& [name, c] : s.corpora) row(name, c);
  row("total", s.total);
  out += "\nlabels (user turns):";
  const auto& names = emotion_labels();
  for (size_t i = 0; i < s.total.emotion_counts.size(); ++i) {
    out += fmt::format(" {} {}", i < names.size() ? names[i] : "unlabelled", s.total.emotion_counts[i]);
  }
  Spread sp = spread(s.total.turns_per_dialogue);
  out += fmt::format("\nturns per dialogue: min {} median {} mean {:.1f} max {}\n", sp.min, sp.median, sp.mean, sp.max);
  out += fmt::format("voice differs from words: {} turns\n", s.total.mismatched_turns);
  if (s.total.synthetic_turns > 0) {
    out += "synthetic turns by talker engine:";
    for (const auto& [engine, n] : s.total.synthetic_by_engine) {
      out += fmt::format(" {} {} ({:.1f}%)", engine, n, 100.0 * static_cast<double>(n) / s.total.synthetic_turns);
    }
    out += "\n";
  }
  if (s.total.with_cause_span > 0) {
    out +=
        fmt::format("thinking quotes the annotated cause: {} of {} turns ({:.1f}%)\n", s.total.quoting_cause,
                    s.total.with_cause_span,
                    100.0 * static_cast<double>(s.total.quoting_cause) / static_cast<double>(s.total.with_cause_span));
  }
  const auto& ages = s.total.quote_source_ages;
  const int64_t found = std::accumulate(ages.begin(), ages.end(), int64_t{0});
  if (found > 0) {
    const std::vector<double> prior = quote_source_prior(ages);
    out += fmt::format("thinking quotes by the user turn they copy ({} quotes; prior, add-one):", found);
    for (size_t a = 0; a < ages.size(); ++a) {
      out += fmt::format(" {}{} {} ({:.3f})", a, a + 1 == ages.size() ? "+ back" : " back", ages[a], prior[a]);
    }
    out += fmt::format("; in no user turn {}\n", s.total.quotes_elsewhere);
    out += "  their length hazard (a quote of n words ends there):";
    const std::vector<double> hazard = quote_length_hazard(s.total.quote_lengths);
    for (size_t n = 0; n < hazard.size(); ++n) {
      out += fmt::format(" {}{} {:.3f}", n + 2, n + 1 == hazard.size() ? "+" : "", hazard[n]);
    }
    out += "\n";
  }
  if (s.has_shards) {
    out += fmt::format("shards: {} records, {} text-view tokens, {} audio-view tokens, {} target tokens\n", s.records,
                       s.text_tokens, s.audio_tokens, s.target_tokens);
    out += fmt::format("\n{:<22}{:>9}{:>12}{:>8}{:>9}{:>10}\n", "corpus (text view)", "records", "tokens", "share",
                       "weight", "weighted");
    for (const auto& [name, c] : s.shares) {
      out += fmt::format("{:<22}{:>9}{:>12}{:>7.1f}%{:>9g}{:>9.1f}%\n", name, c.records, c.tokens, 100 * c.share,
                         c.weight, 100 * c.weighted_share);
    }
    if (!s.weighted) out += "(no corpus weights given: --recipe FILE applies a recipe's data.corpus_weights)\n";
  }
  return out;
}

std::string stats_markdown(const DataStats& s, const std::string& plot_file) {
  std::string md = "# Data statistics\n\n```\n" + stats_table(s) + "```\n\n";
  md += "## Emotion labels per corpus\n\n![label distribution](" + plot_file + ")\n\n| corpus |";
  const auto& names = emotion_labels();
  for (const auto& n : names) md += " " + n + " |";
  md += " unlabelled |\n|---|";
  for (size_t i = 0; i <= names.size(); ++i) md += "---:|";
  md += "\n";
  for (const auto& [name, c] : s.corpora) {
    md += "| " + name + " |";
    for (int64_t v : c.emotion_counts) md += " " + std::to_string(v) + " |";
    md += "\n";
  }
  return md;
}

std::string samples_html(const DataStats& s, const fs::path& dir) {
  std::string html =
      "<!doctype html><meta charset=\"utf-8\"><title>attune data samples</title>\n"
      "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}td{vertical-align:top;padding:4px}"
      "pre{white-space:pre-wrap;background:#f4f4f8;margin:0;padding:4px}.emo{color:#a33}</style>\n"
      "<h1>Sample dialogues</h1><p>The first voiced dialogues of each corpus: what the user said and how it "
      "sounds, the IEAT thinking the model learns to write, and the reply.</p>\n";
  for (const SampleDialogue& sample : s.samples) {
    Dialogue d = dialogue_from_json(json::parse(sample.json));
    html += "<h2>" + common::xml_escape(d.dialogue_id) + "</h2>";
    if (!d.meta.situation.empty()) html += "<p><i>situation:</i> " + common::xml_escape(d.meta.situation) + "</p>";
    html += "<table>";
    for (const Turn& t : d.turns) {
      std::string emotion = t.emotion.empty() ? "unlabelled" : t.emotion;
      if (t.voice && !t.voice->style_emotion.empty() && words_and_voice_disagree(t, d.meta.corpus)) {
        emotion += " (voice; the words read " + t.source_emotion + ")";
      }
      html += "<tr><td><b>user " + std::to_string(t.turn_id) + (t.task.empty() ? "" : " [" + t.task + "]") +
              "</b><br><span class=\"emo\">" + common::xml_escape(emotion) + "</span></td><td>" +
              common::xml_escape(t.text);
      if (!t.split_audio_file.empty()) {
        fs::path audio = resolve_audio(dir, t.split_audio_file);
        std::string src = fs::path(t.split_audio_file).is_absolute() ? "file://" + audio.string() : t.split_audio_file;
        html += "<br><audio controls preload=\"none\" src=\"" + common::xml_escape(src) + "\"></audio>";
      }
      html += "</td></tr>";
      if (!t.response_text.empty()) {
        html += "<tr><td><b>assistant</b></td><td>";
        if (!t.thinking.empty())
          html += "<pre>&lt;think&gt;\n" + common::xml_escape(t.thinking) + "\n&lt;/think&gt;</pre>";
        html += common::xml_escape(t.response_text) + "</td></tr>";
      }
    }
    html += "</table>\n";
  }
  return html;
}

std::string label_distribution_svg(const DataStats& s) {
  const auto& names = emotion_labels();
  // Room for the longest "name (count)" at about 7 px per character of the 12 px font.
  size_t longest = std::string("total (").size() + std::to_string(s.total.user_turns).size() + 1;
  for (const auto& [name, c] : s.corpora) {
    longest = std::max(longest, name.size() + std::to_string(c.user_turns).size() + 3);
  }
  const int left = 16 + 7 * static_cast<int>(longest), bar_w = 560, bar_h = 22, gap = 8, top = 40;
  const int rows = static_cast<int>(s.corpora.size()) + 1;
  const int height = top + rows * (bar_h + gap) + 50;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
      "font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"22\" font-size=\"15\">Emotion labels of user turns (share per corpus)</text>\n",
      left + bar_w + 30, height, left);
  int y = top;
  auto bar = [&](const std::string& name, const CorpusStats& c) {
    int64_t total = 0;
    for (int64_t v : c.emotion_counts) total += v;
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{} ({})</text>\n", left - 6, y + 15,
                       common::xml_escape(name), total);
    double x = left;
    for (size_t i = 0; i < c.emotion_counts.size() && total > 0; ++i) {
      double w = bar_w * static_cast<double>(c.emotion_counts[i]) / static_cast<double>(total);
      if (w <= 0) continue;
      svg += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"><title>{}: {}</title></rect>\n", x, y,
          w, bar_h, kColours[i % kColours.size()], i < names.size() ? names[i] : "unlabelled", c.emotion_counts[i]);
      x += w;
    }
    y += bar_h + gap;
  };
  for (const auto& [name, c] : s.corpora) bar(name, c);
  bar("total", s.total);
  int x = left;
  for (size_t i = 0; i <= names.size(); ++i) {
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/>", x, y + 10, kColours[i]);
    const std::string label = i < names.size() ? names[i] : "unlabelled";
    svg += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", x + 16, y + 21, label);
    x += 24 + 7 * static_cast<int>(label.size());
  }
  return svg + "</svg>\n";
}

}  // namespace attune::data
