#!/usr/bin/env bash
# Builds attune's libFuzzer targets (fuzz/, clang, ASan + UBSan) and runs each for a fixed time on a
# seed corpus made from the repository's fixtures, after replaying every regression input
# (fuzz/regressions/<target>/ plus crafted deep-nesting inputs made here). Fails on any finding;
# the crashing input is left in <build>/fuzz-work/findings/<target>/. With --unit-tests it first
# builds and runs the unit-labelled tests in the same sanitized build (CI's sanitizer job).
#
#   scripts/fuzz.sh                       # every target, 30 s each (CI's smoke run)
#   scripts/fuzz.sh --time 600 fuzz_bpe   # one target, 10 minutes
#   scripts/fuzz.sh --jobs 2 --time 600   # two targets at a time
#   scripts/fuzz.sh --unit-tests --jobs 2 # CI: unit tests under ASan + UBSan, then 30 s per target
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
jobs=1
build=build-fuzz
targets=()
unit_tests=0
while [ $# -gt 0 ]; do
  case "$1" in
    --time) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --build-dir) build="$2"; shift 2 ;;
    --unit-tests) unit_tests=1; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    fuzz_*) targets+=("$1"); shift ;;
    *) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
all=(fuzz_base64 fuzz_audio fuzz_npy fuzz_safetensors fuzz_safetensors_index fuzz_model_config
     fuzz_tokenizer_json fuzz_bpe fuzz_corpus fuzz_chat_request)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

# Leaks inside system libraries attune cannot fix (each explained in the file).
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DATTUNE_WITH_TORCH=OFF -DATTUNE_FUZZ=ON -DATTUNE_BUILD_BENCH=OFF >/dev/null
if [ "$unit_tests" = 1 ]; then
  start=$(date +%s)
  cmake --build "$build" -j"$(nproc)"
  echo "fuzz.sh: sanitized build in $(( $(date +%s) - start )) s"
  start=$(date +%s)
  ctest --test-dir "$build" -L unit --output-on-failure -j"$(nproc)"
  echo "fuzz.sh: unit tests under ASan + UBSan in $(( $(date +%s) - start )) s"
else
  cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"
fi

work="$build/fuzz-work"
shared="${ATTUNE_SHARED_DIR:-../shared}"

