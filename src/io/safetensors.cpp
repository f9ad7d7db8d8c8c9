#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "attune/error.h"
#include "common/file_util.h"
#include "common/json_brief.h"
#include "io/model_config.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace attune::io {

// ================================================================================================
// dtypes
// ================================================================================================

namespace {

struct DtypeInfo {
  Dtype dtype;
  std::string_view name;
  size_t size;
};

constexpr std::array<DtypeInfo, 15> kDtypes = {{
    {Dtype::kBool, "BOOL", 1},
    {Dtype::kU8, "U8", 1},
    {Dtype::kI8, "I8", 1},
    {Dtype::kF8E5M2, "F8_E5M2", 1},
    {Dtype::kF8E4M3, "F8_E4M3", 1},
    {Dtype::kI16, "I16", 2},
    {Dtype::kU16, "U16", 2},
    {Dtype::kF16, "F16", 2},
    {Dtype::kBF16, "BF16", 2},
    {Dtype::kI32, "I32", 4},
    {Dtype::kU32, "U32", 4},
    {Dtype::kF32, "F32", 4},
    {Dtype::kF64, "F64", 8},
    {Dtype::kI64, "I64", 8},
    {Dtype::kU64, "U64", 8},
}};

std::string known_dtype_list() {
  std::string out;
  for (const auto& d : kDtypes) {
    if (!out.empty()) out += ", ";
    out += d.name;
  }
  return out;
}

}  // namespace

std::string_view dtype_name(Dtype dtype) { return kDtypes.at(static_cast<size_t>(dtype)).name; }

size_t dtype_size(Dtype dtype) { return kDtypes.at(static_cast<size_t>(dtype)).size; }

std::optional<Dtype> parse_dtype(std::string_view name) {
  for (const auto& d : kDtypes) {
    if (d.name == name) return d.dtype;
  }
  return std::nullopt;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// ================================================================================================
// header validation
// ================================================================================================

namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string json_type(const json& j) { return j.type_name(); }

// A non-negative JSON integer, or nullopt.
std::optional<uint64_t> as_u64(const json& j) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer() && j.get<int64_t>() >= 0) return static_cast<uint64_t>(j.get<int64_t>());
  return std::nullopt;
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }

struct ParsedEntry {
  std::string name;
  TensorView view;
  uint64_t begin = 0, end = 0;
};

struct ParsedHeader {
  std::vector<ParsedEntry> entries;  // sorted by offset
  SafetensorsMetadata metadata;
  uint64_t header_size = 0;
};

