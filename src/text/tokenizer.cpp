// Byte-level BPE: loading (tokenizer.json, vocab.json + merges.txt), encoding, decoding.
//
// Encoding runs the Hugging Face pipeline in order: added tokens matched in the raw text ->
// normaliser (NFC) on the text between them -> added tokens marked `normalized` -> pre-tokenizer
// (split regex) -> BPE on each piece's bytes. BPE merges the pair of lowest rank first, the leftmost
// on ties, exactly as Hugging Face's heap does; symbols are token ids, merges a flat hash table of
// (left id, right id) -> (rank, merged id). Words seen before come from a bounded cache.
#include "text/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <queue>
#include <sstream>
#include <unordered_map>

#include "attune/error.h"
#include "common/file_util.h"
#include "common/random.h"
#include "text/pretokenizer.h"
#include "text/unicode.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace attune::text {

using detail::AddedTokenMatcher;
using detail::Normalizer;
using detail::PreTokenizer;

namespace {

// ---- merge table: (left, right) -> (rank, merged id), open addressing --------------------------------

struct MergeValue {
  int32_t rank = INT32_MAX;
  int32_t id = -1;
};

class MergeMap {
 public:
  void build(const std::vector<std::pair<uint64_t, MergeValue>>& entries) {
    size_t cap = 16;
    while (cap < entries.size() * 3) cap <<= 1;  // load <= 1/3: most lookups are misses, keep probes short
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (const auto& [key, value] : entries) {
      size_t i = slot(key);
      while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & mask_;
      slots_[i] = {key, value};  // a repeated pair keeps its last rank, as Hugging Face's HashMap does
    }
  }
  // Starts loading the slot of (a, b), so that several lookups can wait on memory at once.
  void prefetch(int32_t a, int32_t b) const { __builtin_prefetch(&slots_[slot(make_key(a, b))]); }
  MergeValue find(int32_t a, int32_t b) const {
    const uint64_t key = make_key(a, b);
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return s.value;
      if (s.key == kEmpty) return {};
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t make_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  struct Slot {  // key and value in one 16-byte slot: one cache line per probe
    uint64_t key = kEmpty;
    MergeValue value;
  };
  size_t slot(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 29) & mask_; }
  std::vector<Slot> slots_ = {Slot{}};
  size_t mask_ = 0;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// ---- spelling -> id: open addressing over ids, keys compared against the stored spellings ----------------

class TokenIndex {
 public:
  // `spellings[id]` is the key of id (ids with an empty spelling are left out).
  void build(const std::vector<std::string>* spellings, size_t expected) {
    spellings_ = spellings;
    size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    slots_.assign(cap, -1);
    mask_ = cap - 1;
  }
  // Maps `key` (== (*spellings_)[id]) to id, replacing an earlier id with the same spelling.
  void insert(int32_t id) {
    const std::string& key = (*spellings_)[static_cast<size_t>(id)];
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i] < 0 || (*spellings_)[static_cast<size_t>(slots_[i])] == key) {
        slots_[i] = id;
        return;
      }
    }
  }
  int32_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      const int32_t id = slots_[i];
      if (id < 0) return -1;
      if ((*spellings_)[static_cast<size_t>(id)] == key) return id;
    }
  }

 private:
  static size_t hash(std::string_view s) { return std::hash<std::string_view>{}(s); }
  const std::vector<std::string>* spellings_ = nullptr;
  std::vector<int32_t> slots_;
  size_t mask_ = 0;
};

// ---- word cache: a pre-token's bytes -> its ids ---------------------------------------------------
//
// Per thread and direct-mapped, so a lookup takes no lock and touches one 64-byte line. Slots are
// tagged with the tokenizer's generation number, so tokenizers never see each other's entries.

struct CacheSlot {
  uint64_t hash;
  uint32_t generation;
  uint8_t key_length;
  uint8_t id_count;
  char key[18];
  int32_t ids[8];
};
static_assert(sizeof(CacheSlot) == 64);

class WordCache {
 public:
  static constexpr size_t kMaxWordBytes = sizeof(CacheSlot::key);
  static constexpr size_t kMaxIds = sizeof(CacheSlot::ids) / sizeof(int32_t);
  static constexpr size_t kSlots = size_t(1) << 14;  // 1 MiB per thread

