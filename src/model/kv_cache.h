// Key/value cache for incremental decoding with model::LanguageModel: per-use state, kept apart from
// the (immutable, shareable) weights. One [batch, kv_heads, capacity, head_dim] key tensor and one value
// tensor per layer, allocated once; a forward pass with a cache writes its T new keys/values at
// [length, length + T) of every layer and then advances the length, so a decode step only computes
// its own token. When a step would overflow, the buffers grow (doubling) up to max_capacity; past that
// the model throws InputError with the numbers.
//
//   model::KvCache cache = lm->make_cache(/*batch=*/1, /*capacity=*/prompt.size() + max_new);
//   auto out = lm->forward(prompt_ids, {.cache = &cache});   // cache.length() == prompt length
//   out = lm->forward(next_id, {.cache = &cache});            // position continues at cache.length()
//
// Not thread-safe: one cache per concurrent generation.
#pragma once

#include <ATen/Tensor.h>
#include <c10/core/TensorOptions.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace attune::model {

class KvCache {
 public:
  KvCache() = default;
  // Allocates every layer's buffers with `capacity` positions (zero-filled). max_capacity < capacity
  // means capacity (no growth).
  KvCache(int64_t num_layers, int64_t batch, int64_t kv_heads, int64_t head_dim, int64_t capacity,
          const at::TensorOptions& options, int64_t max_capacity = 0);

  int64_t num_layers() const { return static_cast<int64_t>(keys_.size()); }
  int64_t batch() const { return batch_; }
  int64_t kv_heads() const { return kv_heads_; }
  int64_t head_dim() const { return head_dim_; }
  // Positions filled so far (the position id of the next token).
  int64_t length() const { return length_; }
  int64_t capacity() const { return capacity_; }
  int64_t max_capacity() const { return max_capacity_; }
  bool empty() const { return keys_.empty(); }
  at::ScalarType dtype() const;
  at::Device device() const;

  // Makes room for `length() + extra` positions, growing (doubling) up to max_capacity; false when
  // that is not possible.
  bool ensure_room(int64_t extra);
  // Writes k, v ([batch, kv_heads, T, head_dim]) at [length, length + T) of `layer` and returns views of
  // all keys and values [0, length + T). Does not advance the length (all layers of one forward
  // pass write at the same offset); call advance(T) afterwards.
  std::pair<at::Tensor, at::Tensor> append(int64_t layer, const at::Tensor& k, const at::Tensor& v);
  void advance(int64_t tokens);
  // Forgets positions >= length (e.g. to re-use a shared prefix); 0 empties the cache.
  void truncate(int64_t length);
  void reset() { truncate(0); }
  // Becomes positions [0, length) of `other` (same layers, heads and head size; this cache needs the
  // capacity): a second line of decoding that shares a prefix starts without re-reading it.
  void copy_prefix(const KvCache& other, int64_t length);

  // The buffers of one layer, [batch, kv_heads, capacity, head_dim] (for kernels that write in place).
  const at::Tensor& keys(int64_t layer) const { return keys_[static_cast<size_t>(layer)]; }
  const at::Tensor& values(int64_t layer) const { return values_[static_cast<size_t>(layer)]; }

  // Bytes held by the buffers (all layers, keys and values).
  int64_t bytes() const;

 private:
  std::vector<at::Tensor> keys_;
  std::vector<at::Tensor> values_;
  int64_t batch_ = 0;
  int64_t kv_heads_ = 0;
  int64_t head_dim_ = 0;
  int64_t length_ = 0;
  int64_t capacity_ = 0;
  int64_t max_capacity_ = 0;
};

}  // namespace attune::model
