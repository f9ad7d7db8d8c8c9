// The decode path of LanguageModelImpl on the CPU: a step of one token runs through
// kernels::decode_step (a whole layer per thread-pool run, hand-vectorised kernels) instead of
// libtorch op by op, reading the model's weights and writing its KvCache in place. forward() takes it
// by itself for one token with a cache, batch 1, no gradients, no padding mask, default positions and
// no per-layer hidden states; prefill keeps libtorch's GEMMs.
//
// int8: LanguageModelImpl::quantize_int8() replaces the projection and embedding weights by
// Int8Weights (kernels::Q8Matrix, blocks of 32 with an fp16 scale) and frees the float ones; every
// forward() then runs here, prompts in chunks of tokens (kernels::decode_tokens; logits only where asked for).
//
// ATTUNE_FUSED_DECODE=0 in the environment (or set_fused_decode(false)) keeps the libtorch path, for
// comparison.
#pragma once

#include <ATen/Tensor.h>

#include <vector>

#include "kernels/matvec.h"

namespace attune::model {

class LanguageModelImpl;
class KvCache;
struct ForwardOptions;
struct ForwardOutput;

struct Int8Weights {
  struct Layer {
    kernels::Q8Matrix q, k, v, o, gate, up, down;
  };
  std::vector<Layer> layers;
  kernels::Q8Matrix embedding;  // [vocab, hidden], also the output head when tied
  kernels::Q8Matrix lm_head;    // untied models only (rows == 0 otherwise)
  int64_t bytes() const;
  int64_t values() const;  // weights held, counted as parameters
};

bool fused_decode_enabled();
void set_fused_decode(bool enabled);

// Whether forward() would run this call here (float weights: fp32 or bf16).
bool fused_step_applies(const LanguageModelImpl& lm, const at::Tensor& x, const ForwardOptions& options);

// x: [1, T, C] input embeddings; the cache has room for T more positions. T > 1 only with int8
// weights (one token at a time). Advances the cache by T.
ForwardOutput fused_forward(LanguageModelImpl& lm, const at::Tensor& x, KvCache& cache, const ForwardOptions& options);

}  // namespace attune::model
