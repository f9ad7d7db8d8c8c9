#!/usr/bin/env bash
# Installs every Debian package attune needs to build, test and run.
# Non-interactive and idempotent: safe to run again; runs as root (or through sudo).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config git ca-certificates clang-format
  # libtorch (CPU) and a fast BLAS under it: without libopenblas0-openmp, matmuls use the slow reference BLAS
  libtorch-dev libopenblas0-openmp
  # Gloo headers for data-parallel training across processes (the library itself is inside libtorch)
  libgloo-dev
  # audio: decode/encode, resample, FFT, speech synthesis (espeak-ng runs as a separate process: GPL-3.0;
  # libespeak-ng-dev only builds that separate program, attune-espeak)
  libsndfile1-dev libsoxr-dev libfftw3-dev espeak-ng libespeak-ng-dev sox
  # CMU Flite (BSD-style): the second talker's voices, linked into its server program attune-flite
  flite1-dev
  # text: Unicode regex for the tokenizer, sentencepiece as the tokenizer benchmark baseline
  libpcre2-dev libsentencepiece-dev sentencepiece
  # utilities
  nlohmann-json3-dev libcli11-dev zlib1g-dev libspdlog-dev libfmt-dev libcpp-httplib-dev
  # jq: the README's curl examples of `attune serve`
  jq
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # the fuzz targets and the sanitizer run (scripts/fuzz.sh, scripts/sanitize.sh): clang with libFuzzer, ASan, UBSan
  clang libclang-rt-14-dev
  # reference values for tests are generated with numpy (never a runtime dependency)
  python3-numpy python3-soundfile
  # the PyTorch-eager baseline of bench/bench_generate_eager.py
  python3-torch
  # the web page's end-to-end test (tests/web): headless Chromium driven by playwright-core
  chromium chromium-driver
)
# Node.js and npm for tests/web, from Debian unless the machine already has a Node.js (e.g. NodeSource's,
# which conflicts with Debian's npm package).
command -v npm >/dev/null || packages+=(nodejs npm)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
