"""Find every component a config would build, in plain config dicts.

FLARE builds a component from any object that names a class (``path``, or ``name``)
with only ``id``/``path``/``name``/``args`` keys, wherever it sits: in ``components``,
``workflows``, ``executors[i].executor``, filter lists, and nested inside another
component's ``args`` (``model = {path = "net.Net"}``). Both the safety check and the
component catalog walk configs with this one function.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

KeyPath = tuple[str | int, ...]

_SPEC_KEYS = frozenset({"id", "path", "name", "args"})


@dataclass(frozen=True, slots=True)
class ComponentRef:
    key_path: KeyPath  #: of the object that names the class
    class_path: str  #: the ``path`` value, else the ``name`` value
    by_name: bool  #: named by ``name`` (FLARE's short class name), not by ``path``
    args: Any  #: the ``args`` value (a dict when well formed), ``None`` when absent
    component_id: str | None
    section: str  #: ``workflows``, ``components``, ``executors``, ``filters`` or ``nested``


def is_class_spec(value: Any) -> bool:
    if not isinstance(value, Mapping) or not value.keys() <= _SPEC_KEYS:
        return False
    target = value.get("path", value.get("name"))
    return isinstance(target, str)


def iter_components(config: Mapping[str, Any]) -> Iterator[ComponentRef]:
    """Every class spec of one config, top-level sections first, each followed by the
    class specs nested in its arguments."""
    for section in ("workflows", "components"):
        for i, item in enumerate(_list(config.get(section))):
            yield from _spec_and_nested(item, (section, i), section)
    for i, item in enumerate(_list(config.get("executors"))):
        if isinstance(item, Mapping):
            yield from _spec_and_nested(
                item.get("executor"), ("executors", i, "executor"), "executors"
            )
    for section in ("task_data_filters", "task_result_filters"):
        for i, item in enumerate(_list(config.get(section))):
            if isinstance(item, Mapping):
                for j, spec in enumerate(_list(item.get("filters"))):
                    yield from _spec_and_nested(spec, (section, i, "filters", j), "filters")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _spec_and_nested(value: Any, key_path: KeyPath, section: str) -> Iterator[ComponentRef]:
    if not isinstance(value, Mapping):
        return
    target = value.get("path", value.get("name"))
    if isinstance(target, str):
        cid = value.get("id")
        yield ComponentRef(
            key_path,
            target,
            "path" not in value,
            value.get("args"),
            cid if isinstance(cid, str) else None,
            section,
        )
    args = value.get("args")
    if args is not None:
        yield from _nested(args, (*key_path, "args"))


def _nested(value: Any, key_path: KeyPath) -> Iterator[ComponentRef]:
    if isinstance(value, Mapping):
        if is_class_spec(value):
            yield from _spec_and_nested(value, key_path, "nested")
            return
        for key, item in value.items():
            yield from _nested(item, (*key_path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _nested(item, (*key_path, i))


def format_key_path(path: KeyPath) -> str:
    """``workflows[0].args.num_rounds`` (the runtime must not import the compiler)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
