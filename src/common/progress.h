// Progress reporting for long jobs: count, rate and ETA. On a terminal it draws a live bar on
// stderr; otherwise (logs, CI, pipes) it prints a plain line at most every `interval_s` seconds.
//
//   common::Progress bar("features", files.size(), "files");
//   for (...) { work(); bar.advance(); }
//   bar.finish();   // also called by the destructor
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace attune::common {

struct ProgressOptions {
  std::FILE* out = stderr;
  int live = -1;           // 1: live bar, 0: plain lines, -1: live when `out` is a terminal
  double interval_s = -1;  // minimum seconds between redraws; -1: 0.1 s live, 10 s plain
  int bar_width = 30;
};

// "label  42/100 [#####.....]  42% 3.1 files/s ETA 0:19" (total > 0) or "label 42 files 3.1 files/s".
std::string format_progress(const std::string& label, int64_t done, int64_t total, double elapsed_s,
                            const std::string& unit, const std::string& postfix, int bar_width);

// "1:02:03" / "2:03" for a number of seconds; "?" when not finite.
std::string format_duration(double seconds);

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "items", ProgressOptions options = {});
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t n = 1);
  // Extra text after the rate, e.g. "loss 2.31".
  void set_postfix(std::string postfix);
  // Prints the final line (once). The destructor calls it unless an exception is unwinding.
  void finish();

  int64_t done() const { return done_; }
  double elapsed_s() const;

 private:
  void draw(bool final);

  std::string label_, unit_, postfix_;
  int64_t total_, done_ = 0;
  ProgressOptions options_;
  bool live_, finished_ = false;
  int uncaught_at_start_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace attune::common
