"""Deploy time: each site fills in the system and environment variables of a bundle.

The compiler leaves strings that hold ``{SITE_NAME}``-style system references or
``{$NAME}`` environment references in *template form* (literal braces doubled) and lists
their key paths in the MANIFEST's ``deploy_refs``. :func:`resolve_deploy_time` is what
every site (and ``fljob render --site``) runs on them. It imports no loader, pyhocon or
click: the runtime imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fljob.compiler.keypath import KeyPath, format_key_path, parse_key_path
from fljob.compiler.references import (
    SYSTEM_VARIABLES,
    EnvRef,
    VariableRef,
    parse_template,
    scalar_text,
    type_scalar,
)
from fljob.errors import Diagnostic, ResolveError, UndefinedVariableError

__all__ = ["resolve_deploy_time"]


def resolve_deploy_time(
    data: Any,
    deploy_refs: Mapping[str, Sequence[str]] | Mapping[KeyPath, Any],
    *,
    system: Mapping[str, Any],
    env: Mapping[str, str],
    source: str | None = None,
) -> Any:
    """Fill in the system and environment variables of the strings listed in
    ``deploy_refs`` (key path text as in the MANIFEST, or key path tuples); return a new
    structure, ``data`` is left as it is. Substituted values are never rescanned.

    A string that is exactly one reference (``"{$PORT}"``) takes the value's type by
    the scalar rules of :func:`~fljob.compiler.references.type_scalar` (``8002`` int,
    ``true`` bool, ``010`` stays a string); inside a longer string values are text.
    ``{$NAME:-default}`` uses the default when ``NAME`` is unset or empty (as the shell
    does); ``{$NAME}`` set to the empty string gives the empty string. ``source``
    names the file in diagnostics.

    Raises :class:`~fljob.errors.UndefinedVariableError` (FLJ207) for an environment
    variable neither set nor defaulted, :class:`~fljob.errors.ResolveError` for a system
    variable the site does not give (FLJ208) or a listed path that holds no template
    string (FLJ209); every problem at once, each naming its key path.

    >>> resolve_deploy_time({"a": {"p": "{$PORT:-8002}"}}, {"a.p": ["$PORT"]}, system={}, env={})
    {'a': {'p': 8002}}
    """
    result = _copy(data)
    problems: list[Diagnostic] = []

    def problem(code: str, message: str, path: KeyPath | str, hint: str | None = None) -> None:
        shown = path if isinstance(path, str) else format_key_path(path)
        problems.append(Diagnostic(code, message, file=source, key_path=shown, hint=hint))

    for key in deploy_refs:
        try:
            path = parse_key_path(key) if isinstance(key, str) else tuple(key)
        except ValueError as exc:
            problem("FLJ209", f"bad key path in deploy_refs: {exc}", str(key))
            continue
        parent, leaf = _parent(result, path)
        if parent is None or not isinstance(parent[leaf], str):
            problem(
                "FLJ209",
                "deploy_refs lists a key path that holds no string",
                path,
                hint="the bundle was changed after it was compiled; compile it again",
            )
            continue
        parent[leaf] = _render(parent[leaf], path, system, env, problem)
    if problems:
        undefined_only = all(d.code == "FLJ207" for d in problems)
        raise (UndefinedVariableError if undefined_only else ResolveError)(problems)
    return result


def _render(
    text: str,
    path: KeyPath,
    system: Mapping[str, Any],
    env: Mapping[str, str],
    problem: Callable[..., None],
) -> Any:
    template = parse_template(text)
    values: list[Any] = []
    for part in template.parts:
        if isinstance(part, str):
            values.append(part)
        elif isinstance(part, EnvRef):
            value = env.get(part.name)
            if not value and part.default is not None:  # as in the shell: unset or empty
                value = part.default
            if value is None:
                problem(
                    "FLJ207",
                    f"environment variable {part.name} is not set and "
                    f"{{{part.text}}} gives no default",
                    path,
                    hint=f"set {part.name} on the site, or write {{${part.name}:-DEFAULT}}",
                )
            values.append(value)
        elif isinstance(part, VariableRef) and part.name in SYSTEM_VARIABLES and not part.accessors:
            value = system.get(part.name)
            if value is None:
                problem("FLJ208", f"system variable {part.name} has no value on this site", path)
            values.append(value)
        else:
            problem(
                "FLJ209",
                f"{{{part.text}}} is not a deploy-time reference",
                path,
                hint="the bundle was changed after it was compiled; compile it again",
            )
            values.append(None)
    if template.single is not None:
        value = values[0]
        return type_scalar(value) if isinstance(value, str) else value
    return "".join(scalar_text(v) for v in values)


def _parent(data: Any, path: KeyPath) -> tuple[Any, Any]:
    """The container holding ``path`` and the last key, or (None, None) if there is none."""
    if not path:
        return None, None
    node = data
    for part in path[:-1]:
        node = _child(node, part)
        if node is None:
            return None, None
    leaf = path[-1]
    if isinstance(node, dict) and isinstance(leaf, str) and leaf in node:
        return node, leaf
    if isinstance(node, list) and isinstance(leaf, int) and leaf < len(node):
        return node, leaf
    return None, None


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict) and isinstance(part, str):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return None


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
