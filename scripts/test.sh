#!/usr/bin/env bash
# Sets up, builds and tests attune: installs the Debian packages, configures a Release build in
# build/, compiles, and runs every ctest label except `slow` (pass ctest options to narrow it,
# e.g. `scripts/test.sh -L unit`). Tests that need ../shared skip with a message when it is absent.
# The full run (no options) then runs the sanitizer job: the unit tests again under ASan + UBSan
# and every fuzz target for 30 s (scripts/fuzz.sh; ATTUNE_SKIP_SANITIZE=1 leaves it out).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
# The browser test's npm packages (playwright-core, openai), pinned by tests/web/package-lock.json.
if ! npm ci --prefix tests/web --no-audit --no-fund --loglevel=error; then
  echo "test.sh: npm ci failed: the web_e2e test will skip" >&2
fi
if [ $# -gt 0 ]; then
  exec ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
fi
ctest --test-dir build --output-on-failure -j"$(nproc)" -LE slow
if [ "${ATTUNE_SKIP_SANITIZE:-0}" != 1 ]; then
  ./scripts/fuzz.sh --unit-tests --time "${ATTUNE_FUZZ_SECONDS:-30}" --jobs "$(nproc)"
fi
