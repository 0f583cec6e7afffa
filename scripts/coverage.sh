#!/usr/bin/env bash
# make coverage: run the test suite under coverage (Python subprocesses included, see
# [tool.coverage.*] in pyproject.toml) and print the report.
#
# Usage: scripts/coverage.sh [VENV_BIN] [PYTEST ARGS...]
# The combined data is left in .coverage (git-ignored): `coverage html` renders it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$(cd "${1:-$ROOT/.venv/bin}" && pwd)"
shift || true
cd "$ROOT"

# An absolute data file: children that change directory still write next to the parent.
DATA="$(mktemp -d "${TMPDIR:-/tmp}/fljob-coverage.XXXXXX")"
trap 'rm -rf "$DATA"' EXIT
export COVERAGE_FILE="$DATA/.coverage"

status=0
"$BIN/coverage" run -m pytest -q "$@" || status=$?
"$BIN/coverage" combine --quiet "$DATA"
"$BIN/coverage" report
cp "$COVERAGE_FILE" "$ROOT/.coverage"
exit "$status"
