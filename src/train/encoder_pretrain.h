// The encoder pre-training stage (`"stage": "encoder"`, docs/training.md "Encoder pre-training"):
// direct losses on the speech encoder, no language model in the loop.
//
//   every voiced user turn of the data builds (dialogues.jsonl): audio, transcript, emotion, intensity
//   batch = real recordings (share data.real_share) + synthetic turns drawn label first (balanced),
//           each clip augmented with a seeded chance (noise, gain, speed, band limit, reverb)
//   log-mel -> SpeechEncoder -> EncoderHeads: CTC over characters + emotion CE + intensity MSE
//
// A step's clips and augmentations follow from (seed, step) alone, so a resumed run sees the same
// batches and reproduces the uninterrupted run bit for bit. The run directory is laid out as
// trainer.h says; final/ is an attune_slm directory: the model.from composite (or model.slm) with
// the trained encoder and its encoder_heads. Torch-free header.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "train/recipe.h"
#include "train/trainer.h"

namespace attune::train {

// Called by run_training (trainer.h) for a "stage": "encoder" recipe.
TrainResult run_encoder_pretraining(const Recipe& recipe, const TrainOptions& options);

}  // namespace attune::train
