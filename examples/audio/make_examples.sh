#!/usr/bin/env bash
# Regenerates the example clips with espeak-ng (run as a separate program; GPL-3.0) and sox.
# The same neutral words said two ways: the words carry no emotion, the voice does.
set -euo pipefail
cd "$(dirname "$0")"
text="I'm fine, really. Everything is fine. I just got the results back."
render() {  # name, espeak-ng options...
  local name=$1; shift
  espeak-ng -v en-us "$@" -w "/tmp/$name.wav" "$text"
  sox "/tmp/$name.wav" -r 16000 -c 1 -b 16 "$name.flac"
  rm -f "/tmp/$name.wav"
}
render fine_calm -p 30 -s 140 -a 50
render fine_tense -p 80 -s 210 -a 110