  static uint64_t hash(std::string_view s) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t chunk;
      std::memcpy(&chunk, s.data() + i, 8);
      h = (h ^ chunk) * 0xFF51AFD7ED558CCDull;
      h ^= h >> 32;
    }
    if (i < s.size()) {
      uint64_t chunk = 0;
      std::memcpy(&chunk, s.data() + i, s.size() - i);
      h = (h ^ chunk) * 0xC4CEB9FE1A85EC53ull;
      h ^= h >> 29;
    }
    return h;
  }

  static CacheSlot& slot(uint64_t h) {
    thread_local std::unique_ptr<CacheSlot[]> slots;
    if (!slots) slots.reset(new CacheSlot[kSlots]());
    return slots[h & (kSlots - 1)];
  }

  static bool lookup(uint32_t generation, uint64_t h, std::string_view word, std::vector<int32_t>& out) {
    const CacheSlot& s = slot(h);
    if (s.hash != h || s.generation != generation || s.key_length != word.size() ||
        std::memcmp(s.key, word.data(), word.size()) != 0) {
      return false;
    }
    out.insert(out.end(), s.ids, s.ids + s.id_count);
    return true;
  }

  static void insert(uint32_t generation, uint64_t h, std::string_view word, const int32_t* ids, size_t n) {
    if (n > kMaxIds) return;
    CacheSlot& s = slot(h);
    s.hash = h;
    s.generation = generation;
    s.key_length = static_cast<uint8_t>(word.size());
    s.id_count = static_cast<uint8_t>(n);
    std::memcpy(s.key, word.data(), word.size());
    std::memcpy(s.ids, ids, n * sizeof(int32_t));
  }
};

std::atomic<uint32_t> g_generation{0};

enum : uint8_t { kAssigned = 1, kSpecial = 2, kAdded = 4 };

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

// ---- the loaded tokenizer ----------------------------------------------------------------------------------

struct Tokenizer::Impl {
  std::string source;
  std::vector<std::string> id_bytes;  // what each id decodes to
  std::vector<std::string> id_token;  // its spelling in tokenizer.json
  std::vector<uint8_t> id_flags;
  TokenIndex spelling_to_id;                                                          // over id_token
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> bytes_to_id;  // for ignore_merges
  std::array<int32_t, 256> byte_id{};
  MergeMap merges;
  size_t merge_count = 0;
  size_t model_vocab_size = 0;
  bool ignore_merges = false;
  int32_t unk_id = -1;
  Normalizer normalizer = Normalizer::kNone;
  PreTokenizer pre_tokenizer;
  std::vector<AddedToken> added;
  AddedTokenMatcher raw_matcher, normalized_matcher;
  uint32_t generation = ++g_generation;  // tags this tokenizer's entries in the word cache

  void encode_into(std::string_view text, std::vector<int32_t>& out, bool match_added) const;
  void encode_normalized(std::string_view text, std::vector<int32_t>& out, bool match_added) const;
  void encode_pretokenized(std::string_view text, std::vector<int32_t>& out) const;
  void bpe_word(std::string_view word, std::vector<int32_t>& out) const;
  void merge_small(std::vector<int32_t>& sym) const;
  void merge_large(std::vector<int32_t>& sym) const;
  void check_id(int32_t id) const;
};

