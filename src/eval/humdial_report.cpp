#include "eval/humdial_report.h"

#include <fmt/format.h>

#include "common/file_util.h"
#include "common/progress.h"
#include "common/xml_escape.h"

namespace attune::eval {
namespace {

// "Turn 2 (sad): I missed the bus again." per ordinary turn up to `until` (inclusive).
std::string dialogue_text(const nlohmann::json& turns, size_t until, bool causes) {
  std::string out;
  for (size_t i = 0; i <= until && i < turns.size(); ++i) {
    const auto& t = turns[i];
    if (!t["task"].get<std::string>().empty()) continue;
    out += fmt::format("Turn {} ({}): {}\n", t["turn_id"].get<int>(),
                       t["emotion"].get<std::string>().empty() ? "unlabelled" : t["emotion"].get<std::string>(),
                       t["text"].get<std::string>());
    if (causes && t.contains("cause")) out += "  cause: " + t["cause"].get<std::string>() + "\n";
  }
  return out;
}

std::string csv_field(const std::string& s) {
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

nlohmann::json judge_humdial(HumdialRun& run, Judge& judge) {
  const Rubric rubric = builtin_rubric(run.task);
  std::map<std::string, double> sums;
  int64_t items = 0, judged = 0;
  nlohmann::json failures = nlohmann::json::array();
  common::Progress bar("judge " + run.task, static_cast<int64_t>(run.records.size()), "items");
  for (nlohmann::json& record : run.records) {
    bar.advance();
    nlohmann::json& turns = record["turns"];
    for (size_t i = 0; i < turns.size(); ++i) {
      nlohmann::json& t = turns[i];
      const bool graded = run.task == "t3" ? t.value("graded", false) : t["task"] == run.task;
      if (!graded) continue;
      ++items;
      const std::map<std::string, std::string> fields = {{"dialogue", dialogue_text(turns, i, run.task == "t2")},
                                                         {"question", t["text"].get<std::string>()},
                                                         {"reference", t["reference_response"].get<std::string>()},
                                                         {"reply", t["response_text"].get<std::string>()}};
      std::string why;
      if (auto scores = judge.score(run.task, fields, why)) {
        t["judge"] = *scores;
        for (const auto& [d, v] : *scores) sums[d] += v;
        ++judged;
      } else {
        t["judge_error"] = why;
        failures.push_back(
            fmt::format("{} turn {}: {}", record["dialogue_id"].get<std::string>(), t["turn_id"].get<int>(), why));
      }
    }
  }
  bar.finish();
  nlohmann::json means = nlohmann::json::object();
  for (const std::string& d : rubric.dimensions) means[d] = judged ? sums[d] / static_cast<double>(judged) : 0.0;
  return {{"items", items},
          {"judged", judged},
          {"failed", failures.size()},
          {"failures", failures},
          {"mean", means},
          {"requests", judge.requests()},
          {"cache_hits", judge.cache_hits()},
          {"scale", rubric.allowed}};
}

nlohmann::json score_components(const nlohmann::json& judge_summary, const std::string& task) {
  nlohmann::json c = nlohmann::json::object();
  if (judge_summary.is_null() || judge_summary.value("judged", 0) == 0) return c;
  double sum = 0;
  for (const auto& item : judge_summary["mean"].items()) sum += item.value().get<double>();
  const double mean = sum / static_cast<double>(judge_summary["mean"].size());
  c[task == "t1" ? "T1" : task == "t2" ? "T2" : "T3_text"] = mean / 5.0;
  return c;
}

nlohmann::json final_score(const nlohmann::json& components) {
  const std::vector<std::pair<std::string, double>> weights = {
      {"T1", 0.2}, {"T2", 0.2}, {"T3_text", 0.1}, {"T3_vocal", 0.25}, {"T3_naturalness", 0.25}};
  double sum = 0, total = 0;
  nlohmann::json used = nlohmann::json::array(), w = nlohmann::json::object();
  for (const auto& [name, weight] : weights) {
    w[name] = weight;
    if (components.contains(name) && components[name].is_number()) {
      sum += weight * components[name].get<double>();
      total += weight;
      used.push_back(name);
    }
  }
  return {{"score", total > 0 ? nlohmann::json(sum / total) : nlohmann::json(nullptr)},
          {"components_used", used},
          {"weights", w},
          {"note", "weights renormalised over the components present; each component on 0-1"}};
}

void write_human_rating_sheet(const HumdialRun& run, const std::filesystem::path& out) {
  std::string csv =
      "dialogue_id,turn_id,lang,user_text,user_emotion,intended_style,reply_text,reply_audio,vocal_empathy_1to5,"
      "naturalness_1to5\n";
  std::string rows;
  for (const nlohmann::json& record : run.records) {
    for (const nlohmann::json& t : record["turns"]) {
      if (!t.value("graded", false)) continue;
      const std::string id = record["dialogue_id"], audio = t.value("response_audio", "");
      csv += fmt::format("{},{},{},{},{},{},{},{},,\n", csv_field(id), t["turn_id"].get<int>(),
                         record["lang"].get<std::string>(), csv_field(t["text"]), t["emotion"].get<std::string>(),
                         t.value("intended_style", ""), csv_field(t["response_text"]), csv_field(audio));
      rows += fmt::format(
          "<tr data-id=\"{0}\" data-turn=\"{1}\"><td>{0} / {1}</td><td>{2} <em>({3})</em></td><td>{4}</td>"
          "<td><audio controls preload=\"none\" src=\"{5}\"></audio></td>"
          "<td><input type=\"number\" min=\"1\" max=\"5\" class=\"vocal\"></td>"
          "<td><input type=\"number\" min=\"1\" max=\"5\" class=\"natural\"></td></tr>\n",
          common::xml_escape(id), t["turn_id"].get<int>(), common::xml_escape(t["text"].get<std::string>()),
          common::xml_escape(t["emotion"].get<std::string>()),
          common::xml_escape(t["response_text"].get<std::string>()), common::xml_escape(audio));
    }
  }
  common::write_file_atomically(out / "human-rating.csv", csv);
  const std::string html = fmt::format(R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>attune: rate the spoken replies</title>
<style>body{{font:15px system-ui,sans-serif;margin:1.5rem}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.4rem;vertical-align:top}}input{{width:3.5rem}}</style></head>
<body><h1>Rate the spoken replies</h1>
<p>For each reply, listen and rate from 1 (poor) to 5 (excellent): <b>vocal empathy</b> (does the voice fit how the user felt?) and <b>naturalness</b> (does it sound like a person?). Then download the ratings; <code>attune eval report</code> reads the CSV.</p>
<table><tr><th>dialogue / turn</th><th>the user said (annotated emotion)</th><th>reply</th><th>audio</th><th>vocal empathy</th><th>naturalness</th></tr>
{}</table>
<p><button id="save">Download ratings (CSV)</button></p>
<script>
document.getElementById('save').onclick = () => {{
  const lines = ['dialogue_id,turn_id,vocal_empathy_1to5,naturalness_1to5'];
  for (const tr of document.querySelectorAll('tr[data-id]'))
    lines.push([JSON.stringify(tr.dataset.id), tr.dataset.turn, tr.querySelector('.vocal').value, tr.querySelector('.natural').value].join(','));
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([lines.join('\n') + '\n'], {{type: 'text/csv'}}));
  a.download = 'human-ratings.csv';
  a.click();
}};
</script></body></html>
)",
                                       rows);
  common::write_file_atomically(out / "human-rating.html", html);
}

}  // namespace attune::eval