# ---- seeds: fuzz/seeds/<name>/ and fixtures read in place (small files only: big seeds slow mutation) --------
seed_dirs() {  # prints the seed folders of target $1, making the generated ones
  local name="${1#fuzz_}" gen="$work/seeds/${1#fuzz_}"
  rm -rf "$gen" && mkdir -p "$gen"
  [ -d "fuzz/seeds/$name" ] && echo "fuzz/seeds/$name"
  case "$name" in
    safetensors) find tests/fixtures -name '*.safetensors' -size -32k -exec cp {} "$gen/" \; ;;
    model_config)
      for f in tests/fixtures/*/config.json models/attune-small/config.json; do
        cp "$f" "$gen/$(echo "$f" | tr / _)"
      done ;;
    bpe) cp examples/dialogues.json "$gen/" ;;
    corpus)
      # The first byte picks the reader (the order of fuzz_corpus.cpp's table).
      local i=0
      for entry in reccon/dailydialog_train.json ecf/Subtask_1_train.json esconv/train_with_scores.jsonl \
                   meld/train_sent_emo.csv empatheticdialogues/valid.jsonl cped/valid_split.csv dailydialog/train.jsonl \
                   counselchat/counselchat.jsonl annomi/annomi.jsonl emocontext/emocontext.jsonl swda/swda.jsonl \
                   smilechat_zh/- epitome/epitome_reddit.jsonl ravdess/metadata.csv emodb/metadata.csv humdial/train.jsonl; do
        local src="tests/fixtures/data/$entry"
        case "$entry" in
          ravdess/*|emodb/*) src="$shared/data/speech/$entry" ;;
        esac
        if [ -f "$src" ]; then
          { printf "\\x$(printf %02x $i)"; head -c 16384 "$src"; } > "$gen/$(dirname "$entry")"
        fi
        i=$((i + 1))
      done ;;
  esac
  echo "$gen"
}

# ---- regression inputs: the committed ones and crafted deep nesting (what crashed attune before) ------------
nest() { printf "%${1}s" | tr ' ' "$2"; printf "%${1}s" | tr ' ' "$3"; }
regressions() {  # prints the regression files of target $1
  local name="${1#fuzz_}" gen="$work/regressions/${1#fuzz_}"
  rm -rf "$gen" && mkdir -p "$gen"
  case "$name" in
    chat_request) { printf '{"messages":[{"role":"user","content":"hi"}],"modalities":'; nest 60000 '[' ']'; printf '}'; } > "$gen/deep_modalities" ;;
    model_config) { printf '{"model_type":"qwen2","rope_scaling":'; nest 60000 '[' ']'; printf '}'; } > "$gen/deep_rope_scaling" ;;
    tokenizer_json) { printf '{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"normalizer":'; nest 60000 '[' ']'; printf '}'; } > "$gen/deep_normalizer" ;;
    corpus) { printf '\x00{"tr_1":['; nest 60000 '[' ']'; printf ']}'; } > "$gen/deep_reccon"
            { printf '\x01['; nest 60000 '[' ']'; printf ']'; } > "$gen/deep_ecf" ;;
    safetensors)
      local header; header=$(printf '{"w":{"dtype":"F32","shape":'; nest 30000 '[' ']'; printf ',"data_offsets":[0,0]}}')
      { printf "$(printf '\\x%02x' $(( ${#header} & 255 )) $(( (${#header} >> 8) & 255 )) $(( (${#header} >> 16) & 255 )))"
        printf '\x00\x00\x00\x00\x00%s' "$header"; } > "$gen/deep_shape" ;;
  esac
  [ -d "fuzz/regressions/$name" ] && find "fuzz/regressions/$name" -type f
  find "$gen" -type f
}

run_target() {  # runs target $1; prints one summary line; returns non-zero on a finding
  local t="$1" bin="$build/fuzz/$1" log="$work/logs/$1.log" findings="$work/findings/$1"
  mkdir -p "$work/logs" "$findings" "$work/corpus/$t"
  mapfile -t regress < <(regressions "$t")
  if [ ${#regress[@]} -gt 0 ] && ! "$bin" -rss_limit_mb=2048 -timeout=20 "${regress[@]}" >"$log.regress" 2>&1; then
    echo "$t: a regression input fails again (log: $log.regress)"
    grep -m2 -E 'SUMMARY|ERROR|runtime error' "$log.regress" | cut -c1-300 >&2
    return 1
  fi
  mapfile -t seeds < <(seed_dirs "$t")
  if ! "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -max_len=16384 -print_final_stats=1 \
       -artifact_prefix="$findings/" "$work/corpus/$t" "${seeds[@]}" >"$log" 2>&1; then
    echo "$t: FINDING after $(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo '?') runs: $(ls "$findings" | head -n 1) (log: $log)"
    grep -m2 -E 'SUMMARY|ERROR|runtime error' "$log" | cut -c1-300 >&2 || true
    return 1
  fi
  local runs secs
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$')
  secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*')
  printf '%-24s %10s execs %8s exec/s %6s corpus inputs %4s regressions  0 findings\n' "$t" "$runs" \
    "$(( runs / (secs > 0 ? secs : 1) ))" "$(ls "$work/corpus/$t" | wc -l)" "${#regress[@]}"
}

mkdir -p "$work"
echo "fuzz.sh: ${#targets[@]} targets x ${seconds} s, $jobs at a time"
start=$(date +%s)
failed=0
running=0
for t in "${targets[@]}"; do
  run_target "$t" > "$work/$t.summary" 2>&1 &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || failed=1; running=$((running - 1)); fi
done
while [ "$running" -gt 0 ]; do wait -n || failed=1; running=$((running - 1)); done
for t in "${targets[@]}"; do cat "$work/$t.summary"; done
echo "fuzz.sh: done in $(( $(date +%s) - start )) s"
exit "$failed"
