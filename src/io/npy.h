// NumPy .npy and .npz files: the exchange format for features and reference fixtures.
// Reads v1/v2/v3 headers with little-endian float32/float64/int32/int64 data in C order; .npz
// archives may be stored or deflated (as np.savez / np.savez_compressed write them).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace attune::io {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<double> values;  // converted to double whatever the stored dtype, C order
  std::string dtype;           // as stored, e.g. "<f4"
  int64_t size() const;
};

// Writes a float32 array of the given shape atomically; values.size() must equal the shape's product.
void write_npy(const std::filesystem::path& path, const std::vector<int64_t>& shape, const float* values);

// Serialises a float32 array to .npy bytes.
std::string encode_npy(const std::vector<int64_t>& shape, const float* values);

NpyArray read_npy(const std::filesystem::path& path);
// Parses .npy bytes; `name` is used in error messages.
NpyArray parse_npy(const std::string& bytes, const std::string& name);

// Every member of an .npz archive, keyed by name without the ".npy" suffix.
std::map<std::string, NpyArray> read_npz(const std::filesystem::path& path);

}  // namespace attune::io
