#include "data/batches.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "common/random.h"

namespace attune::data {

void BatchOptions::validate() const {
  if (max_tokens < 1) throw ConfigError(fmt::format("batches: max_tokens = {}; expected >= 1", max_tokens));
  if (window < 1) throw ConfigError(fmt::format("batches: window = {}; expected >= 1", window));
}

BatchPlanner::BatchPlanner(std::vector<int64_t> lengths, BatchOptions options)
    : lengths_(std::move(lengths)), options_(options) {
  options_.validate();
  if (std::none_of(lengths_.begin(), lengths_.end(), [](int64_t n) { return n > 0; })) {
    throw ConfigError("batches: no record has tokens in this view");
  }
  plan_epoch();
}

void BatchPlanner::plan_epoch() {
  std::vector<int64_t> order;
  for (int64_t i = 0; i < static_cast<int64_t>(lengths_.size()); ++i) {
    if (lengths_[static_cast<size_t>(i)] > 0) order.push_back(i);
  }
  common::SeededRng rng(options_.seed, "batches", static_cast<uint64_t>(epoch_));
  auto shuffle = [&](auto& v) {  // Fisher-Yates with the portable generator
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
  };
  if (options_.shuffle) shuffle(order);
  plan_.clear();
  for (size_t start = 0; start < order.size(); start += static_cast<size_t>(options_.window)) {
    const size_t end = std::min(order.size(), start + static_cast<size_t>(options_.window));
    std::vector<int64_t> window(order.begin() + static_cast<std::ptrdiff_t>(start),
                                order.begin() + static_cast<std::ptrdiff_t>(end));
    if (options_.shuffle) {
      std::stable_sort(window.begin(), window.end(),
                       [&](int64_t a, int64_t b) { return lengths_[size_t(a)] < lengths_[size_t(b)]; });
    }
    std::vector<std::vector<int64_t>> batches;
    std::vector<int64_t> batch;
    int64_t longest = 0;
    for (int64_t r : window) {
      const int64_t n = lengths_[static_cast<size_t>(r)];
      const int64_t longer = std::max(longest, n);
      if (!batch.empty() && longer * static_cast<int64_t>(batch.size() + 1) > options_.max_tokens) {
        batches.push_back(std::move(batch));
        batch.clear();
        longest = 0;
      }
      batch.push_back(r);
      longest = std::max(longest, n);
    }
    if (!batch.empty()) batches.push_back(std::move(batch));
    if (options_.shuffle) shuffle(batches);
    for (auto& b : batches) plan_.push_back(std::move(b));
  }
}

std::vector<int64_t> BatchPlanner::next() {
  if (batch_ >= static_cast<int64_t>(plan_.size())) {
    ++epoch_;
    batch_ = 0;
    plan_epoch();
  }
  return plan_[static_cast<size_t>(batch_++)];
}

nlohmann::json BatchPlanner::state() const {
  return {{"epoch", epoch_}, {"batch", batch_}, {"seed", options_.seed}, {"records", lengths_.size()}};
}

void BatchPlanner::restore(const nlohmann::json& s) {
  try {
    if (s.at("seed").get<uint64_t>() != options_.seed || s.at("records").get<size_t>() != lengths_.size()) {
      throw InputError(fmt::format("batch state is for seed {} and {} records; this run has seed {} and {} records",
                                   s.at("seed").get<uint64_t>(), s.at("records").get<size_t>(), options_.seed,
                                   lengths_.size()));
    }
    epoch_ = s.at("epoch").get<int64_t>();
    batch_ = s.at("batch").get<int64_t>();
    if (epoch_ < 0) throw InputError(fmt::format("batch state: epoch {}; expected >= 0", epoch_));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("batch state: ") + e.what());
  }
  plan_epoch();
  if (batch_ < 0 || batch_ > static_cast<int64_t>(plan_.size())) {
    throw InputError(fmt::format("batch state: batch {} of an epoch with {} batches", batch_, plan_.size()));
  }
}

}  // namespace attune::data
