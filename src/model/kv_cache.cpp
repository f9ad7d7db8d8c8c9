#include "model/kv_cache.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "attune/error.h"

namespace attune::model {

KvCache::KvCache(int64_t num_layers, int64_t batch, int64_t kv_heads, int64_t head_dim, int64_t capacity,
                 const at::TensorOptions& options, int64_t max_capacity)
    : batch_(batch),
      kv_heads_(kv_heads),
      head_dim_(head_dim),
      capacity_(capacity),
      max_capacity_(std::max(capacity, max_capacity)) {
  if (num_layers <= 0 || batch <= 0 || kv_heads <= 0 || head_dim <= 0 || capacity <= 0) {
    throw ConfigError("KV cache: layers, batch, heads, head_dim and capacity must be positive (capacity " +
                      std::to_string(capacity) + ")");
  }
  keys_.reserve(num_layers);
  values_.reserve(num_layers);
  for (int64_t i = 0; i < num_layers; ++i) {
    keys_.push_back(at::zeros({batch, kv_heads, capacity, head_dim}, options));
    values_.push_back(at::zeros({batch, kv_heads, capacity, head_dim}, options));
  }
}

at::ScalarType KvCache::dtype() const { return keys_.empty() ? at::kFloat : keys_[0].scalar_type(); }
at::Device KvCache::device() const { return keys_.empty() ? at::Device(at::kCPU) : keys_[0].device(); }

bool KvCache::ensure_room(int64_t extra) {
  const int64_t needed = length_ + extra;
  if (needed <= capacity_) return true;
  if (needed > max_capacity_) return false;
  const int64_t grown = std::min(max_capacity_, std::max(needed, 2 * capacity_));
  for (auto* buffers : {&keys_, &values_}) {
    for (auto& t : *buffers) {
      at::Tensor bigger = at::zeros({batch_, kv_heads_, grown, head_dim_}, t.options());
      bigger.narrow(2, 0, length_).copy_(t.narrow(2, 0, length_));
      t = bigger;
    }
  }
  capacity_ = grown;
  return true;
}

std::pair<at::Tensor, at::Tensor> KvCache::append(int64_t layer, const at::Tensor& k, const at::Tensor& v) {
  const int64_t T = k.size(2);
  if (layer < 0 || layer >= num_layers() || length_ + T > capacity_) {
    throw InputError("KV cache: cannot append " + std::to_string(T) + " positions to layer " + std::to_string(layer) +
                     " (length " + std::to_string(length_) + ", capacity " + std::to_string(capacity_) + ")");
  }
  at::Tensor& keys = keys_[layer];
  at::Tensor& values = values_[layer];
  keys.narrow(2, length_, T).copy_(k);
  values.narrow(2, length_, T).copy_(v);
  return {keys.narrow(2, 0, length_ + T), values.narrow(2, 0, length_ + T)};
}

void KvCache::advance(int64_t tokens) {
  if (tokens < 0 || length_ + tokens > capacity_) {
    throw InputError("KV cache: cannot advance by " + std::to_string(tokens) + " from " + std::to_string(length_));
  }
  length_ += tokens;
}

void KvCache::truncate(int64_t length) {
  if (length < 0 || length > length_) {
    throw InputError("KV cache: cannot truncate to " + std::to_string(length) + " (length " + std::to_string(length_) +
                     ")");
  }
  length_ = length;
}

void KvCache::copy_prefix(const KvCache& other, int64_t length) {
  if (other.num_layers() != num_layers() || other.batch_ != batch_ || other.kv_heads_ != kv_heads_ ||
      other.head_dim_ != head_dim_ || length < 0 || length > other.length_ || length > capacity_) {
    throw InputError("KV cache: cannot copy " + std::to_string(length) + " positions from a cache of length " +
                     std::to_string(other.length_) + " into one of capacity " + std::to_string(capacity_) +
                     " (layers, batch, heads and head size must match)");
  }
  for (size_t l = 0; l < keys_.size(); ++l) {
    keys_[l].narrow(2, 0, length).copy_(other.keys_[l].narrow(2, 0, length));
    values_[l].narrow(2, 0, length).copy_(other.values_[l].narrow(2, 0, length));
  }
  length_ = length;
}

int64_t KvCache::bytes() const {
  int64_t n = 0;
  for (const auto* buffers : {&keys_, &values_}) {
    for (const auto& t : *buffers) n += t.numel() * static_cast<int64_t>(t.element_size());
  }
  return n;
}

}  // namespace attune::model
