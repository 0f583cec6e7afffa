"""Find what to lint: job folders (a ``meta`` file) and template folders (an ``info``
file), given folders, trees holding many of them, or single files inside them (as
pre-commit passes them)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fljob.compiler.document import EXTENSIONS
from fljob.errors import UsageError

TargetKind = Literal["job", "template"]
_SKIP_DIRS = frozenset(
    {
        "custom",
        "__pycache__",
        "node_modules",
        ".git",
        ".venv",
        "venv",
        ".tox",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
    }
)
_META_NAMES = frozenset("meta" + ext for ext, _ in EXTENSIONS)
_INFO_NAMES = frozenset("info" + ext for ext, _ in EXTENSIONS)


@dataclass(frozen=True, slots=True, order=True)
class Target:
    path: Path
    kind: TargetKind


def kind_of(folder: Path, names: set[str] | None = None) -> TargetKind | None:
    """``template`` for a folder with an info file (templates hold a meta too), ``job``
    for one with a meta file, else None."""
    if names is None:
        try:
            names = set(os.listdir(folder))
        except OSError:
            return None
    if names & _INFO_NAMES:
        return "template"
    if names & _META_NAMES:
        return "job"
    return None


def discover(paths: list[Path]) -> list[Target]:
    """Every target under ``paths``, each once, in argument order (folders of a tree in
    name order). Raise ``UsageError`` for a path that does not exist or holds no target."""
    found: dict[Path, Target] = {}
    for path in paths:
        if not path.exists():
            raise UsageError(f"no such file or folder: {path}", path=str(path))
        targets = _from_file(path) if path.is_file() else _walk(path)
        if not targets:
            raise UsageError(
                f"no job or template folder found in {path}",
                path=str(path),
                hint="a job folder holds meta.conf (or .json/.yml); a template "
                "folder holds info.conf",
            )
        for target in targets:
            found.setdefault(target.path.resolve(), target)
    return list(found.values())


def _from_file(path: Path) -> list[Target]:
    """The nearest folder above a file that is a target."""
    for folder in path.resolve().parents:
        kind = kind_of(folder)
        if kind is not None:
            return [Target(_display(folder, path), kind)]
    return []


def _display(folder: Path, original: Path) -> Path:
    """Keep paths relative when the user gave relative ones."""
    if original.is_absolute():
        return folder
    try:
        return Path(os.path.relpath(folder))
    except ValueError:
        return folder


def _walk(root: Path) -> list[Target]:
    kind = kind_of(root)
    if kind is not None:
        return [Target(root, kind)]
    targets: list[Target] = []
    for folder, dirs, files in os.walk(root):
        kind = kind_of(Path(folder), set(files))
        if kind is not None and folder != str(root):
            targets.append(Target(Path(folder), kind))
            dirs[:] = []  # a target's own subfolders are part of it
            continue
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
    return targets
