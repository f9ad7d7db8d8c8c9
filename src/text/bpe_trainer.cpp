// Byte-level BPE training with incremental pair counts (the algorithm of Hugging Face's BpeTrainer):
//
//   1. count words (pre-tokens) once: word bytes -> frequency;
//   2. count every adjacent symbol pair, weighted by word frequency, and remember which words hold
//      each pair;
//   3. repeatedly take the most frequent pair (a max-heap with lazy updates: an entry whose count is
//      out of date is re-pushed with the current count), merge it in the words that hold it, and
//      apply the pair-count changes those merges cause around each occurrence.
//
// Ties are broken by the smaller (left id, right id), so training is deterministic.
#include "text/bpe_trainer.h"

#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <unordered_map>

#include "attune/error.h"
#include "common/file_util.h"
#include "common/progress.h"
#include "text/pretokenizer.h"
#include "text/unicode.h"

namespace fs = std::filesystem;

namespace attune::text {

using detail::AddedTokenMatcher;
using detail::Normalizer;
using detail::PreTokenizer;

void BpeTrainerOptions::validate() const {
  const auto specials = static_cast<int32_t>(special_tokens.size());
  if (vocab_size < 256 + specials) {
    throw ConfigError("vocab_size " + std::to_string(vocab_size) +
                      " is too small: it must hold the 256 bytes and the " + std::to_string(specials) +
                      " special tokens (at least " + std::to_string(256 + specials) + ")");
  }
  if (min_frequency < 1) throw ConfigError("min_frequency must be at least 1, got " + std::to_string(min_frequency));
  for (size_t i = 0; i < special_tokens.size(); ++i) {
    if (special_tokens[i].empty()) throw ConfigError("special_tokens[" + std::to_string(i) + "] is empty");
    for (size_t j = 0; j < i; ++j) {
      if (special_tokens[i] == special_tokens[j]) {
        throw ConfigError("special token \"" + special_tokens[i] + "\" is listed twice");
      }
    }
  }
}

// ---- reading training text ---------------------------------------------------------------------------

namespace {

std::string read_maybe_gzip(const fs::path& path, std::string& inner_name) {
  inner_name = path.filename().string();
  if (path.extension() != ".gz") return common::read_file(path);
  common::require_regular_file(path);
  inner_name = path.stem().string();
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw InputError(path.string(), "cannot open for reading");
  std::string out;
  std::vector<char> buffer(1 << 20);
  for (;;) {
    const int n = gzread(f, buffer.data(), static_cast<unsigned>(buffer.size()));
    if (n < 0) {
      int code = 0;
      const std::string message = gzerror(f, &code);
      gzclose(f);
      throw InputError(path.string(), "corrupt gzip data: " + message);
    }
    if (n == 0) break;
    out.append(buffer.data(), static_cast<size_t>(n));
  }
  gzclose(f);
  return out;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void collect_json_strings(const nlohmann::json& j, const std::vector<std::string>& fields,
                          const std::function<void(std::string_view)>& on_text) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.value().is_string()) {
        if (std::find(fields.begin(), fields.end(), it.key()) != fields.end()) {
          on_text(it.value().get_ref<const std::string&>());
        }
      } else {
        collect_json_strings(it.value(), fields, on_text);
      }
    }
  } else if (j.is_array()) {
    for (const auto& v : j) collect_json_strings(v, fields, on_text);
  }
}

}  // namespace

void for_each_training_text(const fs::path& path, const std::function<void(std::string_view)>& on_text,
                            const TrainingTextOptions& options) {
  std::string name;
  const std::string data = read_maybe_gzip(path, name);
  if (ends_with(name, ".jsonl")) {
    size_t line_no = 0;
    for (size_t pos = 0; pos < data.size();) {
      size_t end = data.find('\n', pos);
      if (end == std::string::npos) end = data.size();
      std::string_view line(data.data() + pos, end - pos);
      pos = end + 1;
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line.begin(), line.end());
      } catch (const nlohmann::json::exception& e) {
        throw InputError(path.string(), "line " + std::to_string(line_no) + ": malformed JSON: " + e.what());
      }
      collect_json_strings(j, options.json_fields, on_text);
    }
    return;
  }
  if (ends_with(name, ".json")) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(data);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(path.string(), std::string("malformed JSON: ") + e.what());
    }
    collect_json_strings(j, options.json_fields, on_text);
    return;
  }
  // Plain text, in blocks that end after a newline.
  for (size_t pos = 0; pos < data.size();) {
    size_t end = std::min(data.size(), pos + std::max<size_t>(1, options.block_bytes));
    if (end < data.size()) {
      const size_t nl = data.find('\n', end);
      end = nl == std::string::npos ? data.size() : nl + 1;
    }
    on_text(std::string_view(data).substr(pos, end - pos));
    pos = end;
  }
}

