#!/usr/bin/env bash
# The main job: compile the example job kept in the repo and print its manifest.
set -euo pipefail
BIN="$1"; WORK="$2"
rm -rf "$WORK"; mkdir -p "$WORK"
"$BIN/fljob" compile -j examples/hello_job -o "$WORK/bundle"
cat "$WORK/bundle/MANIFEST.json"
