#include "common/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <exception>

#include <fmt/format.h>

namespace attune::common {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string format_progress(const std::string& label, int64_t done, int64_t total, double elapsed_s,
                            const std::string& unit, const std::string& postfix, int bar_width) {
  double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0.0;
  std::string line;
  if (total > 0) {
    double frac = std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0);
    int filled = static_cast<int>(frac * bar_width);
    double eta = rate > 0 ? static_cast<double>(total - done) / rate : NAN;
    line = fmt::format("{} {}/{} [{}{}] {:3.0f}% {:.3g} {}/s ETA {}", label, done, total, std::string(filled, '#'),
                       std::string(bar_width - filled, '.'), frac * 100, rate, unit, format_duration(eta));
  } else {
    line = fmt::format("{} {} {} {:.3g} {}/s elapsed {}", label, done, unit, rate, unit, format_duration(elapsed_s));
  }
  if (!postfix.empty()) line += " " + postfix;
  return line;
}

Progress::Progress(std::string label, int64_t total, std::string unit, ProgressOptions options)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), options_(options) {
  live_ = options_.live >= 0 ? options_.live == 1 : ::isatty(::fileno(options_.out)) == 1;
  if (options_.interval_s < 0) options_.interval_s = live_ ? 0.1 : 10.0;
  start_ = last_draw_ = std::chrono::steady_clock::now();
  uncaught_at_start_ = std::uncaught_exceptions();
}

Progress::~Progress() {
  // While an exception unwinds, the error message should be the last thing the user sees.
  if (std::uncaught_exceptions() == uncaught_at_start_) finish();
}

double Progress::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::advance(int64_t n) {
  done_ += n;
  auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_draw_).count() >= options_.interval_s) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::set_postfix(std::string postfix) { postfix_ = std::move(postfix); }

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final) {
  std::string line = format_progress(label_, done_, total_, elapsed_s(), unit_, postfix_, options_.bar_width);
  if (live_) {
    // \r + clear-to-end keeps one updating line; the final draw ends it.
    std::fprintf(options_.out, "\r%s\033[K%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(options_.out, "%s\n", line.c_str());
  }
  std::fflush(options_.out);
}

}  // namespace attune::common
