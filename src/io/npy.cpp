#include "io/npy.h"

#include <zlib.h>

#include <cstring>
#include <string_view>

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

// The text after `'key':` in a .npy header dict (a Python literal), with the spaces skipped. A plain
// scan: a regex recursing once per character overflows the stack on a long crafted header.
std::string_view header_value(std::string_view header, const std::string& key, const std::string& name) {
  const std::string quoted = "'" + key + "'";
  size_t at = header.find(quoted);
  if (at == std::string_view::npos) throw InputError(name, "no '" + key + "' in the .npy header");
  std::string_view rest = header.substr(at + quoted.size());
  auto skip_spaces = [&] {
    while (!rest.empty() && (rest[0] == ' ' || rest[0] == '\t')) rest.remove_prefix(1);
  };
  skip_spaces();
  if (rest.empty() || rest[0] != ':') throw InputError(name, "no ':' after '" + key + "' in the .npy header");
  rest.remove_prefix(1);
  skip_spaces();
  return rest;
}

// "(2, 3)", "(5,)" or "()": each dimension and their product must fit in `available` bytes, so
// nothing sized by the header can overflow or exceed the file.
std::vector<int64_t> parse_shape(std::string_view text, size_t available, const std::string& name) {
  if (text.empty() || text[0] != '(' || text.find(')') == std::string_view::npos) {
    throw InputError(name, "'shape' in the .npy header is not a tuple");
  }
  text = text.substr(1, text.find(')') - 1);
  std::vector<int64_t> shape;
  uint64_t product = 1;
  for (size_t i = 0; i < text.size();) {
    if (text[i] < '0' || text[i] > '9') {
      if (text[i] != ',' && text[i] != ' ') throw InputError(name, "'shape' holds something other than integers");
      ++i;
      continue;
    }
    uint64_t dim = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      dim = dim * 10 + static_cast<uint64_t>(text[i] - '0');
      if (dim > available) throw InputError(name, "a 'shape' dimension exceeds the file's size");
    }
    if (dim != 0 && product > available / dim) throw InputError(name, "'shape' holds more values than the file");
    product *= dim;
    shape.push_back(static_cast<int64_t>(dim));
  }
  return shape;
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
  if (header_len > bytes.size() - offset) throw InputError(name, "truncated .npy header");
  const std::string_view header(bytes.data() + offset, header_len);
  NpyArray array;
  std::string_view descr = header_value(header, "descr", name);
  if (descr.empty() || descr[0] != '\'' || descr.find('\'', 1) == std::string_view::npos) {
    throw InputError(name, "'descr' in the header is not a quoted string");
  }
  array.dtype = std::string(descr.substr(1, descr.find('\'', 1) - 1));
  if (header_value(header, "fortran_order", name).starts_with("True")) {
    throw InputError(name, "Fortran-order arrays are not supported");
  }
  const char* data = bytes.data() + offset + header_len;
  size_t available = bytes.size() - offset - header_len;
  array.shape = parse_shape(header_value(header, "shape", name), available, name);
  int64_t n = array.size();
  auto need = [&](size_t item) {
    if (static_cast<size_t>(n) > available / item) throw InputError(name, "data shorter than its shape says");
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
      if (len > extra_len - x - 4) throw InputError(name, member + ": zip extra field runs past its record");
      if (id == 0x0001) {
        size_t f = 4;
        if (size == 0xFFFFFFFF && f + 8 <= 4u + len) size = le64(ex + f), f += 8;
        if (comp_size == 0xFFFFFFFF && f + 8 <= 4u + len) comp_size = le64(ex + f), f += 8;
        if (local == 0xFFFFFFFF && f + 8 <= 4u + len) local = le64(ex + f);
      }
      x += 4u + len;
    }
    pos += 46u + name_len + extra_len + comment_len;
    // Every offset and size below comes from the file: compared by subtraction, so none can wrap.
    if (local > zip.size() || zip.size() - local < 30 || le32(zip.data() + local) != 0x04034b50) {
      throw InputError(name, member + ": corrupt zip entry");
    }
    uint64_t data = local + 30 + le16(zip.data() + local + 26) + le16(zip.data() + local + 28);
    if (data > zip.size() || comp_size > zip.size() - data) throw InputError(name, member + ": zip entry out of range");
    // Deflate expands at most ~1032:1, so a larger claimed size is a lie (or a bomb): refuse it
    // before allocating. inflate's counters are 32-bit.
    if (size >= (uint64_t(1) << 32) || (method == 8 && size > comp_size * 1032 + 1024) ||
        (method == 0 && size != comp_size)) {
      throw InputError(name, member + ": zip entry claims " + std::to_string(size) + " bytes from " +
                                 std::to_string(comp_size) + " stored");
    }
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
