// safetensors reader/writer. The references are independent of our writer: byte strings built by
// hand from the published format (8-byte LE length, JSON header, data), and the exact bytes the
// reference Rust implementation's own tests expect from its serializer (safetensors/src/tensor.rs,
// test_serialization / test_empty / test_serialization_forced_alignement).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "attune/error.h"
#include "io/safetensors.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using attune::InputError;
using attune::testing::TempDir;
using attune::testing::write_bytes;
using namespace attune::io;
using ::testing::HasSubstr;

namespace {

std::string le64(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

// A file from a header text and a data section, exactly as given (no padding added).
std::string file_bytes(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

template <typename T>
std::string raw_bytes(std::initializer_list<T> values) {
  std::string out;
  for (T v : values) out.append(reinterpret_cast<const char*>(&v), sizeof(T));
  return out;
}

std::span<const std::byte> span_of(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::string bytes_of(const TensorView& t) { return std::string(reinterpret_cast<const char*>(t.data), t.nbytes); }

// Expects SafetensorsFile::open to throw InputError whose message names the file and contains `what`.
void expect_rejected(const fs::path& path, const std::string& what) {
  try {
    SafetensorsFile::open(path);
    FAIL() << path << " was accepted; expected an error containing \"" << what << "\"";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr(path.string())) << e.what();
    EXPECT_THAT(e.what(), HasSubstr(what)) << e.what();
  }
}

void expect_rejected_bytes(const std::string& bytes, const std::string& what) {
  TempDir dir;
  fs::path p = dir / "bad.safetensors";
  write_bytes(p, bytes);
  SCOPED_TRACE(what);
  expect_rejected(p, what);
}

std::string f32_header_entry(const std::string& name, const std::string& shape, uint64_t b, uint64_t e) {
  return "\"" + name + "\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[" + std::to_string(b) + "," +
         std::to_string(e) + "]}";
}

}  // namespace

// ---- dtypes -------------------------------------------------------------------------------------

TEST(SafetensorsDtype, NamesAndSizesFollowTheFormat) {
  const std::vector<std::tuple<const char*, size_t>> expected = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8}};
  for (auto [name, size] : expected) {
    auto d = parse_dtype(name);
    ASSERT_TRUE(d) << name;
    EXPECT_EQ(dtype_name(*d), name);
    EXPECT_EQ(dtype_size(*d), size) << name;
  }
  EXPECT_FALSE(parse_dtype("f32"));
  EXPECT_FALSE(parse_dtype("F128"));
}

// ---- the reference implementation's expected bytes --------------------------------------------

TEST(SafetensorsWriter, MatchesReferenceSerializationBytes) {
  const std::string data = raw_bytes<float>({0, 1, 2, 3, 4, 5});
  // From the reference test: a 64-byte header needs no padding.
  std::string header = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
  ASSERT_EQ(header.size(), 64u);
  EXPECT_EQ(serialize_safetensors({{"attn.0", Dtype::kF32, {1, 2, 3}, span_of(data)}}), file_bytes(header, data));

  // A 65-byte header is padded with 7 spaces to 72, so the data starts 8-byte aligned.
  header = "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}";
  ASSERT_EQ(header.size(), 65u);
  EXPECT_EQ(serialize_safetensors({{"attn0", Dtype::kF32, {1, 1, 2, 3}, span_of(data)}}),
            file_bytes(header + std::string(7, ' '), data));
}

TEST(SafetensorsWriter, MatchesReferenceEmptyFiles) {
  EXPECT_EQ(serialize_safetensors({}), le64(8) + "{}      ");
  EXPECT_EQ(serialize_safetensors({}, {{"framework", "pt"}}),
            le64(40) + "{\"__metadata__\":{\"framework\":\"pt\"}}     ");
  // Both parse back.
  TempDir dir;
  write_safetensors(dir / "e.safetensors", {}, {{"framework", "pt"}});
  auto f = SafetensorsFile::open(dir / "e.safetensors");
  EXPECT_EQ(f.size(), 0u);
  EXPECT_EQ(f.metadata().at("framework"), "pt");
}

// ---- reading hand-built files -------------------------------------------------------------------

