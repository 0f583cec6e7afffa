#!/usr/bin/env bash
# The main job: create a PyTorch FedAvg job from the built-in template, compile it,
# and run it on the local runtime with 2 sites for 3 rounds.
set -euo pipefail
BIN="$1"; WORK="$2"
rm -rf "$WORK"; mkdir -p "$WORK"
"$BIN/fljob" create -j "$WORK/job" -w sag_pt -f config_fed_server.conf num_rounds=3
"$BIN/fljob" lint "$WORK/job"
"$BIN/fljob" compile -j "$WORK/job" -o "$WORK/bundle"
"$BIN/fljob" run -j "$WORK/job" -n 2 -w "$WORK/workspace"
