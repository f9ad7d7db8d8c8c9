#!/usr/bin/env bash
# The measurements behind a model card (models/attune-small/README.md), on this machine:
#   1. emotion from the voice alone: RAVDESS actors 19-20 (the valid split), one clip per session;
#   2. per-turn emotion, cause and replies: RECCON valid, voiced by `attune data build --voices`, as
#      shipped and, for a model with encoder heads, with no evidence path and the thinking as the
#      source (the comparison the model card reports);
#   3. 10 sample dialogues of every corpus drawn with seed 1234 (--sample-seed) (samples.md: words, heard emotion,
#      thinking, reply);
#   4. HumDial T1 (trajectory) and T3 (empathy of the graded reply), objective scores, English;
#   5. reply perplexity on EmpatheticDialogues valid (text view), beside $BASELINE_MODEL when set;
#   6. latency: `attune demo` (speech on), medians over the demo turns.
# Usage: scripts/eval-model-card.sh [MODEL_DIR] [VALID_BUILD_DIR] [OUT_DIR]
#   VALID_BUILD_DIR: `attune data build --corpus all --split valid --voices --ieat full --out DIR`
# Environment: TEXT_VALID, a text build of the valid split (default VALID_BUILD_DIR/../text-valid);
#   BASELINE_MODEL, a model to score the replies against in the same run (e.g. the previous release);
#   HUMDIAL_LIMIT, dialogues per HumDial task (default 30).
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
"$attune" --threads 2 eval turns --model "$model" --dialogues "$valid/dialogues.jsonl" --corpus "" --sample 10 \
  --sample-seed 1234 --json "$out/samples.json" --transcript "$out/samples.md" > "$out/samples.txt"
for task in t1 t3; do
  "$attune" --threads 2 eval humdial --model "$model" --data "$valid/dialogues.jsonl" --task $task --lang en \
    --limit "${HUMDIAL_LIMIT:-30}" --out "$out/humdial_$task" | tee "$out/humdial_$task.txt"
done
text_valid=${TEXT_VALID:-$(dirname "$valid")/text-valid}
if [ -f "$text_valid/dialogues.jsonl" ]; then
  "$attune" --threads 2 eval replies ${BASELINE_MODEL:+--model "$BASELINE_MODEL"} --model "$model" \
    --dialogues "$text_valid/dialogues.jsonl" --json "$out/replies_ed_valid.json" | tee "$out/replies_ed_valid.txt"
fi
"$attune" --threads 2 demo --model "$model" --out "$out/demo" --show-thinking | tee "$out/demo.txt"
