#include "eval/report.h"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <optional>

#include "affect/emotions.h"
#include "attune/error.h"
#include "common/file_util.h"
#include "common/xml_escape.h"
#include "data/csv.h"
#include "eval/humdial_report.h"
#include "tts/talker.h"

namespace fs = std::filesystem;

namespace attune::eval {
namespace {

std::string num(const nlohmann::json& v) { return v.is_number() ? fmt::format("{:.3f}", v.get<double>()) : "-"; }

// Human ratings downloaded from human-rating.html: mean vocal empathy and naturalness on 0-1.
nlohmann::json human_ratings(const fs::path& dir) {
  const fs::path csv = dir / "human-ratings.csv";
  if (!fs::exists(csv)) return nullptr;
  const data::CsvTable t = data::read_csv(csv);
  const int v = t.column("vocal_empathy_1to5"), n = t.column("naturalness_1to5");
  double sv = 0, sn = 0;
  int cv = 0, cn = 0;
  for (const auto& r : t.rows) {
    if (!r.error.empty() || r.fields.size() != t.header.size()) continue;
    // Blank or non-numeric cells are ratings not given.
    const auto rating = [&](int col) -> std::optional<double> {
      if (col < 0) return std::nullopt;
      char* end = nullptr;
      const double x = std::strtod(r.fields[col].c_str(), &end);
      return end != r.fields[col].c_str() && x >= 1 && x <= 5 ? std::optional<double>(x) : std::nullopt;
    };
    if (const auto x = rating(v)) sv += *x, ++cv;
    if (const auto x = rating(n)) sn += *x, ++cn;
  }
  nlohmann::json h = {{"ratings", std::max(cv, cn)}};
  if (cv) h["T3_vocal"] = sv / cv / 5.0;
  if (cn) h["T3_naturalness"] = sn / cn / 5.0;
  return h;
}

// The rows a kind of run shows, as (label, JSON pointer) pairs.
const std::vector<std::pair<std::string, std::string>>& rows_of(const std::string& kind) {
  static const std::vector<std::pair<std::string, std::string>> ser = {
      {"clips", "/model/clips"},
      {"UA (model)", "/model/ua"},
      {"WA (model)", "/model/wa"},
      {"macro-F1 (model)", "/model/macro_f1"},
      {"UA (prosody baseline)", "/baseline/ua"},
      {"WA (prosody baseline)", "/baseline/wa"},
      {"macro-F1 (prosody baseline)", "/baseline/macro_f1"}};
  static const std::vector<std::pair<std::string, std::string>> humdial = {
      {"dialogues", "/dialogues"},
      {"skipped", "/skipped"},
      {"turn emotion accuracy", "/turn_emotion/accuracy"},
      {"turn emotion UA", "/turn_emotion/ua"},
      {"turn emotion macro-F1", "/turn_emotion/macro_f1"},
      {"T1 trajectory exact match", "/t1/trajectory_exact_match"},
      {"T1 answer names exactly the annotated emotions", "/t1/answer_emotions_exact"},
      {"T2 cause turns F1", "/t2/turn_f1"},
      {"T2 cause span token F1", "/t2/span_token_f1"},
      {"T3 acknowledgement rate", "/t3/acknowledgement_rate"},
      {"T3 reply words", "/t3/reply_words_mean"},
      {"T3 distinct-2", "/t3/distinct_2"},
      {"T3 vocal congruence", "/t3/vocal_congruence"},
      {"judge component (0-1)", "/component"}};
  return kind == "ser" ? ser : humdial;
}

}  // namespace

std::string trajectory_svg(const nlohmann::json& record) {
  const auto& labels = affect::emotion_labels();
  std::vector<std::pair<std::string, std::string>> points;  // annotated, heard
  for (const auto& t : record["turns"]) {
    if (!t.value("task", "").empty() || t.value("emotion", "").empty()) continue;
    points.emplace_back(t["emotion"].get<std::string>(), t.value("heard", ""));
  }
  const int left = 70, top = 30, row = 18, col = 50;
  const int width = left + std::max<int>(2, static_cast<int>(points.size())) * col + 20, height = top + 7 * row + 30;
  auto y = [&](const std::string& l) {
    const auto it = std::find(labels.begin(), labels.end(), l);
    return top + static_cast<int>(it - labels.begin()) * row + row / 2;
  };
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
      "font-size=\"11\">"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/><text x=\"6\" y=\"16\" font-weight=\"bold\">{}</text>"
      "<text x=\"{}\" y=\"16\" fill=\"#2e6fba\">annotated</text><text x=\"{}\" y=\"16\" "
      "fill=\"#c0392b\">heard</text>\n",
      width, height, common::xml_escape(record.value("dialogue_id", "")), width - 130, width - 60);
  for (const std::string& l : labels) {
    svg += fmt::format(
        "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{}\" "
        "text-anchor=\"end\" fill=\"#555\">{}</text>\n",
        left, width - 10, y(l), y(l), left - 6, y(l) + 4, l);
  }
  std::string annotated, heard;
  for (size_t i = 0; i < points.size(); ++i) {
    const int x = left + 20 + static_cast<int>(i) * col;
    annotated += fmt::format("{},{} ", x, y(points[i].first));
    svg += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"5\" fill=\"#2e6fba\"/>", x, y(points[i].first));
    if (!points[i].second.empty()) {
      heard += fmt::format("{},{} ", x + 4, y(points[i].second));
      svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"8\" height=\"8\" fill=\"#c0392b\"/>", x,
                         y(points[i].second) - 4);
    }
    svg +=
        fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">{}</text>\n", x, height - 10, i + 1);
  }
  svg += fmt::format("<polyline fill=\"none\" stroke=\"#2e6fba\" points=\"{}\"/>", annotated);
  if (!heard.empty())
    svg += fmt::format("<polyline fill=\"none\" stroke=\"#c0392b\" stroke-dasharray=\"4 3\" points=\"{}\"/>", heard);
  return svg + "</svg>\n";
}

