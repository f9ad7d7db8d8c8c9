#!/usr/bin/env bash
# Rebuilds the default model, models/attune-small, from ../shared/data on this machine (2 CPU cores):
#   1. data: every corpus as text (train/valid), attune's BPE tokenizer learnt on it, text shards;
#      voiced builds (espeak-ng) of the 8 labelled text corpora, and the recorded speech corpora;
#   2. stage 0, the text teacher (recipes/default-stage0.json), and beside it, on half the threads,
#   3. encoder pre-training, then part 2 weighted toward the recorded voices (default-encoder*.json),
#      then the prosody expert alone on the clips' clean functionals (default-expert.json), then a
#      transcription encoder, a copy of the speech encoder trained for words alone (default-transcriber.json);
#   4. stage 1, speech alignment (default-stage1.json); the voiced builds transcribed by stage 1's
#      transcription encoder with a character LM, their shards rewritten with those heard words; and
#      stage 2, end to end, reading the words beside the audio (default-stage2.json); then the
#      decoder's quote priors, measured on stage 2's traces (`attune data quote-prior`);
#   5. the model, with the character LM of its heard words, and the model card's measurements (scripts/eval-model-card.sh) into OUT/model-card.
# Every step is skipped when its output is complete and every training stage resumes from its last
# checkpoint, so a run can be stopped (Ctrl-C saves a checkpoint) and started again with the same
# command. The time of each step is printed and kept in OUT/times.tsv.
#
# Usage: scripts/train-default.sh [--smoke] [--out DIR] [--model-out DIR] [--threads N] [--no-eval]
#   --smoke      the same recipes for a few steps on a few dialogues (minutes): checks the pipeline
#   --out        where data, runs and logs go (default runs/default, runs/default-smoke with --smoke)
#   --model-out  where the finished model is copied (default models/attune-small; OUT/model with --smoke)
#   --threads    torch threads (default: all cores)
#   --no-eval    stop after copying the model
# Environment: ATTUNE_SHARED_DIR (default ../shared) holds data/; ATTUNE_BIN the attune binary
# (default build/src/cli/attune, built first when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0 out="" model_out="" threads=$(nproc) eval=1
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --out) out=$2; shift ;;
    --model-out) model_out=$2; shift ;;
    --threads) threads=$2; shift ;;
    --no-eval) eval=0 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "train-default.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ $smoke = 1 ]; then
  out=${out:-runs/default-smoke}; model_out=${model_out:-$out/model}
else
  out=${out:-runs/default}; model_out=${model_out:-models/attune-small}
fi
shared=${ATTUNE_SHARED_DIR:-../shared}
if [ ! -d "$shared/data/text" ]; then
  echo "train-default.sh: no corpora in $shared/data (set ATTUNE_SHARED_DIR)" >&2
  exit 1
fi
attune=${ATTUNE_BIN:-./build/src/cli/attune}
if [ ! -x "$attune" ]; then
  ./scripts/install-deps.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
  cmake --build build -j"$(nproc)"
fi
run() { "$attune" --threads "$threads" "$@"; }
mkdir -p "$out"
times="$out/times.tsv"
[ -f "$times" ] || printf 'step\tseconds\tfinished\n' > "$times"

# step NAME DONE_FILE COMMAND...: runs COMMAND unless DONE_FILE exists, and times it.
step() {
  local name=$1 done_file=$2
  shift 2
  if [ -e "$done_file" ]; then
    echo "== $name: done ($done_file)"
    return
  fi
  echo "== $name"
  local t0=$SECONDS
  "$@"
  local dt=$((SECONDS - t0))
  printf '%s\t%d\t%s\n' "$name${tag:-}" "$dt" "$(date -u +%FT%TZ)" >> "$times"
  printf '== %s: %d min %02d s\n' "$name" $((dt / 60)) $((dt % 60))
}

