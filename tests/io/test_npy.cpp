#include <gtest/gtest.h>

#include "attune/error.h"
#include "io/npy.h"
#include "support/test_support.h"

namespace attune::io {
namespace {

TEST(Npy, HeaderMatchesTheNumpyFormatSpec) {
  // Hand-derived from the .npy v1.0 spec: magic, version 1.0, little-endian header length, dict
  // padded with spaces so the data starts at a multiple of 64, ending in '\n'.
  float v[6] = {1, 2, 3, 4, 5, 6};
  std::string bytes = encode_npy({2, 3}, v);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  size_t header_len = static_cast<uint8_t>(bytes[8]) | static_cast<uint8_t>(bytes[9]) << 8;
  EXPECT_EQ((10 + header_len) % 64, 0u);
  std::string header = bytes.substr(10, header_len);
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0), 0u) << header;
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(bytes.size(), 10 + header_len + 24);
  EXPECT_NE(encode_npy({5}, v).find("'shape': (5,)"), std::string::npos);
}

TEST(Npy, RoundTrips) {
  testing::TempDir dir;
  float v[4] = {0.5f, -1.25f, 3e-8f, 7.0f};
  write_npy(dir / "a.npy", {4}, v);
  NpyArray a = read_npy(dir / "a.npy");
  EXPECT_EQ(a.shape, std::vector<int64_t>{4});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(static_cast<float>(a.values[i]), v[i]);
}

// numpy.savez_compressed's output, the format of Whisper's mel_filters.npz (and, with ../shared, that file).
TEST(Npy, ReadsNumpysCompressedNpz) {
  std::vector<std::filesystem::path> files = {testing::fixtures_dir() / "mel_filters_slaney.npz"};
  if (auto shared = testing::shared_dir()) files.push_back(*shared / "fixtures/whisper/mel_filters.npz");
  for (const auto& file : files) {
    auto arrays = read_npz(file);
    ASSERT_EQ(arrays.size(), 2u) << file;
    EXPECT_EQ(arrays.at("mel_80").shape, (std::vector<int64_t>{80, 201}));
    EXPECT_EQ(arrays.at("mel_128").shape, (std::vector<int64_t>{128, 201}));
  }
}

TEST(Npy, RejectsMalformedFiles) {
  testing::TempDir dir;
  testing::write_bytes(dir / "bad.npy", "not numpy");
  EXPECT_THROW(read_npy(dir / "bad.npy"), InputError);
  float v[4] = {};
  std::string bytes = encode_npy({4}, v);
  testing::write_bytes(dir / "short.npy", bytes.substr(0, bytes.size() - 3));
  EXPECT_THROW(read_npy(dir / "short.npy"), InputError);
  testing::write_bytes(dir / "bad.npz", "PK garbage");
  EXPECT_THROW(read_npz(dir / "bad.npz"), InputError);
}

// A .npy v2 file with the given header dict text, padded and followed by `data`.
std::string npy_v2(const std::string& dict, const std::string& data) {
  std::string header = dict + "\n";
  std::string bytes("\x93NUMPY\x02\x00", 8);
  for (int i = 0; i < 4; ++i) bytes += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return bytes + header + data;
}

void expect_input_error(const std::string& bytes, const std::string& what) {
  try {
    parse_npy(bytes, "crafted.npy");
    ADD_FAILURE() << "accepted: " << what;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("crafted.npy"), std::string::npos) << e.what();
  }
}

