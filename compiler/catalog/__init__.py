"""The component catalog: known class paths, their arguments and references.

``lookup("fljob.runtime.workflows.FedAvg")`` gives a :class:`ComponentSpec`, or
``None`` for a path outside the catalog. FLARE's short class names (``name =
"ScatterAndGather"``) are found with ``lookup_name``. Static data only: nothing from
the job or from FLARE is imported.
"""

from __future__ import annotations

import difflib
from functools import cache

from fljob.compiler.catalog.model import (
    REQUIRED,
    ArgSpec,
    ComponentSpec,
    json_type_name,
    short_json,
)

__all__ = [
    "REQUIRED",
    "ArgSpec",
    "ComponentSpec",
    "all_components",
    "closest_path",
    "json_type_name",
    "lookup",
    "lookup_name",
    "short_json",
]


@cache
def _index() -> dict[str, ComponentSpec]:
    from fljob.compiler.catalog import flare, fljob_components

    table: dict[str, ComponentSpec] = {}
    for component in [*fljob_components.COMPONENTS, *flare.ALL]:
        if component.path in table:
            raise RuntimeError(f"duplicate catalog entry {component.path}")
        table[component.path] = component
    return table


@cache
def _by_name() -> dict[str, list[ComponentSpec]]:
    names: dict[str, list[ComponentSpec]] = {}
    for component in _index().values():
        names.setdefault(component.short_name, []).append(component)
    return names


def all_components() -> list[ComponentSpec]:
    return sorted(_index().values(), key=lambda c: c.path)


def lookup(path: str) -> ComponentSpec | None:
    return _index().get(path)


def lookup_name(name: str) -> ComponentSpec | None:
    """A FLARE short class name, when exactly one catalog entry has it."""
    found = _by_name().get(name, [])
    return found[0] if len(found) == 1 else None


def closest_path(path: str) -> str | None:
    """The known class path closest to ``path`` (for did-you-mean hints)."""
    close = difflib.get_close_matches(path, list(_index()), n=1, cutoff=0.8)
    if close:
        return close[0]
    # same class name under another module (a moved or misremembered module path)
    same = _by_name().get(path.rsplit(".", 1)[-1], [])
    return same[0].path if len(same) == 1 else None
