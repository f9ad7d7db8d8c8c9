#include "model/weights.h"

#include <ATen/ATen.h>

#include <cstring>
#include <map>
#include <set>

#include "attune/error.h"
#include "model/language_model.h"

namespace attune::model {

namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_float_dtype(io::Dtype d) {
  return d == io::Dtype::kF32 || d == io::Dtype::kF16 || d == io::Dtype::kBF16 || d == io::Dtype::kF64;
}

// "A, B, C and 4 more".
std::string name_list(const std::vector<std::string>& names, size_t max_shown = 5) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < max_shown; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > max_shown) s += " and " + std::to_string(names.size() - max_shown) + " more";
  return s;
}

std::string checkpoint_label(const io::SafetensorsCheckpoint& ckpt) {
  if (ckpt.index_path()) return ckpt.index_path()->string();
  if (!ckpt.files().empty()) return ckpt.files().front().path().string();
  return "<checkpoint>";
}

}  // namespace

at::ScalarType scalar_type_of(io::Dtype dtype, const std::string& source) {
  switch (dtype) {
    case io::Dtype::kF32:
      return at::kFloat;
    case io::Dtype::kF16:
      return at::kHalf;
    case io::Dtype::kBF16:
      return at::kBFloat16;
    case io::Dtype::kF64:
      return at::kDouble;
    case io::Dtype::kI64:
      return at::kLong;
    case io::Dtype::kI32:
      return at::kInt;
    case io::Dtype::kI16:
      return at::kShort;
    case io::Dtype::kI8:
      return at::kChar;
    case io::Dtype::kU8:
      return at::kByte;
    case io::Dtype::kBool:
      return at::kBool;
    default:
      break;
  }
  throw InputError(source, "dtype " + std::string(io::dtype_name(dtype)) + " cannot be loaded into a torch tensor");
}

io::Dtype safetensors_dtype_of(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return io::Dtype::kF32;
    case at::kHalf:
      return io::Dtype::kF16;
    case at::kBFloat16:
      return io::Dtype::kBF16;
    case at::kDouble:
      return io::Dtype::kF64;
    case at::kLong:
      return io::Dtype::kI64;
    case at::kInt:
      return io::Dtype::kI32;
    case at::kShort:
      return io::Dtype::kI16;
    case at::kChar:
      return io::Dtype::kI8;
    case at::kByte:
      return io::Dtype::kU8;
    case at::kBool:
      return io::Dtype::kBool;
    default:
      break;
  }
  throw ConfigError(std::string("safetensors: no dtype for torch type ") + c10::toString(type));
}

at::Tensor to_torch(const io::TensorView& view, const std::string& source) {
  const at::ScalarType type = scalar_type_of(view.dtype, source);
  at::Tensor out = at::empty(view.shape, at::TensorOptions().dtype(type));
  if (static_cast<size_t>(out.numel()) * out.element_size() != view.nbytes) {
    throw InputError(source, "byte size " + std::to_string(view.nbytes) + " does not match shape " +
                                 shape_string(view.shape) + " x " + std::string(io::dtype_name(view.dtype)));
  }
  // memcpy: the mapped bytes need not be aligned for the element type.
  if (view.nbytes) std::memcpy(out.data_ptr(), view.data, view.nbytes);
  return out;
}

void copy_into(const io::TensorView& view, at::Tensor& dst, const std::string& name, const std::string& file) {
  const std::string where = file + ": tensor " + name;
  if (!is_float_dtype(view.dtype)) {
    throw InputError(where + " has dtype " + std::string(io::dtype_name(view.dtype)) +
                     ", expected a floating-point dtype (F32, BF16, F16)");
  }
  const std::vector<int64_t> expected(dst.sizes().begin(), dst.sizes().end());
  if (view.shape != expected) {
    throw InputError(where + " has shape " + shape_string(view.shape) + ", the model expects " +
                     shape_string(expected));
  }
  const at::ScalarType type = scalar_type_of(view.dtype, where);
  at::NoGradGuard no_grad;
  if (reinterpret_cast<uintptr_t>(view.data) % at::elementSize(type) == 0 && dst.device().is_cpu()) {
    // Aligned: read straight from the mapping, converting on the fly.
    at::Tensor src = at::from_blob(const_cast<std::byte*>(view.data), view.shape, at::TensorOptions().dtype(type));
    dst.copy_(src);
  } else {
    dst.copy_(to_torch(view, where));
  }
}