TEST(Npy, CraftedHeadersGiveOneLineErrors) {
  // A 4 MB quoted descr: a recursive regex overflowed the stack on this.
  expect_input_error(
      npy_v2("{'descr': '" + std::string(4 << 20, 'f') + "', 'fortran_order': False, 'shape': (1,), }", "abcd"),
      "a huge descr");
  expect_input_error(npy_v2("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", ""),
                     "a dimension past int64");
  // 2^32 x 2^32 wraps to 0 in 64 bits; it must be refused, not read as an empty array.
  expect_input_error(npy_v2("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "abcd"),
                     "a product that wraps");
  expect_input_error(npy_v2("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", "abcd"), "4 bytes for an f8");
  expect_input_error(npy_v2("{'descr': '<f4', 'fortran_order': False, 'shape': (1, x), }", "abcd"), "a non-integer");
  expect_input_error(npy_v2("{'descr': <f4, 'shape': (1,), }", "abcd"), "an unquoted descr");
  expect_input_error(npy_v2("{'descr': '<f4', 'fortran_order': False}", "abcd"), "no shape");
  std::string v2_len_past_end = npy_v2("{'descr': '<f4', 'shape': (1,), }", "abcd");
  v2_len_past_end[11] = '\x7f';
  expect_input_error(v2_len_past_end, "a header length past the end");
  // The scan still reads what numpy writes, with its spaces, in v2 as in v1.
  NpyArray ok = parse_npy(npy_v2("{'descr':'<i4', 'fortran_order' : False, 'shape': ( 2 , ), }",
                                 std::string("\x01\x00\x00\x00\x02\x00\x00\x00", 8)),
                          "ok.npy");
  EXPECT_EQ(ok.shape, std::vector<int64_t>{2});
  EXPECT_EQ(ok.values, (std::vector<double>{1, 2}));
}

// A one-member zip, stored or deflate-flagged, whose central directory claims `size` bytes and an
// extra field of `extra` (as given).
std::string one_member_zip(uint16_t method, uint32_t size, const std::string& payload, const std::string& extra = "") {
  auto le = [](uint64_t v, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
    return s;
  };
  const std::string member = "a.npy";
  std::string local = le(0x04034b50, 4) + le(20, 2) + le(0, 2) + le(method, 2) + le(0, 4) + le(0, 4) +
                      le(payload.size(), 4) + le(size, 4) + le(member.size(), 2) + le(0, 2) + member + payload;
  std::string central = le(0x02014b50, 4) + le(20, 2) + le(20, 2) + le(0, 2) + le(method, 2) + le(0, 4) + le(0, 4) +
                        le(payload.size(), 4) + le(size, 4) + le(member.size(), 2) + le(extra.size(), 2) + le(0, 2) +
                        le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4) + member + extra;
  std::string eocd = le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(1, 2) + le(1, 2) + le(central.size(), 4) +
                     le(local.size(), 4) + le(0, 2);
  return local + central + eocd;
}

TEST(Npy, CraftedNpzSizesAreCheckedBeforeAllocating) {
  testing::TempDir dir;
  float v[2] = {1.5f, -2.0f};
  const std::string npy = encode_npy({2}, v);
  testing::write_bytes(dir / "ok.npz", one_member_zip(0, npy.size(), npy));
  EXPECT_EQ(read_npz(dir / "ok.npz").at("a").values, (std::vector<double>{1.5, -2.0}));
  auto expect_refused = [&](const std::string& zip, const std::string& what) {
    testing::write_bytes(dir / "bad.npz", zip);
    EXPECT_THROW(read_npz(dir / "bad.npz"), InputError) << what;
  };
  // 3 GB claimed from 20 deflated bytes: refused from the ratio, not allocated.
  expect_refused(one_member_zip(8, 3u << 30, std::string(20, 'x')), "a deflate bomb");
  expect_refused(one_member_zip(0, 1u << 20, npy), "a stored size unlike its stored bytes");
  // Zip64 extra field: local offset 2^64 - 8 wrapped past the bounds check before.
  std::string zip64 = std::string("\x01\x00\x08\x00", 4) + std::string(8, '\xff');
  std::string wrapped = one_member_zip(0, npy.size(), npy, zip64);
  size_t cd = wrapped.find("PK\x01\x02");
  wrapped.replace(cd + 42, 4, std::string(4, '\xff'));
  expect_refused(wrapped, "a zip64 offset that wraps");
  // An extra field claiming 60000 bytes inside a 4-byte extra area.
  expect_refused(one_member_zip(0, npy.size(), npy, std::string("\x01\x00\x60\xea", 4)),
                 "an extra field past its record");
}

}  // namespace
}  // namespace attune::io