// The 8-byte little-endian length and the JSON object after it; n = the header's length.
json read_header_json(const std::byte* bytes, uint64_t size, const std::string& source, uint64_t& n) {
  if (size == 0) throw InputError(source, "file is empty; a safetensors file starts with an 8-byte header length");
  if (size < 8) {
    throw InputError(source, "file is only " + std::to_string(size) +
                                 " bytes; a safetensors file starts with an 8-byte header length (truncated?)");
  }
  n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  if (n > kMaxSafetensorsHeaderBytes) {
    throw InputError(source, "header length " + std::to_string(n) + " exceeds the limit of " +
                                 std::to_string(kMaxSafetensorsHeaderBytes) +
                                 " bytes (not a safetensors file, or a corrupt one)");
  }
  if (n + 8 > size) {
    throw InputError(source, "header length " + std::to_string(n) + " runs past the end of the file (file is " +
                                 std::to_string(size) + " bytes; truncated?)");
  }
  if (n == 0) throw InputError(source, "header is empty; expected a JSON object");
  const char* text = reinterpret_cast<const char*>(bytes + 8);
  // JSON never contains a raw NUL; nlohmann would take one as the end of input and ignore the rest.
  if (const void* nul = std::memchr(text, '\0', n)) {
    throw InputError(source, "header is not valid JSON (NUL byte at header offset " +
                                 std::to_string(static_cast<const char*>(nul) - text) + ")");
  }
  json header;
  try {
    header = json::parse(text, text + n);
  } catch (const json::exception& e) {
    throw InputError(source, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) {
    throw InputError(source, "header must be a JSON object, found " + json_type(header));
  }
  return header;
}

void parse_metadata(const json& value, const std::string& source, SafetensorsMetadata& metadata) {
  if (!value.is_object()) {
    throw InputError(source, "\"__metadata__\" must be an object of strings, found " + json_type(value));
  }
  for (auto m = value.begin(); m != value.end(); ++m) {
    if (!m.value().is_string()) {
      throw InputError(source, "\"__metadata__\" must map strings to strings, but key \"" + m.key() + "\" holds a " +
                                   json_type(m.value()));
    }
    metadata[m.key()] = m.value().get<std::string>();
  }
}

// One tensor's entry: dtype, shape and offsets, checked against each other and the data section.
ParsedEntry parse_entry(const std::string& name, const json& value, const std::byte* data, uint64_t data_size,
                        const std::string& source) {
  const std::string where = "tensor \"" + name + "\": ";
  if (!value.is_object()) throw InputError(source, where + "expected an object, found " + json_type(value));
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(key)) throw InputError(source, where + "missing \"" + key + "\"");
  }
  const json& jdtype = value["dtype"];
  if (!jdtype.is_string()) throw InputError(source, where + "\"dtype\" must be a string");
  auto dtype = parse_dtype(jdtype.get<std::string>());
  if (!dtype) {
    throw InputError(source, where + "unknown dtype \"" + jdtype.get<std::string>() + "\" (expected one of " +
                                 known_dtype_list() + ")");
  }
  const json& jshape = value["shape"];
  if (!jshape.is_array()) throw InputError(source, where + "\"shape\" must be an array of non-negative integers");
  ParsedEntry entry;
  entry.name = name;
  entry.view.dtype = *dtype;
  uint64_t numel = 1;
  for (const json& d : jshape) {
    auto dim = as_u64(d);
    if (!dim || *dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw InputError(
          source, where + "\"shape\" must be an array of non-negative integers, found " + common::json_brief(jshape));
    }
    if (!checked_mul(numel, *dim, numel)) {
      throw InputError(source, where + "shape " + common::json_brief(jshape) + " overflows 64 bits");
    }
    entry.view.shape.push_back(static_cast<int64_t>(*dim));
  }
  uint64_t expected_bytes = 0;
  if (!checked_mul(numel, dtype_size(*dtype), expected_bytes)) {
    throw InputError(source, where + "shape " + common::json_brief(jshape) + " x " + std::string(dtype_name(*dtype)) +
                                 " overflows 64 bits");
  }
  const json& joff = value["data_offsets"];
  std::optional<uint64_t> begin, end;
  if (joff.is_array() && joff.size() == 2) {
    begin = as_u64(joff[0]);
    end = as_u64(joff[1]);
  }
  if (!begin || !end) {
    throw InputError(source, where + "\"data_offsets\" must be [begin, end] (two non-negative integers), found " +
                                 common::json_brief(joff));
  }
  if (*begin > *end) {
    throw InputError(source, where + "data_offsets " + common::json_brief(joff) + " have begin after end");
  }
  if (*end > data_size) {
    throw InputError(source, where + "data_offsets " + common::json_brief(joff) +
                                 " run past the end of the data section (" + std::to_string(data_size) +
                                 " bytes; file truncated?)");
  }
  if (*end - *begin != expected_bytes) {
    throw InputError(source, where + "shape " + shape_string(entry.view.shape) + " of " +
                                 std::string(dtype_name(*dtype)) + " needs " + std::to_string(expected_bytes) +
                                 " bytes but data_offsets " + common::json_brief(joff) + " span " +
                                 std::to_string(*end - *begin));
  }
  entry.begin = *begin;
  entry.end = *end;
  entry.view.data = data + *begin;
  entry.view.nbytes = static_cast<size_t>(expected_bytes);
  return entry;
}

