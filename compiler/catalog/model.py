"""What the catalog knows about one component: its arguments, their types, defaults,
bounds, and which of them name other components."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["workflow", "executor", "component", "filter"]
Side = Literal["server", "client", "both"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

#: Type names an argument may have; ``a|b`` is a union, ``null`` allows None.
_CHECKS: dict[str, Callable[[Any], bool]] = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list),
    "list[str]": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "dict": lambda v: isinstance(v, Mapping),
    "null": lambda v: v is None,
    "any": lambda v: True,
}
TYPE_NAMES = frozenset(_CHECKS)

_JSON_NAMES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "list",
    dict: "object",
    type(None): "null",
}


def json_type_name(value: Any) -> str:
    for py_type, name in _JSON_NAMES.items():
        if type(value) is py_type:
            return name
    return "object" if isinstance(value, Mapping) else type(value).__name__


def short_json(value: Any, limit: int = 40) -> str:
    """``value`` as JSON, cut to ``limit`` characters, for messages."""
    import json

    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class ArgSpec:
    name: str
    type: str  #: e.g. ``int``, ``str|null``, ``list[str]``
    default: Any = REQUIRED
    #: kind of component this argument names by id (``pipe``, ``persistor``...), if any
    ref: str | None = None
    ref_list: bool = False  #: the argument is a list of component ids
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def accepts(self, value: Any) -> bool:
        return any(_CHECKS[t](value) for t in self.type.split("|"))

    def describe(self) -> str:
        default = "" if self.required else f" = {self.default!r}"
        return f"{self.name}: {self.type}{default}"


@dataclass(frozen=True, slots=True)
class ComponentSpec:
    """One known class path. ``category`` (``persistor``, ``pipe``, ``aggregator``...) is
    what ``*_id`` arguments expect when they name this component."""

    path: str
    kind: Kind
    side: Side
    category: str
    args: Mapping[str, ArgSpec] = field(default_factory=dict)
    accepts_kwargs: bool = False  #: takes ``**kwargs``: unknown arguments are not errors
    summary: str = ""

    @property
    def short_name(self) -> str:
        return self.path.rsplit(".", 1)[-1]


def spec(
    path: str,
    kind: Kind,
    side: Side,
    category: str,
    *args: ArgSpec,
    kwargs: bool = False,
    summary: str = "",
) -> ComponentSpec:
    for arg in args:
        unknown = set(arg.type.split("|")) - TYPE_NAMES
        if unknown:  # a typo in the catalog itself is a bug: fail at import
            raise ValueError(f"{path}.{arg.name}: unknown type(s) {sorted(unknown)}")
    return ComponentSpec(path, kind, side, category, {a.name: a for a in args}, kwargs, summary)


def arg(
    name: str,
    type_: str,
    default: Any = REQUIRED,
    *,
    ref: str | None = None,
    ref_list: bool = False,
    choices: tuple[Any, ...] | None = None,
    minimum: float | None = None,
) -> ArgSpec:
    return ArgSpec(name, type_, default, ref, ref_list, choices, minimum)


def ref(name: str, category: str, default: Any = REQUIRED) -> ArgSpec:
    """An argument naming another component by id; ``""`` or null means none."""
    type_ = "str" if default is REQUIRED or (isinstance(default, str) and default) else "str|null"
    return ArgSpec(name, type_, default, category)
