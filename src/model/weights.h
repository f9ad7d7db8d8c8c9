// Named tensors between safetensors checkpoints and torch modules, with strict checks: every
// parameter must be found with the right shape and a floating-point dtype, and every checkpoint tensor
// (under the prefix) must be used, else InputError naming the tensor and the file. Shared by every
// model of src/model (language model, speech encoder, adapter).
//
//   auto ckpt = io::SafetensorsCheckpoint::open(dir);
//   model::load_weights(*lm, ckpt);                                  // names == HF names
//   model::load_weights(*encoder, ckpt, {.prefix = "model.encoder.", // Whisper encoder inside a
//                                        .ignore_prefixes = {"model.decoder.", "proj_out."}});  // full Whisper
//   model::save_weights(*lm, "out/model.safetensors", io::Dtype::kBF16);
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace attune::model {

struct WeightLoadOptions {
  // Checkpoint key = prefix + parameter name.
  std::string prefix;
  // Checkpoint tensors that may be present without a matching parameter and are skipped: by key
  // prefix (e.g. "model.decoder.") or key suffix (e.g. ".rotary_emb.inv_freq", which old Llama and
  // Qwen2 checkpoints store).
  std::vector<std::string> ignore_prefixes;
  std::vector<std::string> ignore_suffixes = {".rotary_emb.inv_freq"};
  // Skip every unused tensor instead of failing (off: an unused tensor under `prefix` is an error).
  bool allow_extra = false;
  // Parameters that may be absent from the checkpoint and keep their current values.
  std::vector<std::string> optional_parameters;
  // Also load the module's named buffers (parameters only by default).
  bool include_buffers = false;
};

struct WeightLoadReport {
  int64_t tensors = 0;                 // parameters (and buffers) loaded
  int64_t bytes = 0;                   // bytes read from the checkpoint
  std::vector<std::string> skipped;    // checkpoint tensors ignored by the options
  std::vector<std::string> defaulted;  // optional parameters that were absent
};

// Copies every named parameter of `module` from the checkpoint (converting F16/BF16/F32/F64 to the
// parameter's dtype, onto its device). Throws InputError for a missing or unused tensor (naming it,
// and how many more there are), a shape mismatch (both shapes) or a non-float dtype, always with the
// file that holds the tensor.
WeightLoadReport load_weights(torch::nn::Module& module, const io::SafetensorsCheckpoint& checkpoint,
                              const WeightLoadOptions& options = {});

// The tensor as a CPU torch tensor of the stored dtype (F32, F16, BF16, F64, I64, I32, I16, I8, U8,
// BOOL), copied out of the mapping. `source` names it in errors (e.g. FP8 -> InputError).
at::Tensor to_torch(const io::TensorView& view, const std::string& source);

// Copies `view` into `dst` after checking its shape and that it is floating point; `name` and `file`
// appear in the error message.
void copy_into(const io::TensorView& view, at::Tensor& dst, const std::string& name, const std::string& file);

// The module's named parameters as tensors to write (prefix + name), converted to `dtype` (F32, F16
// or BF16). The returned storage keeps the bytes alive.
struct NamedTensors {
  std::vector<io::TensorToWrite> tensors;
  std::vector<at::Tensor> storage;
};
NamedTensors collect_weights(const torch::nn::Module& module, io::Dtype dtype = io::Dtype::kF32,
                             const std::string& prefix = "");

// Writes the module's named parameters to one safetensors file atomically.
void save_weights(const torch::nn::Module& module, const std::filesystem::path& path, io::Dtype dtype = io::Dtype::kF32,
                  const std::string& prefix = "", const io::SafetensorsMetadata& metadata = {{"format", "pt"}});

// at::ScalarType of a safetensors dtype and back; InputError/ConfigError for unsupported ones.
at::ScalarType scalar_type_of(io::Dtype dtype, const std::string& source);
io::Dtype safetensors_dtype_of(at::ScalarType type);

}  // namespace attune::model