TEST(SafetensorsReader, ParsesHandBuiltFile) {
  // Keys in arbitrary order, metadata in the middle, mixed dtypes; data laid out by hand.
  const std::string w = raw_bytes<float>({1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, 7.0f});  // F32 [2,3]
  const std::string ids = raw_bytes<int64_t>({-1, 151643});                         // I64 [2]
  const std::string h = raw_bytes<uint16_t>({0x3c00, 0xc000, 0x7bff});              // F16 [3]: 1, -2, 65504
  const std::string b = raw_bytes<uint16_t>({0x3f80, 0x4049});                      // BF16 [2]: 1, 3.140625
  const std::string data = ids + w + h + b;                                         // offsets 0, 16, 40, 46, 50
  const std::string header =
      "{\"w\": {\"shape\": [2, 3], \"dtype\": \"F32\", \"data_offsets\": [16, 40]},"
      " \"__metadata__\": {\"format\": \"pt\", \"note\": \"hand-built\"},"
      " \"half\": {\"dtype\": \"F16\", \"shape\": [3], \"data_offsets\": [40, 46]},"
      " \"ids\": {\"dtype\": \"I64\", \"shape\": [2], \"data_offsets\": [0, 16]},"
      " \"bf\": {\"dtype\": \"BF16\", \"shape\": [2], \"data_offsets\": [46, 50]}}";
  TempDir dir;
  write_bytes(dir / "m.safetensors", file_bytes(header, data));
  auto f = SafetensorsFile::open(dir / "m.safetensors");

  EXPECT_EQ(f.names(), (std::vector<std::string>{"ids", "w", "half", "bf"}));  // file (offset) order
  EXPECT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.metadata().at("note"), "hand-built");
  EXPECT_EQ(f.header_size(), header.size());
  EXPECT_EQ(f.file_size(), 8 + header.size() + data.size());

  const auto& tw = f.tensor("w");
  EXPECT_EQ(tw.dtype, Dtype::kF32);
  EXPECT_EQ(tw.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(tw.numel(), 6);
  EXPECT_EQ(tw.nbytes, 24u);
  EXPECT_EQ(bytes_of(tw), w);
  EXPECT_EQ(to_f32(tw), (std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, 7.0f}));

  const auto& tids = f.tensor("ids");
  int64_t second;
  std::memcpy(&second, tids.data + 8, 8);
  EXPECT_EQ(second, 151643);
  EXPECT_EQ(to_f32(f.tensor("half")), (std::vector<float>{1.0f, -2.0f, 65504.0f}));
  EXPECT_EQ(to_f32(f.tensor("bf")), (std::vector<float>{1.0f, 3.140625f}));

  EXPECT_EQ(f.find("nope"), nullptr);
  try {
    f.tensor("nope");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("m.safetensors"));
    EXPECT_THAT(e.what(), HasSubstr("no tensor named \"nope\""));
  }
}

TEST(SafetensorsReader, ScalarsAndEmptyTensors) {
  // A 0-d scalar (shape []) holds one element; a tensor with a 0 dim holds none.
  const std::string s = raw_bytes<float>({42.0f});
  const std::string header =
      "{" + f32_header_entry("empty", "[0,4]", 0, 0) + "," + f32_header_entry("scalar", "[]", 0, 4) + "}";
  TempDir dir;
  write_bytes(dir / "s.safetensors", file_bytes(header, s));
  auto f = SafetensorsFile::open(dir / "s.safetensors");
  EXPECT_EQ(f.tensor("scalar").numel(), 1);
  EXPECT_EQ(to_f32(f.tensor("scalar")), std::vector<float>{42.0f});
  EXPECT_EQ(f.tensor("empty").numel(), 0);
  EXPECT_EQ(f.tensor("empty").nbytes, 0u);
  // Converting it copies nothing (its data pointer may be null: the sanitizer job checks the copy).
  EXPECT_TRUE(to_f32(f.tensor("empty")).empty());
  EXPECT_TRUE(to_f32(TensorView{.dtype = Dtype::kF32, .shape = {0}}).empty());
}

TEST(SafetensorsReader, ViewsSurviveMovingTheHandle) {
  TempDir dir;
  const std::string data = raw_bytes<int32_t>({1, 2, 3, 4});
  write_safetensors(dir / "a.safetensors", {{"x", Dtype::kI32, {4}, span_of(data)}});
  auto f = SafetensorsFile::open(dir / "a.safetensors");
  const TensorView* before = f.find("x");
  SafetensorsFile moved = std::move(f);
  EXPECT_EQ(moved.find("x"), before);
  std::vector<SafetensorsFile> files;
  files.push_back(std::move(moved));
  EXPECT_EQ(bytes_of(files[0].tensor("x")), data);
}

