#include "common/file_util.h"

#include <unistd.h>

#include <fstream>
#include <random>

#include "attune/error.h"

namespace fs = std::filesystem;

namespace attune::common {

void require_regular_file(const fs::path& path) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw InputError(path.string(), "no such file");
  if (fs::is_directory(status)) throw InputError(path.string(), "is a directory, expected a file");
  if (!fs::is_regular_file(status)) throw InputError(path.string(), "is not a regular file");
}

std::string read_file(const fs::path& path, size_t max_bytes) {
  require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string(), "cannot open for reading");
  in.seekg(0, std::ios::end);
  auto size = static_cast<size_t>(in.tellg());
  if (size > max_bytes) {
    throw InputError(path.string(),
                     "file is " + std::to_string(size) + " bytes, more than the limit of " + std::to_string(max_bytes));
  }
  in.seekg(0);
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (!in) throw InputError(path.string(), "read failed");
  return bytes;
}

void write_atomically(const fs::path& path, const std::function<void(const fs::path& tmp)>& write) {
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw IoError(path.string() + ": directory " + dir.string() + " does not exist");
  std::random_device rd;
  fs::path tmp = dir / ("." + path.filename().string() + ".tmp" + std::to_string(::getpid()) + "_" +
                        std::to_string(rd() % 1000000));
  try {
    write(tmp);
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw IoError(path.string() + ": cannot rename the finished temporary file into place: " + ec.message());
  }
}

void write_file_atomically(const fs::path& path, const std::string& bytes) {
  write_atomically(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError(tmp.string() + ": cannot open for writing");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw IoError(path.string() + ": write failed (disk full?)");
  });
}

}  // namespace attune::common
