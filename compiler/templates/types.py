"""Value types of template variables and overrides: names, checks and text conversion.

Command-line values are converted by the declared type, else by the type of the value
the file already holds. Nothing is guessed: ``"010"`` stays a string for a string key,
``y``/``n`` are never booleans, and a mismatch is an error naming the expected type.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

#: canonical type names, and the spellings accepted in ``info.conf``
TYPE_ALIASES: dict[str, str] = {
    "int": "int",
    "integer": "int",
    "float": "float",
    "number": "float",
    "bool": "bool",
    "boolean": "bool",
    "str": "str",
    "string": "str",
    "list": "list",
    "array": "list",
    "dict": "dict",
    "object": "dict",
    "any": "any",
}
TYPES: tuple[str, ...] = ("int", "float", "bool", "str", "list", "dict", "any")

_INT = re.compile(r"^[+-]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$")
_WHOLE_REFERENCE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}$")


def canonical_type(name: str) -> str | None:
    """The canonical name of a declared type, or None when it is unknown."""
    return TYPE_ALIASES.get(name.strip().lower()) if isinstance(name, str) else None


def type_of(value: Any) -> str:
    """The type name of a loaded value (``null`` for None)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "any"


def whole_reference(value: Any) -> str | None:
    """``"{num_rounds}"`` -> ``num_rounds``: a typed reference to another variable."""
    if isinstance(value, str):
        match = _WHOLE_REFERENCE.match(value)
        if match:
            return match.group(1)
    return None


def matches_type(value: Any, type_name: str) -> bool:
    """Whether a loaded value fits ``type_name`` (an int fits a float; null fits any)."""
    actual = type_of(value)
    if type_name in ("any", actual):
        return True
    return type_name == "float" and actual == "int"


def convert(text: str, type_name: str) -> Any:
    """Convert command-line text to ``type_name``; raise ValueError saying what was expected.

    >>> convert("010", "str"), convert("7", "int"), convert("true", "bool")
    ('010', 7, True)
    """
    if type_name == "str":
        return text
    if type_name == "int":
        if not _INT.match(text.strip()):
            raise ValueError(f"expected an int, got {text!r}")
        return int(text)
    if type_name == "float":
        stripped = text.strip()
        if not _FLOAT.match(stripped):
            raise ValueError(f"expected a number, got {text!r}")
        return float(stripped)
    if type_name == "bool":
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError(f"expected true or false, got {text!r}")
        return lowered == "true"
    if type_name in ("list", "dict"):
        return _convert_json(text, type_name)
    return convert_untyped(text)


def _convert_json(text: str, type_name: str) -> Any:
    expected = "a list such as [1, 2]" if type_name == "list" else 'an object such as {"a": 1}'
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"expected {expected} in JSON, got {text!r}") from None
    if type_of(value) != type_name:
        raise ValueError(f"expected {expected} in JSON, got {text!r}")
    return value


def convert_untyped(text: str) -> Any:
    """Scalar rules for a key of unknown type: null, true/false, int, float, JSON list or
    object, else the text itself. Leading zeros keep a string (``010``)."""
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered == "null":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INT.match(stripped):
        return int(stripped)
    if _FLOAT.match(stripped) and any(c in stripped for c in ".eE"):
        return float(stripped)
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return text
    return text


def check_constraints(
    value: Any,
    *,
    choices: Sequence[Any] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> str | None:
    """A message when ``value`` breaks its choices or bounds, else None."""
    if choices is not None and value not in choices:
        listed = ", ".join(json.dumps(c) for c in choices)
        return f"{json.dumps(value)} is not one of the choices: {listed}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and math.isnan(value):
            return "NaN is not allowed"
        if minimum is not None and value < minimum:
            return f"{value} is below the minimum {minimum:g}"
        if maximum is not None and value > maximum:
            return f"{value} is above the maximum {maximum:g}"
    return None
