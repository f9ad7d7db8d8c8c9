// The step-wise decoder under every generation loop: model::generate (`attune generate`, the
// speech generator) and the runtime's dialogue turns. It holds the next token's logits; the caller
// owns the KV cache (a session keeps its cache across turns), edits the logits between steps (bans,
// reply rules, evidence) and decides when to stop.
//
//   StepDecoder d(lm, cache, sampling, max_positions);
//   d.prefill(prompt_embeds);                      // or d.set_logits(out.logits) after one's own forward
//   while (...) {
//     edit(d.next_logits());
//     const int32_t id = d.sample(history);
//     if (stop(id) || d.context_full()) break;
//     d.feed(id);                                  // one forward step; output() has its hidden state
//   }
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <span>
#include <vector>

#include "model/language_model.h"
#include "model/sampling.h"

namespace attune::model {

class StepDecoder {
 public:
  StepDecoder(LanguageModelImpl& lm, KvCache& cache, const SamplingOptions& sampling, int64_t max_positions);

  // Runs the prompt embeddings [1, T, C] into the cache; the last position's logits become
  // next_logits(). all_logits: output().logits keeps every position's row.
  void prefill(const at::Tensor& embeds, bool all_logits = false);
  // The next token's logits from a forward the caller ran itself (the last row of [1, T, V]).
  void set_logits(const at::Tensor& logits);
  // float32 [vocab]: the caller may change them before sample().
  std::vector<float>& next_logits() { return row_; }
  // Draws the next id from next_logits() (greedy or sampled, with the sampler's penalties over
  // `history`).
  int32_t sample(std::span<const int32_t> history) { return sampler_.sample(row_, history); }
  // One forward step with `id`: next_logits() then predict the token after it.
  void feed(int32_t id);
  // The last forward's output (prefill or feed), e.g. for a head on its last hidden state.
  const ForwardOutput& output() const { return out_; }
  // True when one more token would not fit the model's positions.
  bool context_full() const;
  int64_t steps() const { return steps_; }  // feed() calls

 private:
  LanguageModelImpl& lm_;
  KvCache& cache_;
  Sampler sampler_;
  int64_t max_positions_;
  ForwardOutput out_;
  std::vector<float> row_;
  int64_t steps_ = 0;
};

}  // namespace attune::model
