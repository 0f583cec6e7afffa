"""A fast validity check for fljob's own schemas.

jsonschema (and check-jsonschema, built on it) walks a schema anew for every instance,
resolving each ``$ref`` on the way; that costs milliseconds per config file. Lint mostly
sees valid files, so this module compiles a schema once into nested closures that only
answer *is it valid?*. When the answer is no, jsonschema runs on that file to explain
every error, so messages and codes stay those of the reference implementation.

Only the keywords fljob's schemas use are supported; any other keyword raises
``Unsupported`` at compile time and the caller falls back to jsonschema alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "title", "description", "default", "$comment", "examples"}
)
_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class Unsupported(Exception):
    """The schema uses a keyword this compiler does not know."""


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but True != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and bool(a == b)
    return bool(a == b)


class SchemaCompiler:
    """Compiles schemas of one registry; ``resolve(uri)`` returns a schema document."""

    def __init__(self, resolve: Callable[[str], Mapping[str, Any]]):
        self._resolve = resolve
        self._cache: dict[str, Check] = {}

    def compile_document(self, name: str) -> Check:
        return self._ref(name, name)

    def _ref(self, ref: str, base: str) -> Check:
        document, _, pointer = ref.partition("#")
        document = document or base
        key = f"{document}#{pointer}"
        if key in self._cache:
            return self._cache[key]
        # Late binding: recursive schemas refer to themselves through this cell.
        cell: list[Check] = []
        self._cache[key] = lambda v: cell[0](v)
        schema: Any = self._resolve(document)
        for part in [p for p in pointer.split("/") if p]:
            schema = schema[part.replace("~1", "/").replace("~0", "~")]
        check = self._compile(schema, document)
        cell.append(check)
        self._cache[key] = check
        return check

    def _compile(self, schema: Any, base: str) -> Check:
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        checks: list[Check] = []
        for keyword, value in schema.items():
            if keyword in _ANNOTATIONS or keyword in ("properties", "additionalProperties"):
                continue
            checks.append(self._keyword(keyword, value, schema, base))
        if "properties" in schema or "additionalProperties" in schema:
            checks.append(self._object(schema, base))
        if len(checks) == 1:
            return checks[0]
        return lambda v: all(check(v) for check in checks)

    def _keyword(self, keyword: str, value: Any, schema: Mapping[str, Any], base: str) -> Check:
        if keyword == "$ref":
            return self._ref(value, base)
        if keyword == "type":
            names = value if isinstance(value, list) else [value]
            tests = [_TYPES[n] for n in names]
            return lambda v: any(t(v) for t in tests)
        if keyword == "required":
            keys = tuple(value)
            return lambda v: not isinstance(v, dict) or all(k in v for k in keys)
        if keyword == "enum":
            options = list(value)
            return lambda v: any(_equal(v, o) for o in options)
        if keyword == "const":
            return lambda v: _equal(v, value)
        if keyword == "items":
            item = self._compile(value, base)
            return lambda v: not isinstance(v, list) or all(item(x) for x in v)
        if keyword in ("minItems", "maxItems"):
            lo = keyword == "minItems"
            return lambda v: not isinstance(v, list) or (len(v) >= value if lo else len(v) <= value)
        if keyword in ("minLength", "maxLength"):
            lo = keyword == "minLength"
            return lambda v: not isinstance(v, str) or (len(v) >= value if lo else len(v) <= value)
        if keyword in ("minimum", "maximum"):
            lo = keyword == "minimum"
            return lambda v: not _TYPES["number"](v) or (v >= value if lo else v <= value)
        if keyword == "pattern":
            regex = re.compile(value)
            return lambda v: not isinstance(v, str) or regex.search(v) is not None
        if keyword in ("anyOf", "oneOf", "allOf"):
            subs = [self._compile(s, base) for s in value]
            if keyword == "anyOf":
                return lambda v: any(s(v) for s in subs)
            if keyword == "allOf":
                return lambda v: all(s(v) for s in subs)
            return lambda v: sum(1 for s in subs if s(v)) == 1
        raise Unsupported(keyword)

    def _object(self, schema: Mapping[str, Any], base: str) -> Check:
        props = {k: self._compile(s, base) for k, s in schema.get("properties", {}).items()}
        extra_schema = schema.get("additionalProperties", True)
        extra = None if extra_schema is True else self._compile(extra_schema, base)

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for key, item in v.items():
                sub = props.get(key)
                if sub is not None:
                    if not sub(item):
                        return False
                elif extra is not None and not extra(item):
                    return False
            return True

        return check
