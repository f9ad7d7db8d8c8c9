// model.safetensors.index.json: the weight map names shards beside it. The folder holds one small
// valid shard, "shard.safetensors" (tensors "a" and "b"), so indexes that name it get past the
// shard checks.
#include <cstring>

#include "attune/error.h"
#include "fuzz_util.h"
#include "io/safetensors.h"

namespace {

const std::filesystem::path& folder() {
  static const std::filesystem::path dir = [] {
    auto d = attune::fuzz::scratch_dir() / "index";
    const float a[2] = {1.0f, -2.0f};
    const float b[3] = {0.5f, 0.25f, 4.0f};
    std::vector<attune::io::TensorToWrite> tensors;
    tensors.push_back({"a", attune::io::Dtype::kF32, {2}, std::as_bytes(std::span(a))});
    tensors.push_back({"b", attune::io::Dtype::kF32, {3}, std::as_bytes(std::span(b))});
    attune::fuzz::write_bytes(d / "shard.safetensors", attune::io::serialize_safetensors(std::move(tensors)));
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto index = folder() / attune::io::kSafetensorsIndexName;
  attune::fuzz::write_bytes(index, attune::fuzz::as_text(data, size));
  try {
    const auto checkpoint = attune::io::SafetensorsCheckpoint::open(index);
    for (const auto& name : checkpoint.names()) (void)attune::io::to_f32(checkpoint.tensor(name));
    (void)checkpoint.total_bytes();
  } catch (const attune::Error&) {
  }
  return 0;
}
