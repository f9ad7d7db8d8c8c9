#include "train/metrics.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "attune/error.h"
#include "common/file_util.h"
#include "common/xml_escape.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace attune::train {

std::vector<json> read_metrics(const fs::path& path) {
  std::vector<json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

MetricsLog::MetricsLog(fs::path path, int64_t keep_until_step) : path_(std::move(path)) {
  if (keep_until_step >= 0 && fs::exists(path_)) {
    std::string kept;
    for (const json& j : read_metrics(path_)) {
      if (j.value("step", int64_t{0}) <= keep_until_step) kept += j.dump() + "\n";
    }
    common::write_file_atomically(path_, kept);
  }
}

void MetricsLog::write(const json& line) {
  std::ofstream out(path_, std::ios::app);
  out << line.dump() << '\n';
  out.flush();
  if (!out) throw IoError(path_.string() + ": cannot append a metrics line");
}

namespace {

struct Series {
  std::string name, color;
  std::vector<std::pair<double, double>> points;
};

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", x);
  return buf;
}

}  // namespace

void write_loss_plot(const std::vector<json>& metrics, const fs::path& svg, const std::string& title) {
  Series train{"train loss", "#1f77b4", {}}, valid{"validation loss", "#d62728", {}};
  for (const json& j : metrics) {
    const double step = j.value("step", 0.0);
    if (j.contains("loss") && j["loss"].is_number()) train.points.emplace_back(step, j["loss"].get<double>());
    if (j.contains("valid_loss") && j["valid_loss"].is_number()) {
      valid.points.emplace_back(step, j["valid_loss"].get<double>());
    }
  }
  double x0 = 0, x1 = 1, y0 = INFINITY, y1 = -INFINITY;
  for (const Series* s : {&train, &valid}) {
    for (auto [x, y] : s->points) {
      if (!std::isfinite(y)) continue;
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  }
  if (!std::isfinite(y0)) y0 = 0, y1 = 1;
  if (y1 - y0 < 1e-9) y1 = y0 + 1;
  const double pad = 0.05 * (y1 - y0);
  y0 = std::max(0.0, y0 - pad);
  y1 += pad;
  const int W = 720, H = 400, L = 64, R = 20, T = 40, B = 48;
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << common::xml_escape(title)
    << "</text>\n";
  for (int i = 0; i <= 5; ++i) {
    const double y = y0 + (y1 - y0) * i / 5, x = x0 + (x1 - x0) * i / 5;
    o << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << py(y) << "\" y2=\"" << py(y)
      << "\" stroke=\"#ddd\"/>\n<text x=\"" << L - 6 << "\" y=\"" << py(y) + 4 << "\" text-anchor=\"end\">" << num(y)
      << "</text>\n<text x=\"" << px(x) << "\" y=\"" << H - B + 16 << "\" text-anchor=\"middle\">" << num(std::round(x))
      << "</text>\n";
  }
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 10 << "\" text-anchor=\"middle\">optimiser step</text>\n";
  o << "<text transform=\"translate(16," << (T + H - B) / 2 << ") rotate(-90)\" text-anchor=\"middle\">loss</text>\n";
  int legend = 0;
  for (const Series* s : {&train, &valid}) {
    if (s->points.empty()) continue;
    o << "<polyline fill=\"none\" stroke=\"" << s->color << "\" stroke-width=\"1.6\" points=\"";
    for (auto [x, y] : s->points) {
      if (std::isfinite(y)) o << px(x) << "," << py(y) << " ";
    }
    o << "\"/>\n";
    if (s == &valid) {
      for (auto [x, y] : s->points) {
        if (std::isfinite(y))
          o << "<circle cx=\"" << px(x) << "\" cy=\"" << py(y) << "\" r=\"3\" fill=\"" << s->color << "\"/>\n";
      }
    }
    o << "<rect x=\"" << W - R - 150 << "\" y=\"" << T + 4 + 18 * legend << "\" width=\"14\" height=\"3\" fill=\""
      << s->color << "\"/><text x=\"" << W - R - 130 << "\" y=\"" << T + 9 + 18 * legend << "\">" << s->name
      << "</text>\n";
    ++legend;
  }
  o << "</svg>\n";
  common::write_file_atomically(svg, o.str());
}

}  // namespace attune::train