# Smoke: every recipe as is, but a few steps on small batches and a few dialogues.
limit_text=() limit_voiced=(--limit 400) limit_valid=(--limit 60) limit_speech=() vocab=8192
lm_small=() enc_small=() enc_lm_small=() s12_small=()
if [ $smoke = 1 ]; then
  limit_text=(--limit 12) limit_voiced=(--limit 3) limit_valid=(--limit 2) limit_speech=(--limit 6) vocab=1024
  lm_small=(--set steps=3 --set optim.warmup_steps=1 --set data.batch_tokens=1024 --set eval.interval=3
            --set eval.batches=1 --set checkpoint.interval=2 --set log_interval=1
            --set model.language_model.vocab_size=$vocab)
  enc_small=(--set steps=3 --set optim.warmup_steps=1 --set data.batch_clips=4 --set eval.interval=3
             --set eval.clips=8 --set checkpoint.interval=2 --set log_interval=1 --set model.heads.alphabet_min_count=1)
  enc_lm_small=(--set model.slm.language_model.vocab_size=$vocab)  # the fresh LM the encoder stage carries
  s12_small=(--set steps=3 --set optim.warmup_steps=1 --set data.batch_tokens=1024 --set eval.interval=3
             --set eval.batches=1 --set checkpoint.interval=2 --set log_interval=1)
fi
voiced_corpora=reccon,ecf,esconv,meld,empatheticdialogues,cped,dailydialog,emocontext

# ---- 1. data -----------------------------------------------------------------------------------
for split in train valid; do
  step "data: text $split" "$out/text-$split/build.json" \
    run data build --data-root "$shared/data" --corpus all --split $split "${limit_text[@]}" --out "$out/text-$split" --no-progress
done
step "tokenizer" "$out/tokenizer/tokenizer.json" \
  run tokenizer-train --vocab-size $vocab --json-field text --json-field response_text --json-field thinking \
  --json-field situation --out "$out/tokenizer/tokenizer.json" "$out/text-train/dialogues.jsonl"
for split in train valid; do
  step "data: text $split shards" "$out/text-$split/shards/index.json" \
    run data shards "$out/text-$split" --tokenizer "$out/tokenizer"
done
step "data: voiced train" "$out/voiced-train/build.json" \
  run data build --data-root "$shared/data" --corpus $voiced_corpora --split train --voices "${limit_voiced[@]}" \
  --tokenizer "$out/tokenizer" --out "$out/voiced-train" --no-progress
step "data: voiced valid" "$out/voiced-valid/build.json" \
  run data build --data-root "$shared/data" --corpus $voiced_corpora --split valid --voices "${limit_valid[@]}" \
  --tokenizer "$out/tokenizer" --out "$out/voiced-valid" --no-progress
for split in train valid; do
  step "data: speech $split" "$out/speech-$split/build.json" \
    run data build --data-root "$shared/data" --corpus ravdess,emodb --split $split "${limit_speech[@]}" --out "$out/speech-$split" --no-progress
done

