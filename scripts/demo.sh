#!/usr/bin/env bash
# The main job, from a fresh machine: installs the packages, builds `attune`, and runs `attune demo`:
# the example dialogues of examples/dialogues.json are voiced with espeak-ng (emotional arcs, and
# one where the words are neutral but the voice is not), heard by the shipped model
# (models/attune-small), and answered in text and speech. The transcript shows what was heard, the
# trajectory, the reply, its voice and the timings; the audio goes to build/demo/.
# Extra arguments go to `attune demo` (e.g. --show-thinking, --dialogue neutral-words).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target attune
./build/src/cli/attune demo --out build/demo "$@"
