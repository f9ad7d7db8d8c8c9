// Shard records -> the tensors of one training step, for each stage (docs/training.md):
//   stage 0   text view ids; targets = the loss-masked tokens (assistant thinking + reply)
//   stage 1   audio view as SlmExamples (the student) + text view ids (the frozen teacher); the two
//             views carry the same target tokens, so the i-th target of one is the i-th of the other
//   stage 2   audio view + speech-style targets: per assistant turn with a thinking block, the
//             reply's style (the "style: <emotion> <intensity>" line) at the </think> position, and
//             the positions of its reply text
// Positions are flat indices b * L + t into [B, L] hidden states; the hidden state at t predicts the
// token at t + 1.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/shards.h"
#include "io/model_config.h"
#include "model/spoken_language_model.h"
#include "text/tokenizer.h"

namespace attune::train {

struct Batch {
  int64_t rows = 0, tokens = 0;             // records, real tokens of the model's view
  at::Tensor ids;                           // stage 0: int64 [B, L]
  at::Tensor attention_mask;                // int64 [B, L], 1 = real token
  std::vector<model::SlmExample> examples;  // stages 1, 2
  at::Tensor target_positions;              // int64 [N]
  at::Tensor targets;                       // int64 [N]

  // stage 1: the teacher's text view
  at::Tensor teacher_ids, teacher_mask, teacher_positions;  // [B, Lt], [B, Lt], [N]

  // stage 2: speech-style targets (S of them) and the reply positions (R) that each one covers
  at::Tensor style_positions;   // int64 [S]: the </think> token
  at::Tensor style_emotion;     // int64 [S]: index into the style head's emotions
  at::Tensor style_attributes;  // float [S, A]
  at::Tensor reply_positions;   // int64 [R]
  at::Tensor reply_owner;       // int64 [R]: which style target
};

// The speech-style head's regression targets for a style: intensity, pitch (semitones / 12), pace (ln rate),
// energy (dB / 12), range (ln pitch_range), in the order of `attributes`. ConfigError for a name
// outside these.
std::vector<float> style_attribute_targets(const std::string& emotion, double intensity,
                                           const std::vector<std::string>& attributes);

class BatchMaker {
 public:
  BatchMaker(int stage, const text::Tokenizer& tokenizer, io::StyleHeadConfig style_head);
  // The view a stage plans its batches on ("text" for stage 0, "audio" otherwise).
  std::string planning_view() const { return stage_ == 0 ? "text" : "audio"; }
  Batch make(const data::ShardSet& shards, const std::vector<int64_t>& records) const;

 private:
  int stage_;
  const text::Tokenizer& tokenizer_;
  io::StyleHeadConfig style_head_;
  int32_t think_end_id_ = -1, think_start_id_ = -1;
};

}  // namespace attune::train