namespace {

struct ModelSpec {
  std::string source;
  std::vector<std::pair<std::string, int32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<uint32_t> merge_lines;  // merges.txt: the line of each merge (empty: tokenizer.json)
  std::vector<AddedToken> added;
  Normalizer normalizer = Normalizer::kNone;
  PreTokenizer pre_tokenizer;
  bool ignore_merges = false;
  std::optional<std::string> unk_token;
};

std::shared_ptr<Tokenizer::Impl> build(ModelSpec spec) {
  auto impl = std::make_shared<Tokenizer::Impl>();
  impl->source = spec.source;
  impl->normalizer = spec.normalizer;
  impl->pre_tokenizer = std::move(spec.pre_tokenizer);
  impl->ignore_merges = spec.ignore_merges;

  int64_t max_id = -1;
  for (const auto& [token, id] : spec.vocab) max_id = std::max<int64_t>(max_id, id);
  for (const auto& t : spec.added) max_id = std::max<int64_t>(max_id, t.id);
  // The id tables are sized by the largest id: a few bytes of JSON must not ask for gigabytes.
  // Real vocabularies are dense (ids 0..n-1, a few reserved gaps at most).
  const auto defined = static_cast<int64_t>(spec.vocab.size() + spec.added.size());
  if (max_id >= 4 * defined + 1024) {
    throw InputError(spec.source, "the largest id, " + std::to_string(max_id) + ", is far above the " +
                                      std::to_string(defined) + " tokens the file defines (ids must be nearly dense)");
  }
  const size_t size = static_cast<size_t>(max_id + 1);
  impl->id_bytes.assign(size, {});
  impl->id_token.assign(size, {});
  impl->id_flags.assign(size, 0);
  impl->model_vocab_size = spec.vocab.size();

  std::string bytes;
  for (auto& [token, id] : spec.vocab) {
    const auto u = static_cast<size_t>(id);
    const bool byte_level = detail::token_to_bytes(token, bytes);
    impl->id_bytes[u] = byte_level ? bytes : token;  // not byte-level: its UTF-8, as HF's decoder does
    impl->id_flags[u] |= kAssigned;
    if (spec.ignore_merges && byte_level) impl->bytes_to_id.emplace(bytes, id);
    impl->id_token[u] = std::move(token);
  }
  // The model vocabulary by spelling (added tokens join it after the merges are resolved).
  auto& vocab = impl->spelling_to_id;
  vocab.build(&impl->id_token, spec.vocab.size() + spec.added.size());
  for (const auto& entry : spec.vocab) vocab.insert(entry.second);
  for (int b = 0; b < 256; ++b)
    impl->byte_id[b] = vocab.find(detail::bytes_to_token(std::string(1, static_cast<char>(b))));
  if (spec.unk_token) {
    impl->unk_id = vocab.find(*spec.unk_token);
    if (impl->unk_id < 0) {
      throw InputError(spec.source, "model.unk_token " + quote(*spec.unk_token) + " is not in the vocabulary");
    }
  }

  std::vector<std::pair<uint64_t, MergeValue>> entries;
  entries.reserve(spec.merges.size());
  std::string joined;
  for (size_t i = 0; i < spec.merges.size(); ++i) {
    const auto& [a, b] = spec.merges[i];
    const int32_t ia = vocab.find(a), ib = vocab.find(b);
    joined.assign(a).append(b);
    const int32_t ij = vocab.find(joined);
    const char* missing = ia < 0 ? "left" : ib < 0 ? "right" : ij < 0 ? "merged" : nullptr;
    if (missing) {
      const std::string& what = ia < 0 ? a : ib < 0 ? b : joined;
      const std::string where = spec.merge_lines.empty() ? "model.merges[" + std::to_string(i) + "]"
                                                         : "merges.txt line " + std::to_string(spec.merge_lines[i]);
      throw InputError(spec.source, where + " (" + quote(a + " " + b) + "): the " + missing + " token " + quote(what) +
                                        " is not in the vocabulary");
    }
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(ia)) << 32) | static_cast<uint32_t>(ib);
    entries.push_back({key, MergeValue{static_cast<int32_t>(i), ij}});
  }
  impl->merges.build(entries);
  impl->merge_count = spec.merges.size();

  // Added tokens: they decode to their content and are matched in the text before BPE.
  impl->added = std::move(spec.added);
  std::vector<const AddedToken*> raw, normalized;
  std::vector<std::string> raw_content, normalized_content;
  for (const auto& t : impl->added) {
    // As in Hugging Face, an added token's content wins over a vocabulary entry with the same id.
    const auto u = static_cast<size_t>(t.id);
    impl->id_bytes[u] = t.content;
    impl->id_token[u] = t.content;
    impl->id_flags[u] |= kAssigned | kAdded | (t.special ? kSpecial : 0);
    impl->spelling_to_id.insert(t.id);
    if (t.content.empty()) continue;
    if (t.normalized && impl->normalizer == Normalizer::kNfc) {
      normalized.push_back(&t);
      normalized_content.push_back(unicode::nfc(t.content));
    } else if (t.normalized) {
      normalized.push_back(&t);
      normalized_content.push_back(t.content);
    } else {
      raw.push_back(&t);
      raw_content.push_back(t.content);
    }
  }
  impl->raw_matcher = AddedTokenMatcher(std::move(raw), std::move(raw_content));
  impl->normalized_matcher = AddedTokenMatcher(std::move(normalized), std::move(normalized_content));
  return impl;
}

AddedToken parse_added_token(const json& j, const std::string& where) {
  if (!j.is_object()) throw InputError(where, "expected an object with \"id\" and \"content\"");
  AddedToken t;
  auto id = j.find("id");
  auto content = j.find("content");
  if (id == j.end() || !id->is_number_integer() || id->get<int64_t>() < 0 || id->get<int64_t>() > INT32_MAX) {
    throw InputError(where, "expected a non-negative integer \"id\"");
  }
  if (content == j.end() || !content->is_string()) throw InputError(where, "expected a string \"content\"");
  t.id = static_cast<int32_t>(id->get<int64_t>());
  t.content = content->get<std::string>();
  auto flag = [&](const char* key, bool fallback) {
    auto it = j.find(key);
    return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
  };
  t.special = flag("special", false);
  t.single_word = flag("single_word", false);
  t.lstrip = flag("lstrip", false);
  t.rstrip = flag("rstrip", false);
  t.normalized = flag("normalized", !t.special);
  return t;
}

void check_decoder(const json& j, const std::string& where) {
  if (j.is_null()) return;
  if (!j.is_object()) throw InputError(where, "decoder must be an object or null");
  const auto type_it = j.find("type");
  const std::string type = type_it != j.end() && type_it->is_string() ? type_it->get<std::string>() : "";
  if (type == "ByteLevel") return;
  if (type == "Sequence" && j.contains("decoders") && j["decoders"].is_array()) {
    for (const auto& d : j["decoders"]) check_decoder(d, where);
    return;
  }
  throw InputError(where, "decoder type " + quote(type) + " is not supported (byte-level BPE decodes with ByteLevel)");
}

json parse_json(std::string_view text, const std::string& source) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    throw InputError(source, std::string("malformed JSON: ") + e.what());
  }
}

