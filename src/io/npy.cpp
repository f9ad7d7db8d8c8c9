#include "io/npy.h"

#include <zlib.h>

#include <cstring>
#include <regex>

#include "attune/error.h"
#include "common/file_util.h"

namespace attune::io {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

uint16_t le16(const char* p) { return static_cast<uint16_t>(uint8_t(p[0]) | uint8_t(p[1]) << 8); }
uint32_t le32(const char* p) { return le16(p) | static_cast<uint32_t>(le16(p + 2)) << 16; }
uint64_t le64(const char* p) { return le32(p) | static_cast<uint64_t>(le32(p + 4)) << 32; }

template <typename T>
void convert(const char* data, int64_t n, std::vector<double>& out) {
  out.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, data + i * sizeof(T), sizeof(T));
    out[static_cast<size_t>(i)] = static_cast<double>(v);
  }
}

// Inflates a raw deflate stream of known output size.
std::string inflate_raw(const char* data, size_t size, size_t out_size, const std::string& name) {
  std::string out(out_size, '\0');
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) throw InputError(name, "zlib initialisation failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  zs.avail_in = static_cast<uInt>(size);
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out_size);
  int rc = inflate(&zs, Z_FINISH);
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || zs.total_out != out_size) throw InputError(name, "corrupt deflate data");
  return out;
}

}  // namespace

int64_t NpyArray::size() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string encode_npy(const std::vector<int64_t>& shape, const float* values) {
  // Python tuple syntax: "(80, 1100)", "(5,)", "()".
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dims += ",";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad so that magic + version + length + header is a multiple of 64, ending in '\n'.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::string bytes(kMagic, 6);
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(values), static_cast<size_t>(n) * sizeof(float));
  return bytes;
}

void write_npy(const std::filesystem::path& path, const std::vector<int64_t>& shape, const float* values) {
  common::write_file_atomically(path, encode_npy(shape, values));
}

NpyArray parse_npy(const std::string& bytes, const std::string& name) {
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0) throw InputError(name, "not a .npy file (bad magic)");
  int major = static_cast<uint8_t>(bytes[6]);
  size_t header_len, offset;
  if (major == 1) {
    header_len = le16(bytes.data() + 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw InputError(name, "truncated .npy header");
    header_len = le32(bytes.data() + 8);
    offset = 12;
  } else {
    throw InputError(name, "unsupported .npy version " + std::to_string(major));
  }
  if (offset + header_len > bytes.size()) throw InputError(name, "truncated .npy header");
  std::string header = bytes.substr(offset, header_len);
  std::smatch m;
  NpyArray array;
  if (!std::regex_search(header, m, std::regex("'descr':\\s*'([^']+)'"))) throw InputError(name, "no descr in header");
  array.dtype = m[1];
  if (std::regex_search(header, m, std::regex("'fortran_order':\\s*True"))) {
    throw InputError(name, "Fortran-order arrays are not supported");
  }
  if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)"))) throw InputError(name, "no shape");
  std::string dims = m[1];
  std::regex num("\\d+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it) {
    array.shape.push_back(std::stoll(it->str()));
  }
  int64_t n = array.size();
  const char* data = bytes.data() + offset + header_len;
  size_t available = bytes.size() - offset - header_len;
  auto need = [&](size_t item) {
    if (static_cast<size_t>(n) * item > available) throw InputError(name, "data shorter than its shape says");
  };
  if (array.dtype == "<f4") {
    need(4), convert<float>(data, n, array.values);
  } else if (array.dtype == "<f8") {
    need(8), convert<double>(data, n, array.values);
  } else if (array.dtype == "<i4") {
    need(4), convert<int32_t>(data, n, array.values);
  } else if (array.dtype == "<i8") {
    need(8), convert<int64_t>(data, n, array.values);
  } else {
    throw InputError(name, "unsupported dtype '" + array.dtype + "' (expected <f4, <f8, <i4 or <i8)");
  }
  return array;
}

NpyArray read_npy(const std::filesystem::path& path) { return parse_npy(common::read_file(path), path.string()); }

std::map<std::string, NpyArray> read_npz(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::string zip = common::read_file(path);
  // Find the end-of-central-directory record (it sits in the last 64 KiB + 22 bytes).
  size_t eocd = std::string::npos;
  for (size_t i = zip.size() >= 22 ? zip.size() - 22 : std::string::npos; i != std::string::npos; --i) {
    if (le32(zip.data() + i) == 0x06054b50) {
      eocd = i;
      break;
    }
    if (i == 0 || zip.size() - i > 65557) break;
  }
  if (eocd == std::string::npos) throw InputError(name, "not a .npz (zip) archive");
  uint16_t entries = le16(zip.data() + eocd + 10);
  size_t pos = le32(zip.data() + eocd + 16);
  std::map<std::string, NpyArray> arrays;
  for (uint16_t e = 0; e < entries; ++e) {
    if (pos + 46 > zip.size() || le32(zip.data() + pos) != 0x02014b50) throw InputError(name, "corrupt zip directory");
    const char* cd = zip.data() + pos;
    uint16_t method = le16(cd + 10);
    uint64_t comp_size = le32(cd + 20), size = le32(cd + 24), local = le32(cd + 42);
    uint16_t name_len = le16(cd + 28), extra_len = le16(cd + 30), comment_len = le16(cd + 32);
    if (pos + 46 + name_len + extra_len > zip.size()) throw InputError(name, "corrupt zip directory");
    std::string member(cd + 46, name_len);
    // Zip64: the real sizes/offset follow in extra field 0x0001, in this order, for each field at 0xFFFFFFFF.
    for (size_t x = 0; x + 4 <= extra_len;) {
      const char* ex = cd + 46 + name_len + x;
      uint16_t id = le16(ex), len = le16(ex + 2);
      if (id == 0x0001) {
        size_t f = 4;
        if (size == 0xFFFFFFFF && f + 8 <= 4u + len) size = le64(ex + f), f += 8;
        if (comp_size == 0xFFFFFFFF && f + 8 <= 4u + len) comp_size = le64(ex + f), f += 8;
        if (local == 0xFFFFFFFF && f + 8 <= 4u + len) local = le64(ex + f);
      }
      x += 4u + len;
    }
    pos += 46u + name_len + extra_len + comment_len;
    if (local + 30 > zip.size() || le32(zip.data() + local) != 0x04034b50) throw InputError(name, "corrupt zip entry");
    size_t data = local + 30 + le16(zip.data() + local + 26) + le16(zip.data() + local + 28);
    if (data + comp_size > zip.size() || size > (uint64_t(1) << 32)) throw InputError(name, "zip entry out of range");
    std::string bytes;
    if (method == 0) {
      bytes = zip.substr(data, comp_size);
    } else if (method == 8) {
      bytes = inflate_raw(zip.data() + data, comp_size, size, name + ":" + member);
    } else {
      throw InputError(name, member + ": unsupported zip compression method " + std::to_string(method));
    }
    if (member.size() > 4 && member.ends_with(".npy")) member.resize(member.size() - 4);
    arrays[member] = parse_npy(bytes, name + ":" + member);
  }
  return arrays;
}

}  // namespace attune::io