// The data section must be covered exactly: sorted by offset, each tensor begins where the previous
// one ended (no overlap, no gap) and the last one ends at the end of the file.
void check_packed(std::vector<ParsedEntry>& entries, uint64_t data_size, const std::string& source) {
  std::sort(entries.begin(), entries.end(), [](const ParsedEntry& a, const ParsedEntry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t cursor = 0;
  const ParsedEntry* previous = nullptr;
  for (const auto& e : entries) {
    if (e.begin < cursor) {
      throw InputError(source, "tensors \"" + previous->name + "\" [" + std::to_string(previous->begin) + ", " +
                                   std::to_string(previous->end) + ") and \"" + e.name + "\" [" +
                                   std::to_string(e.begin) + ", " + std::to_string(e.end) + ") overlap");
    }
    if (e.begin > cursor) {
      throw InputError(source, "tensor \"" + e.name + "\": " + std::to_string(e.begin - cursor) +
                                   " unused bytes before its data_offsets; tensors must be packed without gaps");
    }
    cursor = e.end;
    previous = &e;
  }
  if (cursor != data_size) {
    throw InputError(source, "data section is " + std::to_string(data_size) + " bytes but the tensors cover " +
                                 std::to_string(cursor) + " (trailing bytes after the last tensor)");
  }
}

// Validates the 8-byte length, the header JSON and every entry against a buffer of `size` bytes.
// `bytes` may be null only when size < 8 (nothing is read then).
ParsedHeader parse_header(const std::byte* bytes, uint64_t size, const std::string& source) {
  uint64_t n = 0;
  const json header = read_header_json(bytes, size, source, n);
  const uint64_t data_size = size - 8 - n;
  ParsedHeader parsed;
  parsed.header_size = n;
  const std::byte* data = bytes + 8 + n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      parse_metadata(it.value(), source, parsed.metadata);
    } else {
      parsed.entries.push_back(parse_entry(it.key(), it.value(), data, data_size, source));
    }
  }
  check_packed(parsed.entries, data_size, source);
  return parsed;
}

}  // namespace

// ================================================================================================
// SafetensorsFile
// ================================================================================================

struct SafetensorsFile::Impl {
  fs::path path;
  void* map = nullptr;
  size_t map_size = 0;
  uint64_t file_size = 0;
  uint64_t header_size = 0;
  std::vector<std::string> names;
  std::vector<TensorView> views;  // parallel to names
  std::map<std::string, size_t, std::less<>> index;
  SafetensorsMetadata metadata;

  ~Impl() {
    if (map) ::munmap(map, map_size);
  }
};

SafetensorsFile::SafetensorsFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