// A SAX reader that builds the usual JSON tree, except for the two big containers of a tokenizer:
// the vocabulary object and the merges list go straight into vectors (a 150k-entry tokenizer.json
// loads several times faster than through the tree). They stay in the tree as empty containers.
class TokenizerJsonReader : public nlohmann::json_sax<json> {
 public:
  // `vocab_path`/`merges_path`: keys from the root ({"model", "vocab"}; {} for vocab.json's root).
  TokenizerJsonReader(std::vector<std::string> vocab_path, std::vector<std::string> merges_path)
      : vocab_path_(std::move(vocab_path)), merges_path_(std::move(merges_path)) {}

  json root;
  std::vector<std::pair<std::string, int32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  bool vocab_found = false, merges_found = false;
  std::string problem;  // the first bad vocab or merges entry
  std::string parse_message;

  bool null() override { return value(nullptr); }
  bool boolean(bool v) override { return value(v); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == Mode::kVocab) return vocab_entry(v);
    return value(v);
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == Mode::kVocab) return vocab_entry(v > static_cast<uint64_t>(INT32_MAX) ? -1 : static_cast<int64_t>(v));
    return value(v);
  }
  bool number_float(number_float_t v, const string_t&) override { return value(v); }
  bool string(string_t& v) override {
    if (mode_ == Mode::kMerges) {
      if (depth_ == capture_depth_) {  // "left right"
        const size_t space = v.find(' ');
        if (space == std::string::npos || space == 0 || space + 1 >= v.size() ||
            v.find(' ', space + 1) != std::string::npos) {
          return merge_problem("expected \"left right\", got " + quote(v));
        }
        merges.emplace_back(v.substr(0, space), v.substr(space + 1));
        return true;
      }
      pair_.push_back(std::move(v));  // inside ["left", "right"]
      return true;
    }
    return value(std::move(v));
  }
  bool binary(binary_t&) override { return value(nullptr); }
  bool key(string_t& k) override {
    if (mode_ == Mode::kVocab) {
      key_ = std::move(k);
      return true;
    }
    key_ = k;
    return true;
  }
  bool start_object(std::size_t) override { return open(true); }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    parse_message = e.what();
    return false;
  }

 private:
  enum class Mode { kTree, kVocab, kMerges };
  // Hugging Face tokenizer.json files nest about 5 levels.
  static constexpr int kMaxJsonDepth = 64;

  bool value(json v) {
    if (mode_ == Mode::kVocab) return vocab_entry(-1);
    if (mode_ == Mode::kMerges) return merge_problem("expected \"left right\" or [\"left\", \"right\"]");
    if (mode_ != Mode::kTree) return true;
    add(std::move(v));
    return true;
  }
  json* add(json v) {
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    json* parent = stack_.back();
    if (parent->is_object()) return &((*parent)[key_] = std::move(v));
    parent->push_back(std::move(v));
    return &parent->back();
  }
  bool open(bool object) {
    if (mode_ == Mode::kMerges) {
      if (object || depth_ != capture_depth_) return merge_problem("expected \"left right\" or [\"left\", \"right\"]");
      pair_.clear();
      ++depth_;
      return true;
    }
    if (mode_ == Mode::kVocab) return vocab_entry(-1);
    // Everything after the parse walks the tree (copies, nested Sequences), recursively: refuse
    // crafted depth here, once.
    if (depth_ >= kMaxJsonDepth) {
      problem = "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
      return false;
    }
    // Where does this container sit?
    if (!stack_.empty() && stack_.back()->is_object()) {
      path_.resize(stack_.size());
      path_.back() = key_;
    } else {
      path_.resize(stack_.size());
      if (!path_.empty()) path_.back().clear();
    }
    json* j = add(object ? json::object() : json::array());
    ++depth_;
    if (object && path_ == vocab_path_) {
      mode_ = Mode::kVocab;
      capture_depth_ = depth_;
      vocab_found = true;
      return true;
    }
    if (!object && path_ == merges_path_) {
      mode_ = Mode::kMerges;
      capture_depth_ = depth_;
      merges_found = true;
      return true;
    }
    stack_.push_back(j);
    return true;
  }
  bool close() {
    --depth_;
    if (mode_ != Mode::kTree) {
      if (depth_ < capture_depth_) {
        mode_ = Mode::kTree;
        return true;
      }
      if (mode_ == Mode::kMerges) {  // end of a ["left", "right"] pair
        if (pair_.size() != 2) return merge_problem("expected \"left right\" or [\"left\", \"right\"]");
        merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
      }
      return true;
    }
    stack_.pop_back();
    return true;
  }
  bool vocab_entry(int64_t id) {
    if (id < 0 || id > INT32_MAX) {
      problem = join(vocab_path_) + "[" + quote(key_) + "]: expected a non-negative integer id";
      return false;
    }
    vocab.emplace_back(std::move(key_), static_cast<int32_t>(id));
    return true;
  }
  bool merge_problem(const std::string& what) {
    problem = join(merges_path_) + "[" + std::to_string(merges.size()) + "]: " + what;
    return false;
  }
  static std::string join(const std::vector<std::string>& path) {
    std::string out;
    for (const auto& p : path) out += (out.empty() ? "" : ".") + p;
    return out.empty() ? "vocabulary" : out;
  }

  std::vector<std::string> vocab_path_, merges_path_, path_;
  std::vector<json*> stack_;
  std::string key_;
  std::vector<std::string> pair_;
  Mode mode_ = Mode::kTree;
  int depth_ = 0, capture_depth_ = -1;
};