// ---- the trainer ------------------------------------------------------------------------------------------

namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

inline uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
inline int32_t pair_left(uint64_t k) { return static_cast<int32_t>(k >> 32); }
inline int32_t pair_right(uint64_t k) { return static_cast<int32_t>(k & 0xFFFFFFFFu); }

struct Word {
  std::vector<int32_t> symbols;
  int64_t count;
};

}  // namespace

struct BpeTrainer::Impl {
  BpeTrainerOptions options;
  PreTokenizer pre_tokenizer;
  Normalizer normalizer;
  std::vector<AddedToken> specials;
  AddedTokenMatcher special_matcher;
  std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>> word_counts;
  BpeTrainingStats stats;
  bool trained = false;

  // Result.
  std::vector<std::string> id_bytes;                // ids 0..: bytes, then merges
  std::vector<std::pair<int32_t, int32_t>> merges;  // in order

  void count(std::string_view text) {
    pre_tokenizer.split(text, [&](std::string_view w) {
      ++stats.words;
      auto it = word_counts.find(w);
      if (it == word_counts.end()) {
        word_counts.emplace(std::string(w), 1);
      } else {
        ++it->second;
      }
    });
  }
};

BpeTrainer::BpeTrainer(BpeTrainerOptions options) : impl_(std::make_unique<Impl>()) {
  options.validate();
  impl_->options = std::move(options);
  impl_->pre_tokenizer = PreTokenizer::from_preset(impl_->options.preset);
  impl_->normalizer = detail::preset_normalizer(impl_->options.preset);
  std::vector<const AddedToken*> pointers;
  impl_->specials.reserve(impl_->options.special_tokens.size());
  for (const auto& s : impl_->options.special_tokens) impl_->specials.push_back(AddedToken{-1, s});
  for (const auto& t : impl_->specials) pointers.push_back(&t);
  impl_->special_matcher = AddedTokenMatcher(pointers, impl_->options.special_tokens);
}

BpeTrainer::~BpeTrainer() = default;

const BpeTrainingStats& BpeTrainer::stats() const { return impl_->stats; }
const BpeTrainerOptions& BpeTrainer::options() const { return impl_->options; }