// ---- round trips ----------------------------------------------------------------------------------

TEST(SafetensorsWriter, RoundTripsEveryDtypeBitExactly) {
  std::mt19937 rng(1234);
  std::vector<std::string> buffers;
  std::vector<TensorToWrite> tensors;
  const std::vector<int64_t> shape = {3, 5, 7};  // odd sizes, so 1- and 2-byte tensors misalign what follows
  buffers.reserve(15);
  for (int d = 0; d <= static_cast<int>(Dtype::kU64); ++d) {
    Dtype dtype = static_cast<Dtype>(d);
    std::string bytes(105 * dtype_size(dtype), '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
    if (dtype == Dtype::kBool) {
      for (char& c : bytes) c &= 1;
    }
    buffers.push_back(bytes);
    tensors.push_back({"t." + std::string(dtype_name(dtype)), dtype, shape, span_of(buffers.back())});
  }
  TempDir dir;
  write_safetensors(dir / "all.safetensors", tensors, {{"format", "pt"}});
  auto f = SafetensorsFile::open(dir / "all.safetensors");
  ASSERT_EQ(f.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = f.tensor(tensors[i].name);
    EXPECT_EQ(t.dtype, tensors[i].dtype) << tensors[i].name;
    EXPECT_EQ(t.shape, shape);
    EXPECT_EQ(bytes_of(t), buffers[i]) << tensors[i].name;
  }
  // Laid out as the reference does: descending dtype, so every tensor starts aligned to its element size.
  EXPECT_EQ(f.names().front(), "t.U64");
  EXPECT_EQ(f.names().back(), "t.BOOL");
  for (const auto& name : f.names()) {
    const auto& t = f.tensor(name);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % dtype_size(t.dtype), 0u) << name;
  }
  EXPECT_EQ(f.header_size() % 8, 0u);
}

TEST(SafetensorsWriter, SortsByDescendingDtypeThenName) {
  const std::string four(4, 'a'), two(2, 'b'), eight(8, 'c');
  std::string bytes = serialize_safetensors({{"b", Dtype::kF32, {1}, span_of(four)},
                                             {"a", Dtype::kF32, {1}, span_of(four)},
                                             {"z", Dtype::kBF16, {1}, span_of(two)},
                                             {"c", Dtype::kI64, {1}, span_of(eight)}});
  TempDir dir;
  write_bytes(dir / "o.safetensors", bytes);
  auto f = SafetensorsFile::open(dir / "o.safetensors");
  EXPECT_EQ(f.names(), (std::vector<std::string>{"c", "a", "b", "z"}));
  // The header lists tensors in that order, "__metadata__" first when present.
  std::string header = bytes.substr(8, f.header_size());
  EXPECT_LT(header.find("\"c\""), header.find("\"a\""));
  EXPECT_LT(header.find("\"b\""), header.find("\"z\""));
}

TEST(SafetensorsWriter, WritesAtomicallyAndRejectsBadInput) {
  TempDir dir;
  const std::string four(4, 'a');
  auto expect_config_error = [&](std::vector<TensorToWrite> t, const std::string& what) {
    try {
      write_safetensors(dir / "w.safetensors", std::move(t));
      FAIL() << "accepted; expected " << what;
    } catch (const attune::ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr(what));
    }
  };
  expect_config_error({{"x", Dtype::kF32, {2}, span_of(four)}}, "but 4 bytes of data");
  expect_config_error({{"x", Dtype::kF32, {1}, span_of(four)}, {"x", Dtype::kF32, {1}, span_of(four)}},
                      "duplicate tensor name \"x\"");
  expect_config_error({{"__metadata__", Dtype::kF32, {1}, span_of(four)}}, "reserved");
  expect_config_error({{"", Dtype::kF32, {1}, span_of(four)}}, "empty name");
  expect_config_error({{"x", Dtype::kF32, {-1}, span_of(four)}}, "invalid shape");
  // Nothing was left behind: no target, no temporary file.
  EXPECT_TRUE(fs::is_empty(dir.path()));

  // Overwriting an existing file replaces it whole.
  write_safetensors(dir / "w.safetensors", {{"x", Dtype::kF32, {1}, span_of(four)}});
  write_safetensors(dir / "w.safetensors", {{"y", Dtype::kF32, {1}, span_of(four)}});
  auto f = SafetensorsFile::open(dir / "w.safetensors");
  EXPECT_EQ(f.names(), std::vector<std::string>{"y"});
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