SafetensorsFile SafetensorsFile::open(const fs::path& path) {
  const std::string source = path.string();
  common::require_regular_file(path);
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(source, std::string("cannot open for reading: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw InputError(source, std::string("cannot stat: ") + std::strerror(err));
  }
  impl->file_size = static_cast<uint64_t>(st.st_size);
  if (impl->file_size >= 8) {
    void* map = ::mmap(nullptr, static_cast<size_t>(impl->file_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw InputError(source, std::string("cannot memory-map: ") + std::strerror(err));
    }
    impl->map = map;
    impl->map_size = static_cast<size_t>(impl->file_size);
  }
  ::close(fd);  // the mapping stays valid

  ParsedHeader parsed = parse_header(static_cast<const std::byte*>(impl->map), impl->file_size, source);
  impl->header_size = parsed.header_size;
  impl->metadata = std::move(parsed.metadata);
  impl->names.reserve(parsed.entries.size());
  impl->views.reserve(parsed.entries.size());
  for (auto& e : parsed.entries) {
    impl->index.emplace(e.name, impl->names.size());
    impl->names.push_back(std::move(e.name));
    impl->views.push_back(std::move(e.view));
  }
  return SafetensorsFile(std::move(impl));
}

const fs::path& SafetensorsFile::path() const { return impl_->path; }
const std::vector<std::string>& SafetensorsFile::names() const { return impl_->names; }
const SafetensorsMetadata& SafetensorsFile::metadata() const { return impl_->metadata; }
uint64_t SafetensorsFile::file_size() const { return impl_->file_size; }
uint64_t SafetensorsFile::header_size() const { return impl_->header_size; }

const TensorView* SafetensorsFile::find(std::string_view name) const {
  auto it = impl_->index.find(name);
  return it == impl_->index.end() ? nullptr : &impl_->views[it->second];
}

const TensorView& SafetensorsFile::tensor(std::string_view name) const {
  const TensorView* view = find(name);
  if (!view) throw InputError(impl_->path.string(), "no tensor named \"" + std::string(name) + "\"");
  return *view;
}

// ================================================================================================
// SafetensorsCheckpoint
// ================================================================================================

namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

SafetensorsCheckpoint SafetensorsCheckpoint::open(const fs::path& path) {
  std::error_code ec;
  fs::path target = path;
  if (fs::is_directory(path, ec)) {
    // transformers' order: a single model.safetensors wins over an index.
    if (fs::exists(path / kSafetensorsSingleName)) {
      target = path / kSafetensorsSingleName;
    } else if (fs::exists(path / kSafetensorsIndexName)) {
      target = path / kSafetensorsIndexName;
    } else {
      throw InputError(path.string(), std::string("directory has neither ") + kSafetensorsIndexName + " nor " +
                                          kSafetensorsSingleName);
    }
  }
  SafetensorsCheckpoint ckpt;
  const std::string source = target.string();
  if (!ends_with(target.filename().string(), ".json")) {
    ckpt.files_.push_back(SafetensorsFile::open(target));
    const SafetensorsFile& file = ckpt.files_.back();
    for (const auto& name : file.names()) ckpt.entries_[name] = Entry{0, file.find(name)};
  } else {
    ckpt.index_path_ = target;
    const json index = read_json_file(target);
    if (!index.is_object()) throw InputError(source, "expected a JSON object with \"weight_map\"");
    if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
      throw InputError(source, "\"weight_map\" is missing or not an object of tensor name -> shard file");
    }
    if (index.contains("metadata") && index["metadata"].is_object() && index["metadata"].contains("total_size")) {
      const json& total = index["metadata"]["total_size"];
      if (auto v = as_u64(total)) {
        ckpt.index_total_size_ = v;
      } else if (total.is_number_float() && total.get<double>() >= 0) {
        ckpt.index_total_size_ = static_cast<uint64_t>(total.get<double>());
      } else {
        throw InputError(source,
                         "\"metadata.total_size\" must be a non-negative integer, found " + common::json_brief(total));
      }
    }
    const fs::path dir = target.parent_path();
    std::map<std::string, size_t> shard_index;  // shard file name -> files_ position
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string()) {
        throw InputError(source,
                         "weight_map[\"" + it.key() + "\"] must be a shard file name, found " + json_type(it.value()));
      }
      const std::string shard = it.value().get<std::string>();
      const fs::path rel(shard);
      bool escapes = shard.empty() || rel.is_absolute();
      for (const auto& part : rel) escapes = escapes || part == "..";
      if (escapes) {
        throw InputError(source, "weight_map[\"" + it.key() + "\"] = \"" + shard +
                                     "\": shard files must be relative paths inside the checkpoint directory");
      }
      auto found = shard_index.find(shard);
      if (found == shard_index.end()) {
        const fs::path shard_path = dir / rel;
        if (!fs::exists(shard_path, ec)) {
          throw InputError(source, "shard \"" + shard + "\" (listed for tensor \"" + it.key() +
                                       "\") does not exist in " + (dir.empty() ? fs::path(".") : dir).string());
        }
        ckpt.files_.push_back(SafetensorsFile::open(shard_path));
        found = shard_index.emplace(shard, ckpt.files_.size() - 1).first;
      }
      const TensorView* view = ckpt.files_[found->second].find(it.key());
      if (!view) {
        throw InputError(source, "tensor \"" + it.key() + "\" is listed in shard \"" + shard +
                                     "\" but that file has no such tensor");
      }
      ckpt.entries_[it.key()] = Entry{found->second, view};
    }
    for (const auto& file : ckpt.files_) {
      for (const auto& name : file.names()) {
        if (!ckpt.entries_.count(name)) ckpt.unlisted_.push_back(name);
      }
    }
  }
  ckpt.names_.reserve(ckpt.entries_.size());
  for (const auto& [name, entry] : ckpt.entries_) ckpt.names_.push_back(name);
  return ckpt;
}

const TensorView* SafetensorsCheckpoint::find(std::string_view name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second.view;
}

const SafetensorsFile& SafetensorsCheckpoint::file_of(std::string_view name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    std::string where = index_path_ ? index_path_->string() : files_.empty() ? "" : files_[0].path().string();
    throw InputError(where, "no tensor named \"" + std::string(name) + "\"");
  }
  return files_[it->second.file];
}

const TensorView& SafetensorsCheckpoint::tensor(std::string_view name) const {
  file_of(name);  // throws when absent
  return *find(name);
}

uint64_t SafetensorsCheckpoint::total_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, entry] : entries_) total += entry.view->nbytes;
  return total;
}

// ================================================================================================
// writing
// ================================================================================================