void BpeTrainer::add_text(std::string_view text) {
  if (impl_->trained) throw ConfigError("BpeTrainer::add_text after train()");
  const auto start = std::chrono::steady_clock::now();
  impl_->stats.bytes += static_cast<int64_t>(text.size());
  ++impl_->stats.texts;
  auto count_piece = [&](std::string_view piece) {
    if (impl_->normalizer == Normalizer::kNfc && !unicode::is_nfc_quick(piece)) {
      impl_->count(unicode::nfc(piece));
    } else {
      impl_->count(piece);
    }
  };
  impl_->special_matcher.split(text, count_piece, [](const AddedToken&) {});
  impl_->stats.count_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void BpeTrainer::add_file(const fs::path& path, const TrainingTextOptions& options) {
  for_each_training_text(
      path, [&](std::string_view text) { add_text(text); }, options);
}

namespace {

using PairCounts = std::unordered_map<uint64_t, int64_t>;
using PairWords = std::unordered_map<uint64_t, std::vector<uint32_t>>;  // pair -> words that hold it

// Ids 0..255: the bytes in GPT-2's order (printable bytes first), as in GPT-2's and Qwen2's
// vocabularies; id_bytes gets each id's byte.
std::array<int32_t, 256> assign_byte_ids(std::vector<std::string>& id_bytes) {
  std::array<int32_t, 256> byte_id{};
  std::vector<int> order;
  for (int b = 0; b < 256; ++b) {
    if (detail::byte_to_unicode(static_cast<uint8_t>(b)) == static_cast<char32_t>(b)) order.push_back(b);
  }
  for (int b = 0; b < 256; ++b) {
    if (detail::byte_to_unicode(static_cast<uint8_t>(b)) != static_cast<char32_t>(b)) order.push_back(b);
  }
  for (size_t i = 0; i < order.size(); ++i) {
    byte_id[order[i]] = static_cast<int32_t>(i);
    id_bytes.emplace_back(1, static_cast<char>(order[i]));
  }
  return byte_id;
}

// Replaces every (a, b) by z in the words that (still) hold the pair, keeping the counts and the
// pair -> words index up to date; `touched` gets the pairs whose counts grew.
void merge_in_words(int32_t a, int32_t b, int32_t z, const std::vector<uint32_t>& holders, std::vector<Word>& words,
                    PairCounts& pair_count, PairWords& where, std::vector<uint32_t>& stamp, uint32_t step,
                    std::vector<uint64_t>& touched) {
  std::vector<int32_t> merged;
  auto change = [&](int32_t x, int32_t y, int64_t delta, uint32_t wi) {
    const uint64_t k = pair_key(x, y);
    pair_count[k] += delta;
    if (delta > 0) {
      auto& list = where[k];
      if (list.empty() || list.back() != wi) list.push_back(wi);
      touched.push_back(k);
    }
  };
  for (uint32_t wi : holders) {
    if (stamp[wi] == step) continue;
    stamp[wi] = step;
    Word& w = words[wi];
    auto& s = w.symbols;
    merged.clear();
    bool any = false;
    for (size_t i = 0; i < s.size();) {
      if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
        any = true;
        if (!merged.empty()) {
          change(merged.back(), a, -w.count, wi);
          change(merged.back(), z, w.count, wi);
        }
        if (i + 2 < s.size()) {
          change(b, s[i + 2], -w.count, wi);
          change(z, s[i + 2], w.count, wi);
        }
        merged.push_back(z);
        i += 2;
      } else {
        merged.push_back(s[i]);
        ++i;
      }
    }
    if (any) s.assign(merged.begin(), merged.end());
  }
}

}  // namespace

