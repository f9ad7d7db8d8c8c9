#include "model/step_decoder.h"

#include "model/kv_cache.h"

namespace attune::model {

StepDecoder::StepDecoder(LanguageModelImpl& lm, KvCache& cache, const SamplingOptions& sampling, int64_t max_positions)
    : lm_(lm), cache_(cache), sampler_(sampling), max_positions_(max_positions) {}

void StepDecoder::prefill(const at::Tensor& embeds, bool all_logits) {
  out_ = lm_.forward_embeds(embeds, {.cache = &cache_, .logits_to_keep = all_logits ? 0 : 1});
  set_logits(out_.logits);
}

void StepDecoder::set_logits(const at::Tensor& logits) {
  const at::Tensor r = logits[0][logits.size(1) - 1].to(at::kCPU, at::kFloat).contiguous();
  row_.assign(r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
}

void StepDecoder::feed(int32_t id) {
  const at::Tensor next = at::full({1, 1}, static_cast<int64_t>(id), at::TensorOptions().dtype(at::kLong));
  out_ = lm_.forward(next, {.cache = &cache_, .logits_to_keep = 1});
  set_logits(out_.logits);
  ++steps_;
}

bool StepDecoder::context_full() const { return cache_.length() + 1 > max_positions_; }

}  // namespace attune::model
