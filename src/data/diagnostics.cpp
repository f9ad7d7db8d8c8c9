#include "data/diagnostics.h"

namespace attune::data {

void Diagnostics::report(std::string file, int64_t line, std::string what, std::string kind) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++counts_[kind];
  auto& kept = examples_[kind];
  if (kept.size() < kKeep) kept.push_back({std::move(file), line, std::move(what), std::move(kind)});
}

std::map<std::string, int64_t> Diagnostics::counts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_;
}

int64_t Diagnostics::total() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t n = 0;
  for (const auto& [kind, count] : counts_) n += count;
  return n;
}

std::vector<Problem> Diagnostics::examples(size_t max_per_kind) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Problem> out;
  for (const auto& [kind, kept] : examples_) {
    for (size_t i = 0; i < kept.size() && i < max_per_kind; ++i) out.push_back(kept[i]);
  }
  return out;
}

std::vector<std::string> Diagnostics::summary_lines() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> lines;
  for (const auto& [kind, count] : counts_) {
    const Problem& p = examples_.at(kind).front();
    std::string where = p.file + (p.line > 0 ? ":" + std::to_string(p.line) : "");
    lines.push_back("  " + kind + ": " + std::to_string(count) + " (e.g. " + where + ": " + p.what + ")");
  }
  return lines;
}

void Diagnostics::merge(const Diagnostics& other) {
  if (&other == this) return;
  std::scoped_lock lock(mutex_, other.mutex_);
  for (const auto& [kind, count] : other.counts_) counts_[kind] += count;
  for (const auto& [kind, kept] : other.examples_) {
    auto& mine = examples_[kind];
    for (const Problem& p : kept) {
      if (mine.size() < kKeep) mine.push_back(p);
    }
  }
}

}  // namespace attune::data