# ---- 2-4. training -------------------------------------------------------------------------------
# train NAME RECIPE [--set ...]: one stage into OUT/NAME, resumed from its checkpoints when there are any.
train() {
  local name=$1 recipe=$2
  shift 2
  local resume=()
  if compgen -G "$out/$name/checkpoints/step-*" > /dev/null; then resume=(--resume "$out/$name"); fi
  run train "$recipe" --set "out=$out/$name" "$@" "${resume[@]}"
}
# The encoder stages only carry a language model (a fresh one of stage 0's shape; stage 1 swaps in
# stage 0's result with model.language_model_from), so they run beside stage 0, on half the threads
# each, with their output in OUT/stage0.log and OUT/encoder.log. When one side is done, the other is
# stopped at a checkpoint and resumed on all the threads.
stage0_side() {
  step "stage 0: text teacher" "$out/stage0/final/config.json" \
    train stage0 recipes/default-stage0.json --set "model.tokenizer=$out/tokenizer" \
    --set "data.train=$out/text-train" --set "data.valid=$out/text-valid" "${lm_small[@]}"
}
encoder_side() {
  step "encoder pre-training" "$out/encoder/final/config.json" \
    train encoder recipes/default-encoder.json --set "model.tokenizer=$out/tokenizer" \
    --set "data.train=[\"$out/voiced-train\", \"$out/speech-train\"]" \
    --set "data.valid=[\"$out/speech-valid\", \"$out/voiced-valid\"]" "${enc_small[@]}" "${enc_lm_small[@]}"
  step "encoder pre-training, recorded voices" "$out/encoder-real/final/config.json" \
    train encoder-real recipes/default-encoder-real.json --set "model.from=$out/encoder/final" \
    --set "data.train=[\"$out/voiced-train\", \"$out/speech-train\"]" \
    --set "data.valid=[\"$out/speech-valid\", \"$out/voiced-valid\"]" "${enc_small[@]}"
  step "prosody expert on clean functionals" "$out/expert/final/config.json" \
    train expert recipes/default-expert.json --set "model.from=$out/encoder-real/final" \
    --set "data.train=[\"$out/voiced-train\", \"$out/speech-train\"]" \
    --set "data.valid=[\"$out/speech-valid\", \"$out/voiced-valid\"]" "${enc_small[@]}"
  step "transcription encoder" "$out/transcriber/final/config.json" \
    train transcriber recipes/default-transcriber.json --set "model.from=$out/expert/final" \
    --set "data.train=[\"$out/voiced-train\"]" --set "data.valid=[\"$out/voiced-valid\"]" "${enc_small[@]}"
}
if [ -e "$out/stage0/final/config.json" ] && [ -e "$out/transcriber/final/config.json" ]; then
  echo "== stage 0 and encoder pre-training: done"
elif [ -e "$out/stage0/final/config.json" ]; then
  encoder_side  # one side left: it gets every thread
elif [ -e "$out/transcriber/final/config.json" ]; then
  stage0_side
else
  threads_a=$(((threads + 1) / 2)) threads_b=$((threads / 2))
  [ $threads_b -ge 1 ] || threads_b=1
  echo "== stage 0 ($threads_a threads, log $out/stage0.log) beside encoder pre-training ($threads_b, $out/encoder.log)"
  t0=$SECONDS tag=" [parallel]" stopping=0
  (threads=$threads_a stage0_side) >> "$out/stage0.log" 2>&1 &
  pid_a=$!
  (threads=$threads_b encoder_side) >> "$out/encoder.log" 2>&1 &
  pid_b=$!
  # Background jobs ignore the terminal's Ctrl-C; pass it on, so that each stage checkpoints first.
  trap 'stopping=1; pkill -INT -P $pid_a; pkill -INT -P $pid_b; true' INT TERM
  # A trapped signal interrupts `wait`; wait again until the job has ended.
  wait_for() {
    local rc=0
    while true; do
      wait "$1" && return 0 || rc=$?
      kill -0 "$1" 2>/dev/null || return $rc
    done
  }
  first_pid="" first_rc=0
  while [ -z "$first_pid" ]; do
    wait -n -p first_pid $pid_a $pid_b && first_rc=0 || first_rc=$?
  done
  if [ "$first_pid" = "$pid_a" ]; then other=$pid_b other_side=encoder_side other_log=encoder
  else other=$pid_a other_side=stage0_side other_log=stage0; fi
  if [ $first_rc = 0 ] && [ $stopping = 0 ]; then
    pkill -INT -P $other || true  # stop it at a checkpoint, then resume it on every thread
    wait_for $other || true
    echo "== resuming the ${other_log} side on $threads threads (log $out/${other_log}.log)"
    (threads=$threads $other_side) >> "$out/${other_log}.log" 2>&1 &
    pid_a=$! pid_b=$!
    first_rc=0
    wait_for $pid_a || first_rc=$?
  else
    pkill -INT -P $other || true
    wait_for $other || true
  fi
  trap - INT TERM
  if [ $first_rc != 0 ]; then
    echo "train-default.sh: stage 0 / encoder pre-training stopped (exit $first_rc); the ends of the logs:" >&2
    tail -n 3 "$out/stage0.log" "$out/encoder.log" >&2
    exit 1
  fi
  tag=""
  dt=$((SECONDS - t0))
  printf '%s\t%d\t%s\n' "stage 0 beside encoder pre-training (wall)" "$dt" "$(date -u +%FT%TZ)" >> "$times"
  printf '== stage 0 and encoder pre-training: %d min %02d s\n' $((dt / 60)) $((dt % 60))