// ---- sharded checkpoints ----------------------------------------------------------------------------

TEST(SafetensorsSharded, WritesShardsAndIndexAndReadsThemBack) {
  std::vector<std::string> buffers;
  std::vector<TensorToWrite> tensors;
  buffers.reserve(6);
  for (int i = 0; i < 6; ++i) {
    buffers.push_back(std::string(400, static_cast<char>('a' + i)));  // 100 floats each
    tensors.push_back({"layer." + std::to_string(i) + ".weight", Dtype::kF32, {10, 10}, span_of(buffers.back())});
  }
  TempDir dir;
  // 1000-byte shards hold two 400-byte tensors each: 3 shards.
  auto result = write_safetensors_sharded(dir.path(), tensors, 1000, {{"format", "pt"}});
  ASSERT_EQ(result.files.size(), 3u);
  ASSERT_TRUE(result.index);
  EXPECT_EQ(result.files[0].filename(), "model-00001-of-00003.safetensors");
  EXPECT_EQ(result.files[2].filename(), "model-00003-of-00003.safetensors");
  EXPECT_EQ(result.index->filename(), "model.safetensors.index.json");

  std::ifstream in(*result.index);
  auto index = nlohmann::json::parse(in);
  EXPECT_EQ(index["metadata"]["total_size"], 2400);
  EXPECT_EQ(index["weight_map"]["layer.0.weight"], "model-00001-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["layer.1.weight"], "model-00001-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["layer.5.weight"], "model-00003-of-00003.safetensors");

  for (const fs::path& p : {dir.path(), *result.index}) {
    auto ckpt = SafetensorsCheckpoint::open(p);
    EXPECT_EQ(ckpt.size(), 6u);
    EXPECT_EQ(ckpt.files().size(), 3u);
    EXPECT_EQ(ckpt.total_bytes(), 2400u);
    EXPECT_EQ(ckpt.index_total_size(), 2400u);
    EXPECT_TRUE(ckpt.unlisted().empty());
    for (int i = 0; i < 6; ++i) {
      const std::string name = "layer." + std::to_string(i) + ".weight";
      EXPECT_EQ(bytes_of(ckpt.tensor(name)), buffers[i]);
      EXPECT_EQ(ckpt.file_of(name).path().filename(), index["weight_map"][name].get<std::string>());
      EXPECT_EQ(ckpt.file_of(name).metadata().at("format"), "pt");
    }
  }
}

TEST(SafetensorsSharded, BigTensorGetsItsOwnShardAndOneShardMeansNoIndex) {
  std::string small(8, 's'), big(64, 'b');
  TempDir dir;
  auto r = write_safetensors_sharded(dir.path(),
                                     {{"a", Dtype::kU8, {8}, span_of(small)},
                                      {"big", Dtype::kU8, {64}, span_of(big)},
                                      {"c", Dtype::kU8, {8}, span_of(small)}},
                                     16);
  ASSERT_EQ(r.files.size(), 3u);
  auto ckpt = SafetensorsCheckpoint::open(dir.path());
  EXPECT_EQ(ckpt.file_of("big").names(), std::vector<std::string>{"big"});

  TempDir one;
  auto r1 = write_safetensors_sharded(one.path(), {{"a", Dtype::kU8, {8}, span_of(small)}}, 1 << 20);
  ASSERT_EQ(r1.files.size(), 1u);
  EXPECT_FALSE(r1.index);
  EXPECT_EQ(r1.files[0].filename(), "model.safetensors");
  EXPECT_FALSE(fs::exists(one / "model.safetensors.index.json"));
  auto c1 = SafetensorsCheckpoint::open(one.path());
  EXPECT_EQ(c1.names(), std::vector<std::string>{"a"});
  EXPECT_FALSE(c1.index_path());
}

