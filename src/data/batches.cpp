#include "data/batches.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "attune/error.h"
#include "common/random.h"
#include "data/readers.h"

namespace attune::data {

void BatchOptions::validate() const {
  if (max_tokens < 1) throw ConfigError(fmt::format("batches: max_tokens = {}; expected >= 1", max_tokens));
  if (window < 1) throw ConfigError(fmt::format("batches: window = {}; expected >= 1", window));
}

CorpusWeights CorpusWeights::from_json(const nlohmann::json& j, std::string_view field) {
  CorpusWeights out;
  if (j.is_null()) return out;
  if (!j.is_object()) {
    throw ConfigError(fmt::format("{}: expected an object of corpus name -> weight, got a {}", field, j.type_name()));
  }
  for (const auto& item : j.items()) {
    const std::string& name = item.key();  // not a structured binding: clang 14 cannot capture one
    const auto& value = item.value();
    if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0) {
      throw ConfigError(fmt::format("{}.{}: expected a number >= 0", field, name));
    }
    const double w = value.get<double>();
    if (name == "*") {
      out.rest = w;
      continue;
    }
    const auto& known = corpora();
    if (std::none_of(known.begin(), known.end(), [&](const CorpusInfo& c) { return c.name == name; })) {
      std::string names;
      for (const CorpusInfo& c : known) names += (names.empty() ? "" : ", ") + c.name;
      throw ConfigError(fmt::format("{}: no corpus '{}'; expected one of {} or \"*\"", field, name, names));
    }
    out.weights[name] = w;
  }
  return out;
}

bool CorpusWeights::uniform() const {
  return rest == 1 && std::all_of(weights.begin(), weights.end(), [](const auto& kv) { return kv.second == 1; });
}

double CorpusWeights::of(std::string_view corpus) const {
  auto it = weights.find(std::string(corpus));
  return it == weights.end() ? rest : it->second;
}

std::vector<double> CorpusWeights::per_record(const std::vector<std::string>& dialogue_ids) const {
  std::vector<double> out;
  out.reserve(dialogue_ids.size());
  for (const std::string& id : dialogue_ids) out.push_back(of(corpus_of_dialogue(id)));
  return out;
}

std::map<std::string, CorpusShare> corpus_shares(const std::vector<std::string>& dialogue_ids,
                                                 const std::vector<int64_t>& lengths, const CorpusWeights& weights) {
  if (dialogue_ids.size() != lengths.size()) {
    throw ConfigError(fmt::format("corpus shares: {} ids for {} lengths", dialogue_ids.size(), lengths.size()));
  }
  std::map<std::string, CorpusShare> out;
  double total = 0, weighted_total = 0;
  for (size_t i = 0; i < lengths.size(); ++i) {
    if (lengths[i] <= 0) continue;
    const std::string corpus = corpus_of_dialogue(dialogue_ids[i]);
    CorpusShare& s = out[corpus.empty() ? "unknown" : corpus];
    s.weight = weights.of(corpus);
    s.records += 1;
    s.tokens += lengths[i];
    total += static_cast<double>(lengths[i]);
    weighted_total += s.weight * static_cast<double>(lengths[i]);
  }
  for (auto& [name, s] : out) {
    s.share = total > 0 ? static_cast<double>(s.tokens) / total : 0;
    s.weighted_share = weighted_total > 0 ? s.weight * static_cast<double>(s.tokens) / weighted_total : 0;
  }
  return out;
}

BatchPlanner::BatchPlanner(std::vector<int64_t> lengths, BatchOptions options, std::vector<double> weights)
    : lengths_(std::move(lengths)), options_(options), weights_(std::move(weights)) {
  options_.validate();
  if (!weights_.empty() && weights_.size() != lengths_.size()) {
    throw ConfigError(fmt::format("batches: {} weights for {} records", weights_.size(), lengths_.size()));
  }
  for (size_t i = 0; i < lengths_.size() && !weights_.empty(); ++i) {
    if (weights_[i] <= 0) lengths_[i] = 0;  // never planned, like a record without this view
  }
  if (std::none_of(lengths_.begin(), lengths_.end(), [](int64_t n) { return n > 0; })) {
    throw ConfigError("batches: no record has tokens in this view");
  }
  plan_epoch();
}

void BatchPlanner::plan_epoch() {
  std::vector<int64_t> order;
  common::SeededRng draws(options_.seed, "corpus weights", static_cast<uint64_t>(epoch_));
  for (int64_t i = 0; i < static_cast<int64_t>(lengths_.size()); ++i) {
    if (lengths_[static_cast<size_t>(i)] <= 0) continue;
    if (weights_.empty()) {
      order.push_back(i);
      continue;
    }
    const double w = weights_[static_cast<size_t>(i)];
    const double whole = std::floor(w);
    const int64_t copies = static_cast<int64_t>(whole) + (draws.chance(w - whole) ? 1 : 0);
    for (int64_t c = 0; c < copies; ++c) order.push_back(i);
  }
  if (order.empty()) {  // weights so small that nothing was drawn this epoch: the first record that can be
    for (int64_t i = 0; order.empty(); ++i) {
      if (lengths_[static_cast<size_t>(i)] > 0) order.push_back(i);
    }
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

uint64_t BatchPlanner::weights_fingerprint() const {
  std::string s;
  for (double w : weights_) s += fmt::format("{:.9g},", w);
  return common::stable_hash(s);
}

nlohmann::json BatchPlanner::state() const {
  nlohmann::json s = {{"epoch", epoch_}, {"batch", batch_}, {"seed", options_.seed}, {"records", lengths_.size()}};
  if (!weights_.empty()) s["weights"] = weights_fingerprint();
  return s;
}

void BatchPlanner::restore(const nlohmann::json& s) {
  try {
    if (s.at("seed").get<uint64_t>() != options_.seed || s.at("records").get<size_t>() != lengths_.size()) {
      throw InputError(fmt::format("batch state is for seed {} and {} records; this run has seed {} and {} records",
                                   s.at("seed").get<uint64_t>(), s.at("records").get<size_t>(), options_.seed,
                                   lengths_.size()));
    }
    const uint64_t saved = s.contains("weights") ? s.at("weights").get<uint64_t>() : 0;
    if (saved != (weights_.empty() ? 0 : weights_fingerprint())) {
      throw InputError("batch state: the corpus weights differ from the ones this run was started with");
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