void read_tokenizer_json(std::string_view text, const std::string& source, TokenizerJsonReader& reader) {
  const bool ok = json::sax_parse(text.begin(), text.end(), &reader);
  if (!reader.problem.empty()) throw InputError(source, reader.problem);
  if (!ok) throw InputError(source, "malformed JSON: " + reader.parse_message);
}

}  // namespace

// ---- loading ------------------------------------------------------------------------------------------------

Tokenizer::Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_json_text(std::string_view text, const std::string& source) {
  TokenizerJsonReader reader({"model", "vocab"}, {"model", "merges"});
  read_tokenizer_json(text, source, reader);
  const json& root = reader.root;
  if (!root.is_object()) throw InputError(source, "expected a JSON object (a Hugging Face tokenizer.json)");
  auto model_it = root.find("model");
  if (model_it == root.end() || !model_it->is_object()) {
    throw InputError(source, "no \"model\" object: expected a Hugging Face tokenizer.json");
  }
  const json& model = *model_it;
  const std::string type = model.contains("type") && model["type"].is_string() ? model["type"].get<std::string>() : "";
  if (!type.empty() && type != "BPE") {
    throw InputError(source, "model.type is " + quote(type) + "; only \"BPE\" (byte-level) is supported");
  }
  if (!reader.vocab_found) {
    throw InputError(source, model.contains("vocab") ? "model.vocab must be an object mapping tokens to ids"
                                                     : "model.vocab is missing");
  }
  if (reader.vocab.empty()) throw InputError(source, "model.vocab is empty");
  if (!reader.merges_found) {
    throw InputError(source, "model.merges is missing or not a list (a BPE model needs its merges)");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty()) {
      throw InputError(source, std::string("model.") + key + " is set: only byte-level BPE (without it) is supported");
    }
  }

  ModelSpec spec;
  spec.source = source;
  spec.vocab = std::move(reader.vocab);
  spec.merges = std::move(reader.merges);
  spec.ignore_merges =
      model.contains("ignore_merges") && model["ignore_merges"].is_boolean() && model["ignore_merges"].get<bool>();
  if (model.contains("unk_token") && model["unk_token"].is_string())
    spec.unk_token = model["unk_token"].get<std::string>();

  static const json kNull;
  auto member = [&](const char* key) -> const json& {
    auto it = root.find(key);
    return it == root.end() ? kNull : *it;
  };
  spec.normalizer = detail::normalizer_from_json(member("normalizer"), source + ": normalizer");
  if (!root.contains("pre_tokenizer")) throw InputError(source, "pre_tokenizer is missing (byte-level BPE needs one)");
  spec.pre_tokenizer = PreTokenizer::from_json(root["pre_tokenizer"], source + ": pre_tokenizer");
  check_decoder(member("decoder"), source + ": decoder");

  if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
    const json& list = root["added_tokens"];
    if (!list.is_array()) throw InputError(source, "added_tokens must be a list");
    for (size_t i = 0; i < list.size(); ++i) {
      spec.added.push_back(parse_added_token(list[i], source + ": added_tokens[" + std::to_string(i) + "]"));
    }
  }
  return Tokenizer(build(std::move(spec)));
}

Tokenizer Tokenizer::from_tokenizer_json(const fs::path& file) {
  return from_json_text(common::read_file(file), file.string());
}