namespace {

struct PreparedFile {
  std::string header;  // 8-byte length + padded JSON
  std::vector<const TensorToWrite*> order;
  uint64_t data_bytes = 0;
};

void check_tensors(const std::vector<TensorToWrite>& tensors) {
  std::set<std::string_view> seen;
  for (const auto& t : tensors) {
    if (t.name.empty()) throw ConfigError("safetensors writer: a tensor has an empty name");
    if (t.name == "__metadata__")
      throw ConfigError("safetensors writer: \"__metadata__\" is reserved, not a tensor name");
    if (!seen.insert(t.name).second) throw ConfigError("safetensors writer: duplicate tensor name \"" + t.name + "\"");
    try {
      (void)json(t.name).dump(-1, ' ', false, json::error_handler_t::strict);
    } catch (const json::exception&) {
      throw ConfigError("safetensors writer: tensor name \"" + t.name + "\" is not valid UTF-8");
    }
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0 || !checked_mul(numel, static_cast<uint64_t>(d), numel)) {
        throw ConfigError("safetensors writer: tensor \"" + t.name + "\" has an invalid shape " +
                          shape_string(t.shape));
      }
    }
    uint64_t nbytes = 0;
    if (!checked_mul(numel, dtype_size(t.dtype), nbytes) || nbytes != t.data.size()) {
      throw ConfigError("safetensors writer: tensor \"" + t.name + "\" has shape " + shape_string(t.shape) + " of " +
                        std::string(dtype_name(t.dtype)) + " (" + std::to_string(nbytes) + " bytes) but " +
                        std::to_string(t.data.size()) + " bytes of data");
    }
  }
}

PreparedFile prepare(const std::vector<TensorToWrite>& tensors, const SafetensorsMetadata& metadata) {
  check_tensors(tensors);
  PreparedFile out;
  for (const auto& t : tensors) out.order.push_back(&t);
  std::sort(out.order.begin(), out.order.end(), [](const TensorToWrite* a, const TensorToWrite* b) {
    if (a->dtype != b->dtype) return a->dtype > b->dtype;
    return a->name < b->name;
  });
  // Compact JSON in the reference's order: "__metadata__" first, then tensors in data order, each
  // {"dtype","shape","data_offsets"}.
  std::string text = "{";
  if (!metadata.empty()) {
    json m(json::value_t::object);
    for (const auto& [k, v] : metadata) m[k] = v;
    try {
      text += "\"__metadata__\":" + m.dump(-1, ' ', false, json::error_handler_t::strict);
    } catch (const json::exception&) {
      throw ConfigError("safetensors writer: metadata is not valid UTF-8");
    }
  }
  uint64_t offset = 0;
  for (const TensorToWrite* t : out.order) {
    if (text.size() > 1) text += ",";
    text += json(t->name).dump(-1, ' ', false, json::error_handler_t::strict);
    text += ":{\"dtype\":\"" + std::string(dtype_name(t->dtype)) + "\",\"shape\":[";
    for (size_t i = 0; i < t->shape.size(); ++i) text += (i ? "," : "") + std::to_string(t->shape[i]);
    text += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t->data.size()) + "]}";
    offset += t->data.size();
  }
  text += "}";
  text.append((8 - text.size() % 8) % 8, ' ');
  if (text.size() > kMaxSafetensorsHeaderBytes) {
    throw ConfigError("safetensors writer: the header would be " + std::to_string(text.size()) +
                      " bytes, more than readers accept (" + std::to_string(kMaxSafetensorsHeaderBytes) + ")");
  }
  uint64_t n = text.size();
  out.header.resize(8);
  for (int i = 0; i < 8; ++i) out.header[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out.header += text;
  out.data_bytes = offset;
  return out;
}

}  // namespace

std::string serialize_safetensors(std::vector<TensorToWrite> tensors, const SafetensorsMetadata& metadata) {
  PreparedFile prepared = prepare(tensors, metadata);
  std::string out = std::move(prepared.header);
  out.reserve(out.size() + prepared.data_bytes);
  for (const TensorToWrite* t : prepared.order)
    out.append(reinterpret_cast<const char*>(t->data.data()), t->data.size());
  return out;
}

