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

TEST(Npy, ReadsWhispersCompressedNpz) {
  ATTUNE_REQUIRE_SHARED(shared);
  auto arrays = read_npz(shared / "fixtures/whisper/mel_filters.npz");
  ASSERT_EQ(arrays.size(), 2u);
  EXPECT_EQ(arrays.at("mel_80").shape, (std::vector<int64_t>{80, 201}));
  EXPECT_EQ(arrays.at("mel_128").shape, (std::vector<int64_t>{128, 201}));
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

}  // namespace
}  // namespace attune::io