Tokenizer Tokenizer::from_vocab_merges(const fs::path& vocab_json, const fs::path& merges_txt,
                                       const VocabMergesOptions& options) {
  ModelSpec spec;
  spec.source = vocab_json.string();
  {
    TokenizerJsonReader reader({}, {"-"});
    read_tokenizer_json(common::read_file(vocab_json), vocab_json.string(), reader);
    if (!reader.vocab_found) throw InputError(vocab_json.string(), "expected an object mapping tokens to ids");
    if (reader.vocab.empty()) throw InputError(vocab_json.string(), "the vocabulary is empty");
    spec.vocab = std::move(reader.vocab);
  }

  const std::string merges_text = common::read_file(merges_txt);
  size_t line_no = 0;
  for (size_t pos = 0; pos < merges_text.size();) {
    size_t end = merges_text.find('\n', pos);
    if (end == std::string::npos) end = merges_text.size();
    std::string_view line(merges_text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.starts_with("#version"))) continue;
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 >= line.size() ||
        line.find(' ', space + 1) != std::string_view::npos) {
      throw InputError(merges_txt.string(), "line " + std::to_string(line_no) +
                                                ": expected two tokens separated by one space, got " + quote(line));
    }
    spec.merges.emplace_back(std::string(line.substr(0, space)), std::string(line.substr(space + 1)));
    spec.merge_lines.push_back(static_cast<uint32_t>(line_no));
  }
  if (spec.merges.empty()) throw InputError(merges_txt.string(), "no merges (expected lines \"left right\")");

  // tokenizer_config.json beside vocab.json (transformers' slow-tokenizer layout) names the class
  // and lists the added tokens.
  std::optional<Preset> preset = options.preset;
  const fs::path config_path = vocab_json.parent_path() / "tokenizer_config.json";
  bool have_added = false;
  if (fs::is_regular_file(config_path)) {
    const json config = parse_json(common::read_file(config_path), config_path.string());
    if (!preset && config.is_object() && config.contains("tokenizer_class") && config["tokenizer_class"].is_string()) {
      const auto cls = config["tokenizer_class"].get<std::string>();
      if (cls.rfind("Qwen2", 0) == 0) preset = Preset::kQwen2;
    }
    if (config.is_object() && config.contains("added_tokens_decoder") && config["added_tokens_decoder"].is_object()) {
      for (const auto& [key, value] : config["added_tokens_decoder"].items()) {
        json entry = value;
        try {
          entry["id"] = std::stoll(key);
        } catch (const std::exception&) {
          throw InputError(config_path.string(), "added_tokens_decoder key " + quote(key) + " is not an id");
        }
        spec.added.push_back(parse_added_token(entry, config_path.string() + ": added_tokens_decoder[" + key + "]"));
      }
      have_added = true;
    }
  }
  if (!have_added) {
    // transformers' GPT2Tokenizer treats <|endoftext|> as special.
    for (const auto& [token, id] : spec.vocab) {
      if (token == "<|endoftext|>") spec.added.push_back(AddedToken{id, token, true, false, false, false, false});
    }
  }
  const Preset p = preset.value_or(Preset::kGpt2);
  spec.pre_tokenizer = PreTokenizer::from_preset(p);
  spec.normalizer = detail::preset_normalizer(p);
  return Tokenizer(build(std::move(spec)));
}

Tokenizer Tokenizer::load(const fs::path& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw InputError(path.string(), "no such file or directory (expected a tokenizer)");
  if (fs::is_directory(status)) {
    if (fs::is_regular_file(path / "tokenizer.json")) return from_tokenizer_json(path / "tokenizer.json");
    const bool vocab = fs::is_regular_file(path / "vocab.json");
    const bool merges = fs::is_regular_file(path / "merges.txt");
    if (vocab && merges) return from_vocab_merges(path / "vocab.json", path / "merges.txt");
    throw InputError(path.string(),
                     std::string("directory has no tokenizer.json") +
                         (vocab    ? " and vocab.json has no merges.txt beside it"
                          : merges ? " and merges.txt has no vocab.json beside it"
                                   : " and no vocab.json + merges.txt pair (expected a tokenizer directory)"));
  }
  if (path.filename() == "vocab.json") {
    const fs::path merges = path.parent_path() / "merges.txt";
    if (!fs::is_regular_file(merges)) throw InputError(path.string(), "no merges.txt beside this vocab.json");
    return from_vocab_merges(path, merges);
  }
  return from_tokenizer_json(path);
}

// ---- encoding --------------------------------------------------------------------------------------------

void Tokenizer::Impl::encode_into(std::string_view text, std::vector<int32_t>& out, bool match_added) const {
  if (match_added && !raw_matcher.empty()) {
    raw_matcher.split(
        text, [&](std::string_view piece) { encode_normalized(piece, out, true); },
        [&](const AddedToken& t) { out.push_back(t.id); });
  } else {
    encode_normalized(text, out, match_added);
  }
}

void Tokenizer::Impl::encode_normalized(std::string_view text, std::vector<int32_t>& out, bool match_added) const {
  std::string normalized;
  if (normalizer == Normalizer::kNfc && !unicode::is_nfc_quick(text)) {
    normalized = unicode::nfc(text);
    text = normalized;
  }
  if (match_added && !normalized_matcher.empty()) {
    normalized_matcher.split(
        text, [&](std::string_view piece) { encode_pretokenized(piece, out); },
        [&](const AddedToken& t) { out.push_back(t.id); });
  } else {
    encode_pretokenized(text, out);
  }
}

void Tokenizer::Impl::encode_pretokenized(std::string_view text, std::vector<int32_t>& out) const {
  pre_tokenizer.split(text, [&](std::string_view piece) { bpe_word(piece, out); });
}

