#!/usr/bin/env bash
# The measurements behind a model card (models/attune-small/README.md), on this machine:
#   1. emotion from the voice alone: RAVDESS actors 19-20 (the valid split), one clip per session;
#   2. per-turn emotion, cause and replies: RECCON valid, voiced by `attune data build --voices`, as
#      shipped and, for a model with encoder heads, with no evidence path and the thinking as the
#      source (the comparison the model card reports);
#   3. latency: `attune demo` (speech on), medians over the demo turns.
# Usage: scripts/eval-model-card.sh [MODEL_DIR] [VALID_BUILD_DIR] [OUT_DIR]
#   VALID_BUILD_DIR: `attune data build --corpus all --split valid --voices --ieat full --out DIR`
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-models/attune-small}
valid=${2:-runs/data/valid}
out=${3:-runs/model-card}
attune=./build/src/cli/attune
mkdir -p "$out"
"$attune" --threads 2 eval ser --model "$model" --baseline prosody --out "$out/ser_ravdess_valid" | tee "$out/ser_ravdess_valid.txt"
"$attune" --threads 2 eval ser --model "$model" --corpus emodb --baseline prosody --out "$out/ser_emodb_valid" | tee "$out/ser_emodb_valid.txt"
"$attune" --threads 2 eval turns --model "$model" --dialogues "$valid/dialogues.jsonl" --corpus reccon \
  --json "$out/turns_reccon_valid.json" | tee "$out/turns_reccon_valid.txt"
if grep -q '"encoder_heads"' "$model/config.json"; then
  "$attune" --threads 2 eval turns --model "$model" --dialogues "$valid/dialogues.jsonl" --corpus reccon \
    --heard-from thinking --evidence-weight 0 --json "$out/turns_reccon_valid_no_evidence.json" \
    | tee "$out/turns_reccon_valid_no_evidence.txt"
fi
"$attune" --threads 2 demo --model "$model" --out "$out/demo" --show-thinking | tee "$out/demo.txt"
