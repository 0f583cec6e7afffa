"""Random config documents and renderers into JSON, HOCON and YAML (seeded, no deps)."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import yaml

KEYS = [
    "a",
    "num_rounds",
    "path",
    "args",
    "x-y",
    "k2",
    "lr",
    "with space",
    "dotted.key",
    "tasks",
    "é",
]
WORDS = [
    "train",
    "net.Net",
    "python3 -u custom/train.py",
    "grpc://host:8002",
    "a/b/c",
    "x-y_z",
    "héllo ✓",
    'say "hi"',
    "back\\slash",
    "tab\there",
    "two\nlines",
    "yes",
    "null",
    "{app_script}",
    "",
    "100",
    "true story",
]
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def random_value(rng: random.Random, depth: int, in_list: bool = False) -> Any:
    roll = rng.random()
    if depth < 3 and roll < 0.25:
        return random_object(rng, depth + 1)
    if depth < 3 and roll < 0.4:
        return [random_value(rng, depth + 1, True) for _ in range(rng.randint(0, 3))]
    kind = rng.choice(["int", "float", "bool", "null", "str", "str", "str"])
    if kind == "int":
        return rng.choice([0, 1, -7, 42, 10**12])
    if kind == "float":
        return rng.choice([0.5, -2.25, 1e-05, 3.0, 1234.5])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    words = [w for w in WORDS if w or not in_list]  # pyhocon drops "" from lists
    return rng.choice(words)


def random_object(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    keys = rng.sample(KEYS, rng.randint(3, 7) if depth == 0 else rng.randint(0, 4))
    return {k: random_value(rng, depth) for k in keys}


def to_json(data: Any, rng: random.Random) -> str:
    return json.dumps(data, indent=rng.choice([None, 2, 4]), ensure_ascii=rng.random() < 0.3)


def to_yaml(data: Any, rng: random.Random) -> str:
    return yaml.safe_dump(
        data,
        default_flow_style=rng.choice([False, None, True]),
        allow_unicode=True,
        sort_keys=False,
    )


# ----------------------------------------------------------------------------- HOCON
def _hocon_string(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def _hocon_key(key: str, rng: random.Random) -> str:
    if _PLAIN_KEY.match(key) and rng.random() < 0.7:
        return key
    return json.dumps(key, ensure_ascii=False)


def _hocon_scalar(value: Any, rng: random.Random) -> str:
    if value is True or value is False:
        return rng.choice(["true", "TRUE", "True"]) if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    if (
        re.fullmatch(r"[a-z][a-z_]*", value)
        and value not in ("true", "false", "null", "yes", "include")
        and rng.random() < 0.5
    ):
        return value  # unquoted
    return _hocon_string(value)


def to_hocon(data: Any, rng: random.Random, indent: int = 0) -> str:
    """A HOCON rendering with random separators, comments and (dotted) key styles."""
    if indent == 0 and rng.random() < 0.5:
        return "{\n" + _members(data, rng, 1) + "}\n"
    return _members(data, rng, 0)


def _members(obj: dict[str, Any], rng: random.Random, level: int) -> str:
    pad = "  " * level
    lines = []
    for i, (key, value) in enumerate(obj.items()):
        if rng.random() < 0.2:
            lines.append(f"{pad}{rng.choice(['#', '//'])} comment about {key}\n")
        rendered_key = _hocon_key(key, rng)
        # a = { b = 1, c = 2 } may be written a.b = 1 and a.c = 2 (dotted keys)
        if (
            isinstance(value, dict)
            and value
            and rendered_key == key
            and all(_PLAIN_KEY.match(k) for k in value)
            and rng.random() < 0.5
        ):
            for inner_key, inner in value.items():
                lines.append(
                    f"{pad}{key}.{inner_key}{_assign(inner, rng)}{_value(inner, rng, level)}\n"
                )
            continue
        sep = "," if rng.random() < 0.3 and i < len(obj) - 1 else ""
        lines.append(f"{pad}{rendered_key}{_assign(value, rng)}{_value(value, rng, level)}{sep}\n")
    return "".join(lines)


def _assign(value: Any, rng: random.Random) -> str:
    if isinstance(value, dict):
        return rng.choice([" ", " = ", ": ", " : "])
    return rng.choice([" = ", ": ", "="])


def _value(value: Any, rng: random.Random, level: int) -> str:
    pad = "  " * level
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{\n" + _members(value, rng, level + 1) + pad + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        if rng.random() < 0.5:
            return "[" + ", ".join(_value(v, rng, level) for v in value) + "]"
        items = "".join(f"{pad}  {_value(v, rng, level + 1)}\n" for v in value)
        return "[\n" + items + pad + "]"
    return _hocon_scalar(value, rng)