fi
step "stage 1: speech alignment" "$out/stage1/final/config.json" \
  train stage1 recipes/default-stage1.json --set "model.from=$out/transcriber/final" \
  --set "model.language_model_from=$out/stage0/final" \
  --set "model.tokenizer=$out/tokenizer" \
  --set "data.train=$out/voiced-train" --set "data.valid=$out/voiced-valid" "${s12_small[@]}"
# Stage 2 reads the heard words beside the audio (encoder_heads.words_in_prompt, docs/training.md
# "Words in the prompt"): the voiced builds get what stage 1's transcription encoder hears, decoded
# with a character LM of the train text, and their shards are written again.
shards_with_words() { run data shards "$1" --tokenizer "$out/tokenizer" && touch "$1/shards/words.done"; }
step "character LM for the heard words" "$out/stage1/final/ctc_lm.arpa.gz" \
  run data char-lm "$out/voiced-train" --model "$out/stage1/final"
for split in train valid; do
  step "data: voiced $split, heard words" "$out/voiced-$split/transcribed.json" \
    run data transcribe "$out/voiced-$split" --model "$out/stage1/final" --no-progress
  step "data: voiced $split shards, heard words" "$out/voiced-$split/shards/words.done" \
    shards_with_words "$out/voiced-$split"
done
step "stage 2: end to end" "$out/stage2/final/config.json" \
  train stage2 recipes/default-stage2.json --set "model.from=$out/stage1/final" \
  --set "model.tokenizer=$out/tokenizer" \
  --set "data.train=$out/voiced-train" --set "data.valid=$out/voiced-valid" "${s12_small[@]}"

# Which user turn a thinking's quote copies, and how long it runs, as stage 2's traces do: the
# decoder's quote priors (config.json "quotes"; docs/runtime.md, "Quoting").
quote_prior() { run data quote-prior "$out/voiced-train" --model "$out/stage2/final" && touch "$out/stage2/quote-prior.done"; }
step "quote priors from the train traces" "$out/stage2/quote-prior.done" quote_prior

# ---- 5. the model and its measurements ------------------------------------------------------------
mkdir -p "$model_out"
# Stage 2 carries the character LM of its heard words (the step before it) as ctc_lm.arpa.gz.
model_files=(config.json model.safetensors tokenizer.json ctc_lm.arpa.gz)
for f in "${model_files[@]}"; do cp "$out/stage2/final/$f" "$model_out/$f.tmp"; done
for f in "${model_files[@]}"; do mv "$model_out/$f.tmp" "$model_out/$f"; done
for stage in stage0 encoder transcriber stage2; do
  [ -f "$out/$stage/loss.svg" ] && cp "$out/$stage/loss.svg" "$model_out/$stage-loss.svg"
done
echo "model: $model_out"
if [ $eval = 1 ]; then
  mkdir -p "$out/model-card"
  if [ $smoke = 1 ]; then
    step "eval: turns (smoke)" "$out/model-card/turns.json" \
      run eval turns --model "$model_out" --dialogues "$out/voiced-valid/dialogues.jsonl" --corpus reccon --sample 1 \
      --no-speech --json "$out/model-card/turns.json" --transcript "$out/model-card/samples.md"
  else
    step "eval: model card" "$out/model-card/demo.txt" \
      scripts/eval-model-card.sh "$model_out" "$out/voiced-valid" "$out/model-card"
  fi
fi
echo "times (seconds):"
column -t -s $'\t' "$times" 2>/dev/null || cat "$times"
awk -F'\t' 'NR > 1 && $1 !~ /\[parallel\]/ { s += $2 } END { printf "total %d min (wall)\n", s / 60 }' "$times"
