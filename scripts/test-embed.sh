#!/usr/bin/env bash
# Embedding check (issue #20): installs attune from a build directory into a fresh prefix, checks that
# the installed library exports only the public API (no torch or internal symbols) and that the
# installed headers include only standard and attune/ headers, then builds examples/embed against
# the *installed* package in a separate CMake project and runs its C++ and C programs on an example
# recording. Usage: scripts/test-embed.sh [BUILD_DIR]   (default build; ctest runs it as embed_installed)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
work=$(realpath -m "$build/embed-check")
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" > "$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }

lib=$(find "$prefix" -name 'libattune.so' | head -n 1)
[ -n "$lib" ] || { echo "test-embed: no libattune.so under $prefix" >&2; exit 1; }
nm -D -C --defined-only "$lib" | awk '{ $1 = ""; $2 = ""; print substr($0, 3) }' > "$work/exports.txt"
if grep -E '(^|[ (<,])(at|c10|torch|caffe2)::' "$work/exports.txt"; then
  echo "test-embed: $lib exports torch symbols (above)" >&2; exit 1
fi
if grep -vE '^(attune_[a-z_0-9]+|(typeinfo( name)? for |vtable for )?attune::[A-Za-z_]+(\[abi:cxx11\])?(::|\(| |$))' "$work/exports.txt" |
   grep -E '.'; then
  echo "test-embed: $lib exports symbols outside the public API (above)" >&2; exit 1
fi
if grep -E 'attune::(affect|audio|common|data|eval|io|kernels|model|runtime|serve|text|train|tts)::|::Impl::' "$work/exports.txt"; then
  echo "test-embed: $lib exports internal attune symbols (above)" >&2; exit 1
fi
if grep -rhE '^#\s*include' "$prefix/include/attune" | grep -vE '^#\s*include\s*(<[a-z_0-9./]+>|"attune/[a-z_]+\.h")'; then
  echo "test-embed: an installed header includes a non-public header (above)" >&2; exit 1
fi
echo "test-embed: $(wc -l < "$work/exports.txt") exported symbols, all public; headers self-contained"

cmake -S examples/embed -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" > "$work/configure.log"
cmake --build "$work/build" -j"$(nproc)" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
clip=examples/audio/fine_tense.flac
for program in embed_cpp embed_c; do
  out=$work/reply-$program.wav
  "$work/build/$program" models/attune-small "$clip" "$out" | tee "$work/$program.txt"
  grep -q '^heard' "$work/$program.txt" || { echo "test-embed: $program printed no heard emotion" >&2; exit 1; }
  [ -s "$out" ] || { echo "test-embed: $program wrote no audio" >&2; exit 1; }
done
echo "test-embed: both programs ran against the installed package"