void BpeTrainer::train() {
  if (impl_->trained) return;
  Impl& m = *impl_;
  const auto start = std::chrono::steady_clock::now();
  m.trained = true;
  const std::array<int32_t, 256> byte_id = assign_byte_ids(m.id_bytes);

  // Words as symbol sequences; single-byte words can never take part in a merge.
  std::vector<Word> words;
  words.reserve(m.word_counts.size());
  m.stats.unique_words = static_cast<int64_t>(m.word_counts.size());
  for (auto& [bytes, count] : m.word_counts) {
    if (bytes.size() < 2) continue;
    Word w{{}, count};
    w.symbols.reserve(bytes.size());
    for (unsigned char b : bytes) w.symbols.push_back(byte_id[b]);
    words.push_back(std::move(w));
  }
  decltype(m.word_counts)().swap(m.word_counts);

  PairCounts pair_count;
  PairWords where;
  pair_count.reserve(words.size() * 2);
  for (uint32_t wi = 0; wi < words.size(); ++wi) {
    const auto& s = words[wi].symbols;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const uint64_t k = pair_key(s[i], s[i + 1]);
      pair_count[k] += words[wi].count;
      auto& list = where[k];
      if (list.empty() || list.back() != wi) list.push_back(wi);
    }
  }

  // Max-heap on (count, then the smaller pair).
  struct Entry {
    int64_t count;
    uint64_t pair;
    bool operator<(const Entry& o) const { return count != o.count ? count < o.count : pair > o.pair; }
  };
  std::priority_queue<Entry> heap;
  for (const auto& [k, c] : pair_count) heap.push({c, k});

  const auto specials = static_cast<int32_t>(m.options.special_tokens.size());
  const int32_t target = m.options.vocab_size - specials;  // distinct byte/merge tokens wanted
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> token_id;
  for (int32_t id = 0; id < static_cast<int32_t>(m.id_bytes.size()); ++id) token_id.emplace(m.id_bytes[id], id);

  std::optional<common::Progress> bar;
  if (m.options.progress) bar.emplace("bpe merges", target - static_cast<int64_t>(m.id_bytes.size()), "merges");

  std::vector<uint32_t> stamp(words.size(), UINT32_MAX);
  std::vector<uint64_t> touched;
  uint32_t step = 0;
  while (static_cast<int32_t>(m.id_bytes.size()) < target && !heap.empty()) {
    Entry top = heap.top();
    heap.pop();
    auto pc = pair_count.find(top.pair);
    const int64_t current = pc == pair_count.end() ? 0 : pc->second;
    if (current != top.count) {
      if (current > 0) heap.push({current, top.pair});
      continue;
    }
    if (current < m.options.min_frequency) break;

    const int32_t a = pair_left(top.pair), b = pair_right(top.pair);
    std::string bytes = m.id_bytes[a] + m.id_bytes[b];
    int32_t z;
    if (auto it = token_id.find(bytes); it != token_id.end()) {
      z = it->second;  // another merge already made these bytes: reuse the id (as Hugging Face does)
    } else {
      z = static_cast<int32_t>(m.id_bytes.size());
      token_id.emplace(bytes, z);
      m.id_bytes.push_back(std::move(bytes));
      if (bar) bar->advance();
    }
    m.merges.emplace_back(a, b);

    touched.clear();
    auto node = where.extract(top.pair);
    merge_in_words(a, b, z, node.mapped(), words, pair_count, where, stamp, step, touched);
    pair_count.erase(top.pair);
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (uint64_t k : touched) {
      const int64_t c = pair_count[k];
      if (c > 0) heap.push({c, k});
    }
    ++step;
  }
  if (bar) bar->finish();
  m.stats.merges = static_cast<int64_t>(m.merges.size());
  m.stats.merge_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string BpeTrainer::to_json() const {
  const Impl& m = *impl_;
  if (!m.trained) throw ConfigError("BpeTrainer::to_json before train()");
  using ordered = nlohmann::ordered_json;
  ordered root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  ordered added = ordered::array();
  const auto first_special = static_cast<int32_t>(m.id_bytes.size());
  for (size_t i = 0; i < m.options.special_tokens.size(); ++i) {
    ordered t;
    t["id"] = first_special + static_cast<int32_t>(i);
    t["content"] = m.options.special_tokens[i];
    t["single_word"] = false;
    t["lstrip"] = false;
    t["rstrip"] = false;
    t["normalized"] = false;
    t["special"] = true;
    added.push_back(std::move(t));
  }
  root["added_tokens"] = std::move(added);
  root["normalizer"] = ordered::parse(detail::normalizer_to_json(m.normalizer).dump());
  root["pre_tokenizer"] = ordered::parse(m.pre_tokenizer.to_json().dump());
  const ordered byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  root["post_processor"] = byte_level;
  root["decoder"] = byte_level;

  ordered model;
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = nullptr;
  model["continuing_subword_prefix"] = "";
  model["end_of_word_suffix"] = "";
  model["fuse_unk"] = false;
  model["byte_fallback"] = false;
  model["ignore_merges"] = false;
  ordered vocab = ordered::object();
  std::vector<std::string> spelling(m.id_bytes.size());
  for (size_t id = 0; id < m.id_bytes.size(); ++id) {
    spelling[id] = detail::bytes_to_token(m.id_bytes[id]);
    vocab[spelling[id]] = static_cast<int32_t>(id);
  }
  model["vocab"] = std::move(vocab);
  ordered merges = ordered::array();
  for (const auto& [a, b] : m.merges)
    merges.push_back(spelling[static_cast<size_t>(a)] + " " + spelling[static_cast<size_t>(b)]);
  model["merges"] = std::move(merges);
  root["model"] = std::move(model);
  return root.dump(1) + "\n";
}

void BpeTrainer::save(const fs::path& path) const {
  const std::string text = to_json();
  if (path.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) throw IoError(path.parent_path().string() + ": cannot create the directory: " + ec.message());
  }
  common::write_file_atomically(path, text);
}

Tokenizer BpeTrainer::tokenizer() const { return Tokenizer::from_json_text(to_json(), "<trained tokenizer>"); }

}  // namespace attune::text
