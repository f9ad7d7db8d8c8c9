#!/usr/bin/env bash
# The main job, from a fresh machine: installs the packages, builds `attune`, and analyses how
# speech sounds. Until the spoken-dialogue runtime lands this is the audio front end: the same
# neutral words said calmly and tensely (examples/audio), and, when ../shared is present, real
# acted emotional speech (RAVDESS actor 19, one sentence in four emotions) and Whisper's jfk clip.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target attune
attune=./build/src/cli/attune

echo
echo "== The same words, two voices (espeak-ng) =="
"$attune" features --format table examples/audio/fine_calm.flac examples/audio/fine_tense.flac

shared=${ATTUNE_SHARED_DIR:-../shared}
ravdess=$shared/data/speech/ravdess/flac16k
if [ -d "$ravdess" ]; then
  echo
  echo "== RAVDESS actor 19, \"Kids are talking by the door.\": neutral, sad, angry, happy (strong) =="
  "$attune" features --format table "$ravdess"/03-01-01-01-01-01-19.flac "$ravdess"/03-01-04-02-01-01-19.flac \
    "$ravdess"/03-01-05-02-01-01-19.flac "$ravdess"/03-01-03-02-01-01-19.flac
  echo
  echo "== Whisper's jfk clip, with its log-mel written to build/jfk_mel.npy =="
  "$attune" features --mel build/jfk_mel.npy "$shared"/fixtures/whisper/jfk.flac
else
  echo "(../shared not found: set ATTUNE_SHARED_DIR to also analyse real emotional speech)"
fi
