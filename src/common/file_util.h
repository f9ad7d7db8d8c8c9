// Small file helpers shared by every module: atomic writes, whole-file reads with clear errors.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace attune::common {

// Reads a whole regular file; throws InputError naming the path when it is missing, a directory,
// unreadable, or larger than max_bytes.
std::string read_file(const std::filesystem::path& path, size_t max_bytes = size_t(1) << 30);

// Writes through a temporary file in the same directory and renames it over `path` only when
// `write` returned normally, so readers never see a half-written file. `write` gets the temp path.
void write_atomically(const std::filesystem::path& path,
                      const std::function<void(const std::filesystem::path& tmp)>& write);

// write_atomically for in-memory bytes.
void write_file_atomically(const std::filesystem::path& path, const std::string& bytes);

// Throws InputError unless `path` exists and is a regular file (not a directory).
void require_regular_file(const std::filesystem::path& path);

}  // namespace attune::common