void write_safetensors(const fs::path& path, std::vector<TensorToWrite> tensors, const SafetensorsMetadata& metadata) {
  PreparedFile prepared = prepare(tensors, metadata);
  common::write_atomically(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError(tmp.string() + ": cannot open for writing");
    out.write(prepared.header.data(), static_cast<std::streamsize>(prepared.header.size()));
    for (const TensorToWrite* t : prepared.order) {
      out.write(reinterpret_cast<const char*>(t->data.data()), static_cast<std::streamsize>(t->data.size()));
    }
    out.close();
    if (!out) throw IoError(path.string() + ": write failed (disk full?)");
  });
}

ShardedWriteResult write_safetensors_sharded(const fs::path& dir, std::vector<TensorToWrite> tensors,
                                             uint64_t max_shard_bytes, const SafetensorsMetadata& metadata,
                                             const std::string& stem) {
  if (max_shard_bytes == 0) throw ConfigError("safetensors writer: max shard size must be positive");
  check_tensors(tensors);
  std::vector<std::vector<TensorToWrite>> shards;
  uint64_t current = 0;
  for (auto& t : tensors) {
    const uint64_t n = t.data.size();
    if (shards.empty() || (current + n > max_shard_bytes && current > 0)) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(std::move(t));
    current += n;
  }
  if (shards.empty()) shards.emplace_back();

  ShardedWriteResult result;
  if (shards.size() == 1) {
    result.files.push_back(dir / (stem + ".safetensors"));
    write_safetensors(result.files.back(), std::move(shards[0]), metadata);
    return result;
  }
  json weight_map(json::value_t::object);
  uint64_t total = 0;
  char name[64];
  for (size_t i = 0; i < shards.size(); ++i) {
    std::snprintf(name, sizeof(name), "-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    const std::string file = stem + name;
    for (const auto& t : shards[i]) {
      weight_map[t.name] = file;
      total += t.data.size();
    }
    result.files.push_back(dir / file);
    write_safetensors(result.files.back(), std::move(shards[i]), metadata);
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  result.index = dir / (stem + ".safetensors.index.json");
  common::write_file_atomically(*result.index, index.dump(2) + "\n");
  return result;
}

// ================================================================================================
// conversions
// ================================================================================================

namespace {

template <typename T>
void convert(const std::byte* src, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    out[i] = static_cast<float>(v);
  }
}

}  // namespace

void to_f32(const TensorView& t, std::span<float> out) {
  const size_t n = static_cast<size_t>(t.numel());
  if (out.size() != n) {
    throw ConfigError("to_f32: output has " + std::to_string(out.size()) + " elements, tensor has " +
                      std::to_string(n));
  }
  if (n == 0) return;  // an empty tensor's data and out.data() may be null, which memcpy may not be given
  const std::byte* p = t.data;
  switch (t.dtype) {
    case Dtype::kF32:
      std::memcpy(out.data(), p, n * 4);
      break;
    case Dtype::kF16:
    case Dtype::kBF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t bits;
        std::memcpy(&bits, p + 2 * i, 2);
        out[i] = t.dtype == Dtype::kF16 ? f16_to_f32(bits) : bf16_to_f32(bits);
      }
      break;
    case Dtype::kF64:
      convert<double>(p, n, out.data());
      break;
    case Dtype::kBool:
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(p[i]) ? 1.0f : 0.0f;
      break;
    case Dtype::kU8:
      convert<uint8_t>(p, n, out.data());
      break;
    case Dtype::kI8:
      convert<int8_t>(p, n, out.data());
      break;
    case Dtype::kI16:
      convert<int16_t>(p, n, out.data());
      break;
    case Dtype::kU16:
      convert<uint16_t>(p, n, out.data());
      break;
    case Dtype::kI32:
      convert<int32_t>(p, n, out.data());
      break;
    case Dtype::kU32:
      convert<uint32_t>(p, n, out.data());
      break;
    case Dtype::kI64:
      convert<int64_t>(p, n, out.data());
      break;
    case Dtype::kU64:
      convert<uint64_t>(p, n, out.data());
      break;
    case Dtype::kF8E5M2:
    case Dtype::kF8E4M3:
      throw InputError("to_f32",
                       std::string("conversion from ") + std::string(dtype_name(t.dtype)) + " is not supported");
  }
}

std::vector<float> to_f32(const TensorView& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  to_f32(t, out);
  return out;
}

}  // namespace attune::io