Report build_report(const std::vector<fs::path>& runs) {
  if (runs.empty()) throw ConfigError("eval report needs at least one run directory");
  Report r;
  nlohmann::json all = nlohmann::json::array();
  nlohmann::json components = nlohmann::json::object();
  std::string figures_md, figures_html;
  for (const fs::path& dir : runs) {
    const fs::path file = dir / "summary.json";
    nlohmann::json s;
    try {
      s = nlohmann::json::parse(common::read_file(file));
    } catch (const std::exception& e) {
      throw InputError(file.string(), std::string("not a readable summary (") + e.what() +
                                          "); expected a directory written by attune eval ser or eval humdial");
    }
    const std::string kind = s.contains("task") ? "humdial" : "ser";
    const std::string name =
        dir.filename().string().empty() ? dir.parent_path().filename().string() : dir.filename().string();
    s["run"] = name;
    s["kind"] = kind;
    if (kind == "humdial") {
      const nlohmann::json given = s.value("score_components", nlohmann::json::object());
      for (const auto& item : given.items()) {
        components[item.key()] = item.value();
        s["component"] = item.value();
      }
      if (auto h = human_ratings(dir); !h.is_null()) {
        s["human_ratings"] = h;
        for (const char* k : {"T3_vocal", "T3_naturalness"})
          if (h.contains(k)) components[k] = h[k];
      }
    }
    all.push_back(s);
    // Figures: the confusion plots, and up to three sample trajectories.
    for (const char* svg : {"confusion-model.svg", "confusion-prosody-baseline.svg"}) {
      if (!fs::exists(dir / svg)) continue;
      figures_html += fmt::format("<figure>{}<figcaption>{}: {}</figcaption></figure>\n", common::read_file(dir / svg),
                                  common::xml_escape(name), svg);
      figures_md += fmt::format("![{0} {1}]({2})\n\n", name, svg, (dir / svg).string());
    }
    std::ifstream results(dir / "results.jsonl");
    int shown = 0;
    for (std::string line; shown < 3 && std::getline(results, line); ++shown) {
      const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
      if (record.is_discarded()) continue;
      figures_html +=
          fmt::format("<figure>{}<figcaption>{}: per-turn emotion, annotated vs heard</figcaption></figure>\n",
                      trajectory_svg(record), common::xml_escape(name));
    }
  }
  // One table per kind, one column per run.
  for (const std::string kind : {"ser", "humdial"}) {
    std::vector<const nlohmann::json*> cols;
    for (const auto& s : all)
      if (s["kind"] == kind) cols.push_back(&s);
    if (cols.empty()) continue;
    std::string md = kind == "ser" ? "\n## Speech emotion recognition\n\n| |" : "\n## HumDial Track I\n\n| |";
    std::string html = kind == "ser" ? "<h2>Speech emotion recognition</h2><table><tr><th></th>"
                                     : "<h2>HumDial Track I</h2><table><tr><th></th>";
    std::string sep = "|---|";
    for (const auto* c : cols) {
      const std::string head = (*c)["run"].get<std::string>() + (kind == "ser" ? " (" + c->value("source", "") + ")"
                                                                               : " (" + c->value("task", "") + ")");
      md += " " + head + " |";
      sep += "---|";
      html += "<th>" + common::xml_escape(head) + "</th>";
    }
    md += "\n" + sep + "\n";
    html += "</tr>\n";
    for (const auto& [label, pointer] : rows_of(kind)) {
      std::string line = "| " + label + " |", hline = "<tr><td>" + common::xml_escape(label) + "</td>";
      bool any = false;
      for (const auto* c : cols) {
        const nlohmann::json::json_pointer p(pointer);
        const nlohmann::json v = c->contains(p) ? (*c)[p] : nlohmann::json();
        any = any || !v.is_null();
        const std::string cell = v.is_number_integer() ? std::to_string(v.get<int64_t>()) : num(v);
        line += " " + cell + " |";
        hline += "<td>" + cell + "</td>";
      }
      if (!any) continue;
      md += line + "\n";
      html += hline + "</tr>\n";
    }
    r.markdown += md;
    r.html += html + "</table>\n";
  }
  const nlohmann::json final = final_score(components);
  r.summary = {{"runs", all}, {"score_components", components}, {"final_score", final}};
  const std::string final_line = fmt::format(
      "Final score (docs/design.md: 0.2 T1 + 0.2 T2 + 0.1 T3 text + 0.25 T3 vocal + 0.25 T3 naturalness, renormalised "
      "over "
      "the components present: {}): {}",
      final["components_used"].dump(),
      final["score"].is_null() ? "no component yet (run the judge or add human ratings)" : num(final["score"]));
  r.markdown = "# attune evaluation report\n" + r.markdown + "\n" + final_line + "\n\n## Figures\n\n" + figures_md;
  r.html =
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>attune evaluation report</title><style>"
      "body{font:15px system-ui,sans-serif;margin:1.5rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
      "padding:.3rem .6rem;text-align:right}td:first-child{text-align:left}figure{display:inline-block;margin:.5rem}"
      "</style></head><body><h1>attune evaluation report</h1>" +
      r.html + "<p>" + common::xml_escape(final_line) + "</p><h2>Figures</h2>" + figures_html + "</body></html>\n";
  return r;
}

}  // namespace attune::eval
