// Problems found while reading or building a corpus: counted and reported with file and line, so
// nothing is dropped silently and one bad line never stops a build.
//
//   Diagnostics diag;
//   diag.report("reccon/dailydialog_train.json", 0, "tr_12: turn 3: unknown emotion 'happines'", "unknown label");
//   diag.summary();   // "unknown label: 3 (first: reccon/...: tr_12: ...)"
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace attune::data {

struct Problem {
  std::string file;
  int64_t line = 0;  // 1-based line (JSONL/CSV) or 0 when the file has no lines to speak of
  std::string what;  // one line: the id, the field, what was wrong and what was done
  std::string kind;  // a short category for counting: "malformed line", "unknown label", ...
};

class Diagnostics {
 public:
  // Thread-safe.
  void report(std::string file, int64_t line, std::string what, std::string kind);
  // Counts per kind.
  std::map<std::string, int64_t> counts() const;
  int64_t total() const;
  // The first `max_per_kind` problems of each kind (all are counted).
  std::vector<Problem> examples(size_t max_per_kind = 5) const;
  // Lines for a report: "  unknown label: 3 (e.g. FILE:LINE: WHAT)".
  std::vector<std::string> summary_lines() const;
  // Moves everything from `other` into this.
  void merge(const Diagnostics& other);

 private:
  mutable std::mutex mutex_;
  std::map<std::string, int64_t> counts_;
  std::map<std::string, std::vector<Problem>> examples_;
  static constexpr size_t kKeep = 20;
};

}  // namespace attune::data