WeightLoadReport load_weights(torch::nn::Module& module, const io::SafetensorsCheckpoint& checkpoint,
                              const WeightLoadOptions& options) {
  WeightLoadReport report;
  const std::string label = checkpoint_label(checkpoint);
  auto params = module.named_parameters(/*recurse=*/true);
  std::vector<std::pair<std::string, at::Tensor>> targets;
  for (const auto& item : params) targets.emplace_back(item.key(), item.value());
  if (options.include_buffers) {
    for (const auto& item : module.named_buffers(/*recurse=*/true)) targets.emplace_back(item.key(), item.value());
  }
  const std::set<std::string> optional(options.optional_parameters.begin(), options.optional_parameters.end());

  // Missing tensors first (all of them in one message), then shapes and dtypes one by one.
  std::vector<std::string> missing;
  std::set<std::string> used;
  for (const auto& [name, tensor] : targets) {
    const std::string key = options.prefix + name;
    if (checkpoint.contains(key)) {
      used.insert(key);
    } else if (optional.count(name)) {
      report.defaulted.push_back(name);
    } else {
      missing.push_back(key);
    }
  }
  if (!missing.empty()) {
    throw InputError(label + ": missing " + std::to_string(missing.size()) + " tensor" +
                     (missing.size() == 1 ? "" : "s") + " the model needs: " + name_list(missing));
  }
  std::vector<std::string> extra;
  for (const auto& key : checkpoint.names()) {
    if (used.count(key) || !starts_with(key, options.prefix)) continue;
    bool ignored = options.allow_extra;
    for (const auto& p : options.ignore_prefixes) ignored = ignored || starts_with(key, p);
    for (const auto& s : options.ignore_suffixes) ignored = ignored || ends_with(key, s);
    if (ignored) {
      report.skipped.push_back(key);
    } else {
      extra.push_back(key);
    }
  }
  if (!extra.empty()) {
    throw InputError(label + ": " + std::to_string(extra.size()) + " unexpected tensor" +
                     (extra.size() == 1 ? "" : "s") + " that the model has no parameter for: " + name_list(extra) +
                     " (wrong model type in config.json, or a checkpoint of another architecture?)");
  }
  for (auto& [name, tensor] : targets) {
    const std::string key = options.prefix + name;
    const io::TensorView* view = checkpoint.find(key);
    if (!view) continue;  // an optional one
    const std::string file = checkpoint.file_of(key).path().string();
    try {
      copy_into(*view, tensor, key, file);
    } catch (const c10::Error& e) {
      throw InputError(file + ": tensor " + key + ": " + e.what_without_backtrace());
    }
    report.tensors += 1;
    report.bytes += static_cast<int64_t>(view->nbytes);
  }
  return report;
}

NamedTensors collect_weights(const torch::nn::Module& module, io::Dtype dtype, const std::string& prefix) {
  if (!is_float_dtype(dtype) || dtype == io::Dtype::kF64) {
    throw ConfigError("save_weights: dtype " + std::string(io::dtype_name(dtype)) + " (expected F32, BF16 or F16)");
  }
  const at::ScalarType type = scalar_type_of(dtype, "save_weights");
  // LoRA projections are written merged, under their base names only.
  std::map<std::string, at::Tensor> merged;
  for (const auto& m : module.named_modules("", /*include_self=*/true)) {
    const auto* projection = dynamic_cast<const ProjectionImpl*>(m.value().get());
    if (projection == nullptr || !projection->has_lora()) continue;
    const std::string base = m.key().empty() ? "" : m.key() + ".";
    merged[base + "weight"] = projection->merged_weight();
    merged[base + "lora_A"] = at::Tensor();
    merged[base + "lora_B"] = at::Tensor();
  }
  NamedTensors out;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    at::Tensor value = item.value();
    if (auto it = merged.find(item.key()); it != merged.end()) {
      if (!it->second.defined()) continue;
      value = it->second;
    }
    at::Tensor t = value.detach().to(at::kCPU, type).contiguous();
    out.storage.push_back(t);
    io::TensorToWrite w;
    w.name = prefix + item.key();
    w.dtype = dtype;
    w.shape.assign(t.sizes().begin(), t.sizes().end());
    w.data = {static_cast<const std::byte*>(t.data_ptr()), static_cast<size_t>(t.numel()) * t.element_size()};
    out.tensors.push_back(std::move(w));
  }
  return out;
}

void save_weights(const torch::nn::Module& module, const std::filesystem::path& path, io::Dtype dtype,
                  const std::string& prefix, const io::SafetensorsMetadata& metadata) {
  NamedTensors named = collect_weights(module, dtype, prefix);
  io::write_safetensors(path, std::move(named.tensors), metadata);
}

}  // namespace attune::model