TEST(SafetensorsSharded, SingleFileWinsOverIndexLikeTransformers) {
  const std::string a(8, 'a'), b(8, 'b');
  TempDir dir;
  write_safetensors_sharded(dir.path(), {{"x", Dtype::kU8, {8}, span_of(a)}, {"y", Dtype::kU8, {8}, span_of(a)}}, 8);
  write_safetensors(dir / "model.safetensors", {{"z", Dtype::kU8, {8}, span_of(b)}});
  EXPECT_EQ(SafetensorsCheckpoint::open(dir.path()).names(), std::vector<std::string>{"z"});
  EXPECT_EQ(SafetensorsCheckpoint::open(dir / "model.safetensors.index.json").names(),
            (std::vector<std::string>{"x", "y"}));
}

TEST(SafetensorsSharded, IndexErrorsNameTheFileAndTheProblem) {
  const std::string four(4, 'x');
  TempDir dir;
  write_safetensors(dir / "model-00001-of-00002.safetensors",
                    {{"a", Dtype::kF32, {1}, span_of(four)}, {"extra", Dtype::kF32, {1}, span_of(four)}});
  const fs::path index = dir / "model.safetensors.index.json";
  auto expect_index_error = [&](const std::string& text, const std::string& what) {
    write_bytes(index, text);
    try {
      SafetensorsCheckpoint::open(dir.path());
      FAIL() << "accepted; expected " << what;
    } catch (const InputError& e) {
      EXPECT_THAT(e.what(), HasSubstr("model.safetensors.index.json"));
      EXPECT_THAT(e.what(), HasSubstr(what));
    }
  };
  expect_index_error(R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                        "b": "model-00002-of-00002.safetensors"}})",
                     "shard \"model-00002-of-00002.safetensors\" (listed for tensor \"b\") does not exist");
  expect_index_error(R"({"weight_map": {"zz": "model-00001-of-00002.safetensors"}})",
                     "tensor \"zz\" is listed in shard \"model-00001-of-00002.safetensors\" but that file has no");
  expect_index_error(R"({"metadata": {}})", "\"weight_map\" is missing");
  expect_index_error(R"({"weight_map": {"a": 3}})", "must be a shard file name");
  expect_index_error(R"({"weight_map": {"a": "../model-00001-of-00002.safetensors"}})", "relative paths inside");
  expect_index_error(R"({"weight_map": )", "not valid JSON");

  // A listed subset is fine; the rest is reported as unlisted.
  write_bytes(index, R"({"metadata": {"total_size": 4}, "weight_map": {"a": "model-00001-of-00002.safetensors"}})");
  auto ckpt = SafetensorsCheckpoint::open(index);
  EXPECT_EQ(ckpt.names(), std::vector<std::string>{"a"});
  EXPECT_EQ(ckpt.unlisted(), std::vector<std::string>{"extra"});
  EXPECT_FALSE(ckpt.contains("extra"));

  TempDir empty;
  try {
    SafetensorsCheckpoint::open(empty.path());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("neither model.safetensors.index.json nor model.safetensors"));
  }
}

// ---- malformed files ----------------------------------------------------------------------------

TEST(SafetensorsMalformed, EmptyAndTooShortFiles) {
  expect_rejected_bytes("", "file is empty");
  expect_rejected_bytes(std::string("\x08\x00\x00", 3), "only 3 bytes");
}

TEST(SafetensorsMalformed, HeaderLengthChecks) {
  // Larger than the file.
  expect_rejected_bytes(le64(100) + "{}", "header length 100 runs past the end of the file (file is 10 bytes");
  // Huge: refused before anything is allocated or read.
  expect_rejected_bytes(le64(uint64_t(1) << 40) + "{}", "exceeds the limit of 100000000 bytes");
  expect_rejected_bytes(le64(~uint64_t(0)), "exceeds the limit");
  expect_rejected_bytes(le64(0), "header is empty");
}

TEST(SafetensorsMalformed, HeaderMustBeAJsonObject) {
  expect_rejected_bytes(file_bytes("{\"a\": ", ""), "header is not valid JSON");
  expect_rejected_bytes(file_bytes("not json at all!", ""), "header is not valid JSON");
  expect_rejected_bytes(file_bytes("[1, 2, 3]", ""), "header must be a JSON object, found array");
  expect_rejected_bytes(file_bytes("{\"a\": \"\xff\xfe\"}", ""), "header is not valid JSON");           // bad UTF-8
  expect_rejected_bytes(file_bytes(std::string("{}\0\0\0\0\0\0", 8), ""), "header is not valid JSON");  // NULs
}