void Tokenizer::Impl::bpe_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() == 1) {
    const int32_t id = byte_id[static_cast<unsigned char>(word[0])];
    if (id >= 0) {
      out.push_back(id);
    } else if (unk_id >= 0) {
      out.push_back(unk_id);
    }
    return;
  }
  if (ignore_merges) {
    auto it = bytes_to_id.find(word);
    if (it != bytes_to_id.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= WordCache::kMaxWordBytes;
  const uint64_t h = cacheable ? WordCache::hash(word) : 0;
  if (cacheable && WordCache::lookup(generation, h, word, out)) return;

  thread_local std::vector<int32_t> sym;
  sym.clear();
  for (unsigned char b : word) {
    const int32_t id = byte_id[b];
    if (id >= 0) {
      sym.push_back(id);
    } else if (unk_id >= 0) {
      sym.push_back(unk_id);
    }  // else dropped, as Hugging Face does without an unk token
  }
  if (sym.size() <= 256) {
    merge_small(sym);
  } else {
    merge_large(sym);
  }
  out.insert(out.end(), sym.begin(), sym.end());
  if (cacheable) WordCache::insert(generation, h, word, sym.data(), sym.size());
}

// Short words: keep the rank of every adjacent pair; each merge rescans the (short) rank array and
// refreshes the two pairs it changed.
void Tokenizer::Impl::merge_small(std::vector<int32_t>& sym) const {
  size_t m = sym.size();
  if (m < 2) return;
  // rank[i] / merged[i]: the merge of sym[i] and sym[i + 1] (rank INT32_MAX: none).
  thread_local std::vector<int32_t> rank, merged;
  rank.resize(m);
  merged.resize(m);
  int32_t* r = rank.data();
  int32_t* z = merged.data();
  int32_t* s = sym.data();
  for (size_t i = 0; i + 1 < m; ++i) merges.prefetch(s[i], s[i + 1]);
  for (size_t i = 0; i + 1 < m; ++i) {
    const MergeValue v = merges.find(s[i], s[i + 1]);
    r[i] = v.rank;
    z[i] = v.id;
  }
  while (m > 1) {
    size_t best = 0;
    int32_t best_rank = r[0];
    for (size_t i = 1; i + 1 < m; ++i) {  // branch-free argmin (first minimum)
      const bool lower = r[i] < best_rank;
      best_rank = lower ? r[i] : best_rank;
      best = lower ? i : best;
    }
    if (best_rank == INT32_MAX) break;
    s[best] = z[best];
    for (size_t i = best + 1; i + 1 < m; ++i) {
      s[i] = s[i + 1];
      r[i] = r[i + 1];
      z[i] = z[i + 1];
    }
    --m;
    if (best + 1 < m) {
      const MergeValue v = merges.find(s[best], s[best + 1]);
      r[best] = v.rank;
      z[best] = v.id;
    }
    if (best > 0) {
      const MergeValue v = merges.find(s[best - 1], s[best]);
      r[best - 1] = v.rank;
      z[best - 1] = v.id;
    }
  }
  sym.resize(m);
}

// Long words (runs of thousands of bytes): Hugging Face's algorithm, a heap of candidate merges over
// a linked list of symbols, O(n log n).
void Tokenizer::Impl::merge_large(std::vector<int32_t>& sym) const {
  const size_t n = sym.size();
  struct Node {
    int32_t id;
    int32_t prev, next;
    bool alive;
  };
  std::vector<Node> nodes(n);
  for (size_t i = 0; i < n; ++i) {
    nodes[i] = {sym[i], static_cast<int32_t>(i) - 1, i + 1 < n ? static_cast<int32_t>(i + 1) : -1, true};
  }
  struct Candidate {
    int32_t rank, pos, id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto push = [&](int32_t pos) {
    const int32_t next = nodes[pos].next;
    if (next < 0) return;
    MergeValue v = merges.find(nodes[pos].id, nodes[next].id);
    if (v.id >= 0) queue.push({v.rank, pos, v.id});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Node& left = nodes[top.pos];
    if (!left.alive || left.next < 0) continue;
    Node& right = nodes[left.next];
    if (merges.find(left.id, right.id).id != top.id) continue;  // stale
    left.id = top.id;
    right.alive = false;
    left.next = right.next;
    if (left.next >= 0) nodes[left.next].prev = top.pos;
    if (left.prev >= 0) push(left.prev);
    push(top.pos);
  }
  sym.clear();
  for (int32_t i = 0; i >= 0; i = nodes[i].next) sym.push_back(nodes[i].id);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  impl_->encode_into(text, ids, true);
  return ids;
}

std::vector<int32_t> Tokenizer::encode_ordinary(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  impl_->encode_into(text, ids, false);
  return ids;
}

void Tokenizer::encode_into(std::string_view text, std::vector<int32_t>& ids, bool match_added_tokens) const {
  impl_->encode_into(text, ids, match_added_tokens);
}

// ---- decoding ------------------------------------------------------------------------------------------------

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Appends `bytes` to `out`; returns how many trailing bytes are an incomplete sequence (left out
// unless `final`). Invalid sequences are copied or replaced by U+FFFD.
size_t append_utf8_checked(std::string_view bytes, bool replace, bool final, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && p[j] < 0x80) ++j;  // ASCII run
    out.append(bytes.data() + i, j - i);
    i = j;
    if (i == n) break;
    const auto st = unicode::next_utf8(p + i, n - i);
    if (st.kind == unicode::Utf8Kind::kValid) {
      out.append(bytes.data() + i, st.length);
    } else if (st.kind == unicode::Utf8Kind::kTruncated && !final) {
      return n - i;
    } else if (replace) {
      out += kReplacement;
    } else {
      out.append(bytes.data() + i, st.length);
    }
    i += st.length;
  }
  return 0;
}

}  // namespace

