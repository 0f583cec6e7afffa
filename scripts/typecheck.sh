#!/usr/bin/env bash
# Type-check fljob with mypy.
#
# Why a symlink tree: the import package `fljob` is assembled by setup.py from several
# top-level folders (compiler/ -> fljob.compiler, runtime/ -> fljob.runtime, ...). The
# editable install maps them with an import hook that mypy cannot follow, so we lay the
# package out as it is imported, under a temporary directory, with links back to the
# sources; reported paths are turned back into working-tree paths.
#
# Strict (see [tool.mypy] in pyproject.toml): the compiler and the package root.
# Default settings plus check_untyped_defs: the runtime and the CLI.
#
# Usage: scripts/typecheck.sh [--strict-only | --loose-only]
# Env:   MYPY (default .venv/bin/mypy), MYPY_CACHE_DIR (default .mypy_cache)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MYPY="${MYPY:-$ROOT/.venv/bin/mypy}"
CACHE="${MYPY_CACHE_DIR:-$ROOT/.mypy_cache}"
# mypy runs from the temporary tree: make relative paths absolute (relative to the caller).
[[ "$MYPY" == */* && "$MYPY" != /* ]] && MYPY="$PWD/$MYPY"
[[ "$CACHE" != /* ]] && CACHE="$PWD/$CACHE"
MODE="${1:-all}"
case "$MODE" in
    all | --strict-only | --loose-only) ;;
    *) echo "usage: $0 [--strict-only | --loose-only]" >&2; exit 2 ;;
esac
cd "$ROOT"

T="$(mktemp -d "${TMPDIR:-/tmp}/fljob-typecheck.XXXXXX")"
trap 'rm -rf "$T"' EXIT

# fljob/ as a tree of per-file links (so the mapped folders can be added inside it),
# the mapped folders as single directory links.
cp -rs "$ROOT/fljob" "$T/fljob"
for folder in compiler runtime cli templates schemas; do
    ln -s "$ROOT/$folder" "$T/fljob/$folder"
done

STRICT=(-m fljob -p fljob.compiler -p fljob.errors -p fljob.bundle -p fljob.rules -p fljob.safety
    -p fljob.client)
LOOSE=(-p fljob.runtime -p fljob.cli -m fljob.__main__)

run_mypy() {
    # The tree comes first on the search path, ahead of the installed (editable) fljob.
    # --no-warn-unused-configs: each run uses only some of the overrides (grpc is imported
    # by the runtime only, jsonschema by the compiler only); --strict would flag the rest.
    # Paths are printed as in the working tree (fljob/compiler/x.py -> compiler/x.py).
    (cd "$T" && MYPYPATH="$T" "$MYPY" --config-file "$ROOT/pyproject.toml" \
        --cache-dir "$CACHE" "$@" --no-warn-unused-configs) |
        sed -E 's#^fljob/(compiler|runtime|cli|templates|schemas)/#\1/#'
}

status=0
if [[ "$MODE" != "--loose-only" ]]; then
    echo "mypy --strict ${STRICT[*]}"
    run_mypy --strict "${STRICT[@]}" || status=1
fi
if [[ "$MODE" != "--strict-only" ]]; then
    # The strict packages are followed here as imports but only reported in the first run.
    echo "mypy --check-untyped-defs ${LOOSE[*]}"
    run_mypy --check-untyped-defs "${LOOSE[@]}" || status=1
fi
exit "$status"