TEST(SafetensorsMalformed, EntryFieldsAreChecked) {
  const std::string four(4, '\0');
  expect_rejected_bytes(file_bytes("{\"x\": 5}", ""), "tensor \"x\": expected an object, found number");
  expect_rejected_bytes(file_bytes("{\"x\": {\"dtype\": \"F32\", \"shape\": [1]}}", four), "missing \"data_offsets\"");
  expect_rejected_bytes(file_bytes("{\"x\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", four),
                        "missing \"shape\"");
  expect_rejected_bytes(file_bytes("{\"x\": {\"dtype\": \"Q4_K\", \"shape\": [1], \"data_offsets\": [0, 4]}}", four),
                        "tensor \"x\": unknown dtype \"Q4_K\" (expected one of BOOL, U8");
  expect_rejected_bytes(file_bytes("{\"x\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", four),
                        "\"shape\" must be an array of non-negative integers");
  expect_rejected_bytes(file_bytes("{\"x\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", four),
                        "\"shape\" must be an array of non-negative integers");
  expect_rejected_bytes(file_bytes("{\"x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", four),
                        "\"data_offsets\" must be [begin, end]");
  expect_rejected_bytes(
      file_bytes(
          "{\"__metadata__\": {\"n\": 1}, \"x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}",
          four),
      "key \"n\" holds a number");
}

TEST(SafetensorsMalformed, HostileValuesGetABoundedMessage) {
  const std::string four(4, '\0');
  // A shape nested 50k deep: described, not dumped (dump() recurses once per level).
  const std::string deep = std::string(50000, '[') + std::string(50000, ']');
  expect_rejected_bytes(
      file_bytes("{\"x\": {\"dtype\": \"F32\", \"shape\": " + deep + ", \"data_offsets\": [0, 4]}}", four),
      "found an array of 1 items nested deeper than 8 levels");
  // A number past double's range is a JSON error of the header, not an uncaught exception.
  expect_rejected_bytes(file_bytes("{\"x\": {\"dtype\": \"F32\", \"shape\": [1e999], \"data_offsets\": [0, 4]}}", four),
                        "header is not valid JSON");
}

TEST(SafetensorsMalformed, ShapeMustMatchByteLength) {
  expect_rejected_bytes(file_bytes("{" + f32_header_entry("x", "[2,3]", 0, 20) + "}", std::string(20, '\0')),
                        "tensor \"x\": shape [2, 3] of F32 needs 24 bytes but data_offsets [0,20] span 20");
  // Overflowing shapes are caught, not wrapped around to a small number.
  expect_rejected_bytes(file_bytes("{" + f32_header_entry("x", "[4294967296,4294967296]", 0, 0) + "}", ""),
                        "overflows 64 bits");
  expect_rejected_bytes(file_bytes("{" + f32_header_entry("x", "[2305843009213693952,8]", 0, 0) + "}", ""),
                        "overflows 64 bits");
}

TEST(SafetensorsMalformed, OffsetsOutOfRangeOverlappingOrGapped) {
  const std::string data(16, '\0');
  expect_rejected_bytes(
      file_bytes("{" + f32_header_entry("x", "[4]", 0, 16) + "," + f32_header_entry("y", "[4]", 16, 32) + "}", data),
      "tensor \"y\": data_offsets [16,32] run past the end of the data section (16 bytes");
  expect_rejected_bytes(file_bytes("{" + f32_header_entry("x", "[0]", 8, 4) + "}", data), "have begin after end");
  expect_rejected_bytes(
      file_bytes("{" + f32_header_entry("a", "[3]", 0, 12) + "," + f32_header_entry("b", "[2]", 8, 16) + "}", data),
      "tensors \"a\" [0, 12) and \"b\" [8, 16) overlap");
  expect_rejected_bytes(
      file_bytes("{" + f32_header_entry("a", "[2]", 0, 8) + "," + f32_header_entry("b", "[1]", 12, 16) + "}", data),
      "tensor \"b\": 4 unused bytes before its data_offsets");
  expect_rejected_bytes(file_bytes("{" + f32_header_entry("a", "[2]", 0, 8) + "}", data),
                        "data section is 16 bytes but the tensors cover 8");
}

