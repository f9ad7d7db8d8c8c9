#!/usr/bin/env bash
# Builds attune on a GPU machine against the libtorch inside the installed PyTorch (CUDA) and measures
# training there: a Qwen2-0.5B-shaped stage 0 step in bf16 (tokens/s and model FLOPs utilisation), then
# the smoke recipes on the GPU when ../shared is present. Results go to ${OUT:-gpu-results}/.
#
#   OUT=/tmp/gpu ./scripts/gpu-train.sh
#
# Needs: python3 with torch (CUDA), cmake, g++, and attune's Debian build dependencies
# (scripts/install-deps.sh; the libtorch-dev package itself is not used here).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-results}
mkdir -p "$out"
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
python3 -c 'import torch; assert torch.cuda.is_available(), "no CUDA device"; print(torch.__version__, torch.cuda.get_device_name(0))' | tee "$out/device.txt"
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix" -DATTUNE_BUILD_TESTS=OFF \
  2>&1 | tee "$out/cmake.log"
cmake --build build-gpu -j"$(nproc)" --target attune bench_train 2>&1 | tail -20 | tee "$out/build.log"
# Peak dense bf16 throughput of the card for the utilisation figure (H100 SXM 989 TFLOP/s; H200 the same).
./build-gpu/bench/bench_train --device cuda --shape qwen2-0.5b --dtypes bf16 --batch 8 --seq 1024 --steps 10 \
  --rounds 1 --no-python --peak-tflops "${PEAK_TFLOPS:-989}" | tee "$out/bench_train.txt"
shared=${ATTUNE_SHARED_DIR:-../shared}
if [ -d "$shared/data" ]; then
  bin=./build-gpu/src/cli/attune
  for split in train:reccon,ravdess:80 valid:dailydialog,emodb:30; do
    IFS=: read -r name corpora limit <<<"$split"
    "$bin" data build --corpus "$corpora" --split valid --limit "$limit" --voices --no-progress \
      --data-root "$shared/data" --tokenizer models/attune-bpe-8k --out "$out/data/$name"
  done
  common=(--no-progress --set "data.train=$out/data/train" --set "data.valid=$out/data/valid" --set device=cuda)
  "$bin" train recipes/smoke-stage0.json "${common[@]}" --set "out=$out/s0" | tee "$out/stage0.txt"
  "$bin" train recipes/smoke-stage1.json "${common[@]}" --set "out=$out/s1" \
    --set "model.slm.language_model.path=$out/s0/final" | tee "$out/stage1.txt"
  "$bin" train recipes/smoke-stage2.json "${common[@]}" --set "out=$out/s2" --set "model.from=$out/s1/final" \
    | tee "$out/stage2.txt"
fi
