// safetensors: Hugging Face's tensor file format, read through a read-only memory map and written
// atomically. Format (https://github.com/huggingface/safetensors):
//
//   8 bytes   N, little-endian u64: the header length
//   N bytes   UTF-8 JSON object {"NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [BEGIN, END]}, ...,
//             "__metadata__": {"key": "value"}} (offsets relative to the data section; padded with spaces)
//   rest      the data section: every tensor's bytes, row-major, little-endian, packed without gaps
//
// Reading validates everything before a tensor is handed out (see docs/model-files.md): a file that
// opens is safe to index. Sharded checkpoints (`model.safetensors.index.json`) load through
// SafetensorsCheckpoint, which presents all shards as one name -> tensor map.
//
//   auto file = attune::io::SafetensorsFile::open("model.safetensors");
//   const auto& w = file.tensor("model.embed_tokens.weight");   // w.dtype, w.shape, w.data, w.nbytes
//   std::vector<float> f = attune::io::to_f32(w);                // F16/BF16/F32/... -> float
//
// Ownership: a SafetensorsFile owns its mapping (move-only); TensorViews point into it and stay valid
// while the file object (or the checkpoint holding it) lives, including after it is moved.
// Thread-safety: a loaded file is immutable and may be read from many threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/float16.h"

namespace attune::io {

// Element types. The order is the reference implementation's (ascending alignment), which its writer
// uses to lay tensors out: descending dtype, then name.
enum class Dtype : uint8_t {
  kBool,
  kU8,
  kI8,
  kF8E5M2,
  kF8E4M3,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kF64,
  kI64,
  kU64
};

// "F32", "BF16", ... as written in the header.
std::string_view dtype_name(Dtype dtype);
// Parses a header dtype name; nullopt when it is not one of the names above.
std::optional<Dtype> parse_dtype(std::string_view name);
// Bytes per element.
size_t dtype_size(Dtype dtype);

// A tensor inside a mapped file (or any byte buffer): dtype, shape and where its bytes are.
struct TensorView {
  Dtype dtype = Dtype::kF32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;
  size_t nbytes = 0;

  int64_t numel() const;
  std::span<const std::byte> bytes() const { return {data, nbytes}; }
};

// String-to-string metadata kept in the header under "__metadata__".
using SafetensorsMetadata = std::map<std::string, std::string>;

// The largest header accepted (the reference implementation's limit).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// One .safetensors file, memory-mapped read-only.
class SafetensorsFile {
 public:
  // Maps and validates the file; throws InputError naming the file and the problem.
  static SafetensorsFile open(const std::filesystem::path& path);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::filesystem::path& path() const;
  // Tensor names in file order (ascending data offset).
  const std::vector<std::string>& names() const;
  size_t size() const { return names().size(); }
  // nullptr when absent.
  const TensorView* find(std::string_view name) const;
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  // Throws InputError ("PATH: no tensor named NAME") when absent.
  const TensorView& tensor(std::string_view name) const;
  const SafetensorsMetadata& metadata() const;
  uint64_t file_size() const;
  uint64_t header_size() const;  // N, the JSON header length (padding included)

 private:
  struct Impl;
  explicit SafetensorsFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ---- sharded checkpoints ----------------------------------------------------------------------

inline constexpr const char* kSafetensorsIndexName = "model.safetensors.index.json";
inline constexpr const char* kSafetensorsSingleName = "model.safetensors";

// All tensors of a checkpoint: a single file, or the shards listed by an index file's weight_map.
class SafetensorsCheckpoint {
 public:
  // `path` is a .safetensors file, a *.safetensors.index.json, or a directory holding
  // model.safetensors or (when that is absent, as transformers looks) model.safetensors.index.json.
  // With an index, every listed shard must exist and every listed tensor must be in the shard named
  // for it; otherwise InputError.
  static SafetensorsCheckpoint open(const std::filesystem::path& path);

  // Tensor names, sorted.
  const std::vector<std::string>& names() const { return names_; }
  size_t size() const { return names_.size(); }
  const TensorView* find(std::string_view name) const;
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  const TensorView& tensor(std::string_view name) const;
  // The file that holds `name` (throws like tensor()).
  const SafetensorsFile& file_of(std::string_view name) const;
  const std::vector<SafetensorsFile>& files() const { return files_; }
  // The index file, when the checkpoint has one.
  const std::optional<std::filesystem::path>& index_path() const { return index_path_; }
  // The index's metadata.total_size, when given.
  std::optional<uint64_t> index_total_size() const { return index_total_size_; }
  // Tensors present in a shard but not listed in the index's weight_map (ignored, like HF does).
  const std::vector<std::string>& unlisted() const { return unlisted_; }
  // Sum of all tensors' byte sizes.
  uint64_t total_bytes() const;

 private:
  struct Entry {
    size_t file = 0;
    const TensorView* view = nullptr;
  };
  std::vector<SafetensorsFile> files_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::vector<std::string> names_;
  std::vector<std::string> unlisted_;
  std::optional<std::filesystem::path> index_path_;
  std::optional<uint64_t> index_total_size_;
};

// ---- writing ----------------------------------------------------------------------------------

// A tensor to write: the bytes are borrowed and must stay alive during the call.
struct TensorToWrite {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<int64_t> shape;
  std::span<const std::byte> data;
};

// The file's bytes as the reference implementation lays them out: tensors sorted by descending
// dtype then name, packed, header JSON compact and padded with spaces to a multiple of 8 (so every
// tensor starts 8-byte aligned). Throws ConfigError for an empty, duplicate or reserved name, or
// bytes that do not match shape x dtype.
std::string serialize_safetensors(std::vector<TensorToWrite> tensors, const SafetensorsMetadata& metadata = {});

// Writes the same bytes to `path` through a temporary file and a rename.
void write_safetensors(const std::filesystem::path& path, std::vector<TensorToWrite> tensors,
                       const SafetensorsMetadata& metadata = {});

struct ShardedWriteResult {
  std::vector<std::filesystem::path> files;  // in shard order
  std::optional<std::filesystem::path> index;
};

// Writes a checkpoint into `dir` the way transformers does: tensors taken in the given order and
// split into shards of at most `max_shard_bytes` (a bigger tensor gets a shard of its own), named
// "<stem>-00001-of-0000N.safetensors", plus "<stem>.safetensors.index.json" (weight_map and
// metadata.total_size). One shard only: "<stem>.safetensors" and no index. Each file is written
// atomically; the index is written last.
ShardedWriteResult write_safetensors_sharded(const std::filesystem::path& dir, std::vector<TensorToWrite> tensors,
                                             uint64_t max_shard_bytes, const SafetensorsMetadata& metadata = {},
                                             const std::string& stem = "model");

// ---- conversions ------------------------------------------------------------------------------

// common/float16.h: round to nearest even; NaN stays NaN, overflow becomes infinity.
using common::bf16_to_f32;
using common::f16_to_f32;
using common::f32_to_bf16;
using common::f32_to_f16;

// The tensor's values as floats (every dtype except the FP8 ones; integers converted by value).
// Throws InputError for FP8 dtypes. Safe for unaligned data.
std::vector<float> to_f32(const TensorView& tensor);
// Same, into `out` (out.size() must equal numel()).
void to_f32(const TensorView& tensor, std::span<float> out);

}  // namespace attune::io
