"""Shared scaffolds: ``custom/`` files that several templates of one library reuse.

A library keeps them in ``_scaffolds/<name>/``; a template names the ones it uses in
its info.conf, in order::

    scaffold = "pt_cnn"                    # or a list: ["pt_cnn", "pt_extras"]

``fljob create`` copies each scaffold into every app's ``custom/``: a later scaffold's
file replaces an earlier one's, and the template's own ``custom/`` files replace both.
Names resolve inside the template's own library only (never another source's), so a
template means the same files wherever it is installed; a name that is absolute, climbs
with ``..`` or leads through a link out of the library is refused (FLJ607). Folders whose
names start with ``_`` are never templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from fljob.compiler.document import Document
from fljob.compiler.keypath import KeyPath
from fljob.compiler.templates.model import Scaffold
from fljob.compiler.templates.suggest import did_you_mean
from fljob.errors import DiagnosticCollector

SCAFFOLD_DIR = "_scaffolds"
FIELD = "scaffold"


def is_reserved(name: str) -> bool:
    """Library folders that are not templates: ``_scaffolds`` and any other ``_name``."""
    return name.startswith("_")


def parse_scaffold_names(
    document: Document, raw: object, collector: DiagnosticCollector
) -> tuple[str, ...]:
    """The ``scaffold`` field as a tuple of names: a string or a list of strings."""
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    names: list[str] = []
    for index, item in enumerate(items):
        where: KeyPath = (FIELD, index) if isinstance(raw, list) else (FIELD,)
        if not isinstance(item, str) or not item.strip():
            collector.add(
                document.diagnostic(
                    "FLJ602",
                    f"'{FIELD}' must be a scaffold name or a list of them",
                    where,
                    hint=f'write {FIELD} = "pt_cnn" (a folder in the library\'s {SCAFFOLD_DIR}/)',
                )
            )
        elif item in names:
            collector.add(document.diagnostic("FLJ602", f"scaffold '{item}' named twice", where))
        else:
            names.append(item)
    return tuple(names)


def resolve_scaffolds(
    document: Document,
    names: Sequence[str],
    library_root: Path,
    collector: DiagnosticCollector,
) -> tuple[Scaffold, ...]:
    """Each named scaffold's folder in ``library_root/_scaffolds``; FLJ606 for an unknown
    name (with a did-you-mean), FLJ607 for one that leads out of the library."""
    library = library_root.resolve()
    home = (library / SCAFFOLD_DIR).resolve()
    raw = document.data.get(FIELD)
    found = []
    for index, name in enumerate(names):
        where: KeyPath = (FIELD, index) if isinstance(raw, list) else (FIELD,)
        folder = _confined(name, library)
        if folder is None:
            collector.add(
                document.diagnostic(
                    "FLJ607",
                    f"scaffold '{name}' leads outside the template library {library_root}",
                    where,
                    hint=f"name a folder of {library_root / SCAFFOLD_DIR}, e.g. "
                    f'{FIELD} = "pt_cnn"; scaffolds are never shared across libraries',
                )
            )
        elif folder == home or not folder.is_dir():
            collector.add(
                document.diagnostic(
                    "FLJ606",
                    f"unknown scaffold '{name}' (looked in {library_root / SCAFFOLD_DIR})",
                    where,
                    hint=_unknown_hint(name, library_root),
                )
            )
        else:
            found.append(Scaffold(name, folder))
    return tuple(found)


def available_scaffolds(library_root: Path) -> list[str]:
    """The scaffold names a library offers, sorted."""
    folder = library_root / SCAFFOLD_DIR
    try:
        return sorted(c.name for c in folder.iterdir() if c.is_dir() and not c.name.startswith("."))
    except OSError:
        return []


def _confined(name: str, library: Path) -> Path | None:
    """The scaffold folder, resolved, or None when the name or a link escapes ``library``."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or Path(name).is_absolute() or ".." in pure.parts:
        return None
    folder = (library / SCAFFOLD_DIR / pure).resolve()
    if not folder.is_relative_to(library):
        return None
    return folder


def _unknown_hint(name: str, library_root: Path) -> str:
    known = available_scaffolds(library_root)
    if not known:
        return f"the library has no scaffolds: create {library_root / SCAFFOLD_DIR / name}/"
    return did_you_mean(name, known) or "scaffolds here: " + ", ".join(known)