TEST(SafetensorsMalformed, TruncatedFile) {
  TempDir dir;
  std::string data(400, 'z');
  write_safetensors(dir / "full.safetensors", {{"w", Dtype::kF32, {10, 10}, span_of(data)}});
  std::ifstream in(dir / "full.safetensors", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const uint64_t header = bytes.size() - 400 - 8;
  write_bytes(dir / "cut.safetensors", bytes.substr(0, bytes.size() - 100));
  expect_rejected(dir / "cut.safetensors", "run past the end of the data section (300 bytes; file truncated?)");
  write_bytes(dir / "cut2.safetensors", bytes.substr(0, 8 + header / 2));
  expect_rejected(dir / "cut2.safetensors", "runs past the end of the file");
}

TEST(SafetensorsMalformed, NotAFile) {
  TempDir dir;
  expect_rejected(dir / "missing.safetensors", "no such file");
  expect_rejected(dir.path(), "is a directory");
}

// ---- conversions ----------------------------------------------------------------------------------

TEST(SafetensorsConvert, HalfAndBfloatKnownValues) {
  // IEEE 754 binary16 values from the standard's encoding.
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);                  // largest normal
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));     // smallest normal
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));     // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x03ff), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);           // nearest half to 1/3
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)) && f16_to_f32(0x8000) == 0.0f);
  EXPECT_EQ(f16_to_f32(0x7c00), INFINITY);
  EXPECT_EQ(f16_to_f32(0xfc00), -INFINITY);
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
  // bfloat16 is the top half of a float32.
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0x4049), 3.140625f);
  EXPECT_EQ(bf16_to_f32(0xc2f7), -123.5f);
}

TEST(SafetensorsConvert, FloatToHalfRoundsToNearestEven) {
  // Every finite half survives f16 -> f32 -> f16 bit-exactly.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaN payloads
    ASSERT_EQ(f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);  // below the halfway point to 65536
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // halfway, ties to even = infinity
  EXPECT_EQ(f32_to_f16(1e10f), 0x7c00);
  EXPECT_EQ(f32_to_f16(-1e10f), 0xfc00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);             // halfway to the smallest subnormal: even = 0
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);             // above halfway
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);             // 1.5 subnormal units, tie -> even 2
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie between 1 and 1+2^-10 -> even (1)
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie -> even mantissa 2
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(NAN))));
  // bfloat16
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie -> even (up)
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);  // above tie
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
  for (uint32_t b = 0; b < 0x10000; ++b) {
    if ((b & 0x7f80) == 0x7f80 && (b & 0x7f)) continue;
    ASSERT_EQ(f32_to_bf16(bf16_to_f32(static_cast<uint16_t>(b))), b) << std::hex << b;
  }
}

TEST(SafetensorsConvert, ToF32HandlesEveryNumericDtype) {
  TempDir dir;
  const std::string i8 = raw_bytes<int8_t>({-128, 127}), u16 = raw_bytes<uint16_t>({65535, 1}),
                    i32 = raw_bytes<int32_t>({-5, 7}), f64 = raw_bytes<double>({0.25, -1e30}),
                    bools = raw_bytes<uint8_t>({0, 1}), fp8 = raw_bytes<uint8_t>({0, 1});
  write_safetensors(dir / "c.safetensors", {{"i8", Dtype::kI8, {2}, span_of(i8)},
                                            {"u16", Dtype::kU16, {2}, span_of(u16)},
                                            {"i32", Dtype::kI32, {2}, span_of(i32)},
                                            {"f64", Dtype::kF64, {2}, span_of(f64)},
                                            {"bool", Dtype::kBool, {2}, span_of(bools)},
                                            {"fp8", Dtype::kF8E4M3, {2}, span_of(fp8)}});
  auto f = SafetensorsFile::open(dir / "c.safetensors");
  EXPECT_EQ(to_f32(f.tensor("i8")), (std::vector<float>{-128, 127}));
  EXPECT_EQ(to_f32(f.tensor("u16")), (std::vector<float>{65535, 1}));
  EXPECT_EQ(to_f32(f.tensor("i32")), (std::vector<float>{-5, 7}));
  EXPECT_EQ(to_f32(f.tensor("f64"))[0], 0.25f);
  EXPECT_EQ(to_f32(f.tensor("f64"))[1], static_cast<float>(-1e30));
  EXPECT_EQ(to_f32(f.tensor("bool")), (std::vector<float>{0, 1}));
  EXPECT_THROW(to_f32(f.tensor("fp8")), InputError);
}
