"""JSON Schema checks (draft 2020-12) of meta, config and template info documents.

Schemas load from the package (``fljob.schemas``) once per process; ``$ref`` resolves
only to schema files of the package, never over the network. Each schema error becomes
a located diagnostic with a stable code: unknown key (FLJ301, with did-you-mean), wrong
type (FLJ302), missing key (FLJ303), any other constraint (FLJ304).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Container, Iterable
from functools import cache
from typing import Any

from fljob.compiler.catalog.model import json_type_name, short_json
from fljob.compiler.document import Document
from fljob.compiler.keypath import KeyPath
from fljob.errors import Diagnostic
from fljob.schemas import SCHEMA_DIR

META = "meta"
SERVER = "config_fed_server"
CLIENT = "config_fed_client"
TEMPLATE_INFO = "template_info"
SCHEMA_NAMES = (META, SERVER, CLIENT, TEMPLATE_INFO)


@cache
def _documents() -> dict[str, Any]:
    """Every schema file of the package, parsed, by file name."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(SCHEMA_DIR.glob("*.schema.json"))
    }


@cache
def _registry() -> Any:
    """The package's schemas for jsonschema (imported only when a file has errors)."""
    from referencing import Registry, Resource
    from referencing.exceptions import NoSuchResource

    def refuse(uri: str) -> Resource:  # never fetch: schemas are offline package data
        # referencing's stubs mark its attrs classes with a pyright-only dataclass
        # transform, so mypy sees no fields on them (here and for Registry below).
        raise NoSuchResource(ref=uri)  # type: ignore[call-arg]

    resources = [(name, Resource.from_contents(doc)) for name, doc in _documents().items()]
    return Registry(retrieve=refuse).with_resources(resources)  # type: ignore[call-arg]


@cache
def validator(name: str) -> Any:
    """The compiled validator of schema ``name`` (``meta``, ``config_fed_server``...)."""
    from jsonschema import Draft202012Validator

    schema = _registry().contents(f"{name}.schema.json")
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry())


@cache
def fast_check(name: str) -> Any:
    """A compiled is-valid check of schema ``name`` (see ``fastschema``), or None when
    the schema uses a keyword it does not support."""
    from fljob.compiler.validate.fastschema import SchemaCompiler, Unsupported

    try:
        return SchemaCompiler(_documents().__getitem__).compile_document(f"{name}.schema.json")
    except Unsupported:
        return None


def warm_up() -> None:
    """Compile every check now (before worker processes fork)."""
    for name in SCHEMA_NAMES:
        fast_check(name)


def check_document(
    doc: Document, schema: str, data: Any | None = None, *, skip: Container[KeyPath] = ()
) -> list[Diagnostic]:
    """Diagnostics for ``data`` (default: the document's data) against ``schema``;
    errors at key paths in ``skip`` (deploy-time references) are left out."""
    data = doc.data if data is None else data
    fast = fast_check(schema)
    if fast is not None and fast(data):
        return []  # valid: no need to ask jsonschema why not
    out: list[Diagnostic] = []
    for error in validator(schema).iter_errors(data):
        path = tuple(error.absolute_path)
        if path in skip:
            continue
        out.extend(_to_diagnostics(doc, error, path))
    return out


def _to_diagnostics(doc: Document, error: Any, path: KeyPath) -> Iterable[Diagnostic]:
    kind = error.validator
    if kind == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        for key in _extra_keys(error):
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
            yield doc.diagnostic(
                "FLJ301", f"unknown key '{key}'", (*path, key), hint=hint, at_key=True
            )
    elif kind == "type":
        yield doc.diagnostic(
            "FLJ302",
            f"expected {_expected_type(error.validator_value)}, got {_json_type(error.instance)}",
            path,
        )
    elif kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        yield doc.diagnostic(
            "FLJ303", f"missing required key '{missing}'", path, hint=_owner_hint(path)
        )
    elif kind == "anyOf" and all(sub.validator == "required" for sub in error.context):
        keys = " or ".join(f"'{sub.validator_value[0]}'" for sub in error.context)
        yield doc.diagnostic(
            "FLJ303",
            f"missing required key {keys}",
            path,
            hint='name the class with path = "module.Class"',
        )
    elif kind in ("enum", "const"):
        allowed = error.validator_value if kind == "enum" else [error.validator_value]
        options = ", ".join(json.dumps(a) for a in allowed)
        yield doc.diagnostic(
            "FLJ304", f"{short_json(error.instance)} is not one of {options}", path
        )
    else:
        yield doc.diagnostic("FLJ304", _constraint_message(error), path)


def _extra_keys(error: Any) -> list[str]:
    allowed = set(error.schema.get("properties", {}))
    return [k for k in error.instance if k not in allowed]


_TYPE_WORDS = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}


def _expected_type(value: Any) -> str:
    names: list[str] = value if isinstance(value, list) else [value]
    return " or ".join(_TYPE_WORDS.get(n, n) for n in names)


def _json_type(value: Any) -> str:
    return f"{json_type_name(value)} {short_json(value)}"


def _owner_hint(path: KeyPath) -> str | None:
    if path and path[0] in ("workflows", "components"):
        return 'each entry needs an id and a path: { id = "...", path = "module.Class" }'
    if path and path[0] == "executors":
        return 'each entry needs tasks and executor: { tasks = ["train"], executor { path = ... } }'
    return None


def _constraint_message(error: Any) -> str:
    kind, limit, value = error.validator, error.validator_value, error.instance
    words = {
        "minimum": f"must be >= {limit}",
        "maximum": f"must be <= {limit}",
        "minItems": f"needs at least {limit} item(s)",
        "minLength": "must not be empty" if limit == 1 else f"needs {limit}+ characters",
        "pattern": f"does not match {limit!r}",
    }
    return f"{short_json(value)} {words.get(kind, error.message)}"