void Tokenizer::Impl::check_id(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_flags.size() || !(id_flags[static_cast<size_t>(id)] & kAssigned)) {
    throw InputError("token id " + std::to_string(id) + " is not in the vocabulary of " + source + " (" +
                     std::to_string(id_flags.size()) + " ids)");
  }
}

std::string Tokenizer::decode(std::span<const int32_t> ids, const DecodeOptions& options) const {
  std::string bytes;
  bytes.reserve(ids.size() * 4);
  for (int32_t id : ids) {
    impl_->check_id(id);
    if (options.skip_special && (impl_->id_flags[static_cast<size_t>(id)] & kSpecial)) continue;
    bytes += impl_->id_bytes[static_cast<size_t>(id)];
  }
  if (!options.replace_invalid) return bytes;
  std::string out;
  out.reserve(bytes.size());
  append_utf8_checked(bytes, true, true, out);
  return out;
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, DecodeOptions options)
    : impl_(tokenizer.impl_), options_(options) {}

std::string StreamDecoder::push(int32_t id) {
  impl_->check_id(id);
  if (options_.skip_special && (impl_->id_flags[static_cast<size_t>(id)] & kSpecial)) return {};
  pending_ += impl_->id_bytes[static_cast<size_t>(id)];
  return drain(false);
}

std::string StreamDecoder::push(std::span<const int32_t> ids) {
  for (int32_t id : ids) {
    impl_->check_id(id);
    if (options_.skip_special && (impl_->id_flags[static_cast<size_t>(id)] & kSpecial)) continue;
    pending_ += impl_->id_bytes[static_cast<size_t>(id)];
  }
  return drain(false);
}

std::string StreamDecoder::finish() {
  std::string out = drain(true);
  pending_.clear();
  return out;
}

std::string StreamDecoder::drain(bool final) {
  std::string out;
  const size_t held = append_utf8_checked(pending_, options_.replace_invalid, final, out);
  pending_.erase(0, pending_.size() - held);
  return out;
}

// ---- vocabulary queries --------------------------------------------------------------------------------------

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->id_flags.size()); }

std::optional<int32_t> Tokenizer::find_token(std::string_view token) const {
  const int32_t id = impl_->spelling_to_id.find(token);
  if (id < 0) return std::nullopt;
  return id;
}

int32_t Tokenizer::token_to_id(std::string_view token) const {
  if (auto id = find_token(token)) return *id;
  throw InputError(impl_->source, "token " + quote(token) + " is not in the vocabulary");
}

std::string Tokenizer::id_to_token(int32_t id) const {
  impl_->check_id(id);
  return impl_->id_token[static_cast<size_t>(id)];
}

std::string_view Tokenizer::token_bytes(int32_t id) const {
  impl_->check_id(id);
  return impl_->id_bytes[static_cast<size_t>(id)];
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->id_flags.size() &&
         (impl_->id_flags[static_cast<size_t>(id)] & kSpecial);
}

const std::vector<AddedToken>& Tokenizer::added_tokens() const { return impl_->added; }
size_t Tokenizer::merge_count() const { return impl_->merge_count; }
const std::string& Tokenizer::source() const { return impl_->source; }

std::string Tokenizer::describe() const {
  std::ostringstream s;
  s << "byte-level BPE, " << vocab_size() << " ids (" << impl_->model_vocab_size << " vocab + " << impl_->added.size()
    << " added), " << impl_->merge_count << " merges, normalizer "
    << (impl_->normalizer == Normalizer::kNfc ? "NFC" : "none") << ", pre-tokenizer "
    << impl_->pre_tokenizer.describe();
  if (impl_->ignore_merges) s << ", ignore_merges";
  return s.str();
}

std::string fingerprint(const Tokenizer& tokenizer) {
  std::string all;
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    all += tokenizer.token_bytes(id);
    all += '\0';
  }
  for (const AddedToken& t : tokenizer.added_tokens()) all += t.content + "\1";
  all += std::to_string(tokenizer.merge_count());
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(common::stable_hash(all)));
  return hex;
}

}  // namespace attune::text
