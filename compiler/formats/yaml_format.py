"""YAML with source positions, read with YAML 1.2 core-schema scalar rules.

PyYAML's composer (the libyaml-based ``CSafeLoader`` when available) gives nodes with
marks; this module turns them into plain data itself, so that the scalar rules are
YAML 1.2's core schema and not PyYAML's YAML 1.1 defaults:

- booleans are only ``true``/``false`` (also ``True``, ``TRUE``...); ``yes``, ``no``,
  ``on``, ``off``, ``y``, ``n`` stay strings;
- integers are decimal (``010`` is 10: 1.2 has no implicit octal; write ``0o10`` for
  octal), ``0o17``, ``0x1F``; no sexagesimal (``1:30`` is a string), no ``1_000``;
- ``null``, ``Null``, ``NULL``, ``~`` and an empty value are null;
- floats as in the core schema, including ``.inf``, ``-.inf`` and ``.nan``.

Refused with FLJ107 rather than guessed: merge keys (``<<``), keys that are not
strings, and tags other than the core ones (``!!str``, ``!!int``...).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode, SequenceNode

from fljob.compiler.formats._text import (
    LineIndex,
    Parsed,
    add_suppression,
    drop_subtree,
    located,
    syntax_error,
    unsupported,
)
from fljob.compiler.keypath import KeyPath
from fljob.errors import Severity

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_T = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (_T + n for n in ("str", "int", "float", "bool", "null"))
MAP, SEQ = _T + "map", _T + "seq"

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
# A comment starts at '#' preceded by whitespace or at a line start (YAML's rule).
_COMMENT = re.compile(r"(?:^|(?<=[ \t]))#[^\n]*", re.MULTILINE)


class _CoreLoader(_BaseLoader):
    """Composes nodes, tagging plain scalars by the YAML 1.2 core schema."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if not implicit[0]:  # quoted or block scalar
                return STR
            if _NULL.match(value):
                return NULL
            if _BOOL.match(value):
                return BOOL
            if _INT.match(value):
                return INT
            if _FLOAT.match(value):
                return FLOAT
            return STR
        return SEQ if kind is SequenceNode else MAP


def _to_int(text: str) -> int:
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _to_float(text: str) -> float:
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return float(text)


def _to_bool(text: str) -> bool:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    raise ValueError(text)


def _to_null(text: str) -> None:
    if not _NULL.match(text):
        raise ValueError(text)
    return None


_SCALARS: dict[str, Callable[[str], Any]] = {
    STR: str,
    INT: _to_int,
    FLOAT: _to_float,
    BOOL: _to_bool,
    NULL: _to_null,
}


class _Builder:
    """Turns composed nodes into plain data and offset spans."""

    def __init__(self, text: str, path: Path | str, index: LineIndex):
        self.text, self.path, self.index = text, path, index
        self.out = Parsed(None)
        self.scalars: list[tuple[int, int]] = []  #: scalar source ranges (comments are outside)

    def build(self, node: Node, path: KeyPath) -> tuple[Any, int]:
        """The node's value and the true end offset of its source text."""
        start = node.start_mark.index
        if isinstance(node, ScalarNode):
            value, end = self.scalar(node), node.end_mark.index
            self.scalars.append((start, end))
            if node.style in ("|", ">"):  # the mark includes the trailing line breaks
                end = start + len(self.text[start:end].rstrip())
        elif isinstance(node, SequenceNode):
            value, end = self.sequence(node, path)
        elif isinstance(node, MappingNode):
            value, end = self.mapping(node, path)
        else:  # pragma: no cover - the composer makes only these three
            raise self.refuse(start, f"unexpected YAML node {type(node).__name__}")
        self.out.spans[path] = (start, end)
        return value, end

    def refuse(self, offset: int, message: str, hint: str | None = None) -> Exception:
        return unsupported(self.path, self.index, offset, message, hint)

    def scalar(self, node: ScalarNode) -> Any:
        convert = _SCALARS.get(node.tag)
        if convert is None:
            raise self.refuse(
                node.start_mark.index,
                f"YAML tag {node.tag!r} is not supported",
                "use plain values (strings, numbers, true/false, null)",
            )
        try:
            return convert(node.value)
        except ValueError:
            raise self.refuse(
                node.start_mark.index,
                f"{node.value!r} is not a valid {node.tag.rsplit(':', 1)[-1]}",
            ) from None

    def sequence(self, node: SequenceNode, path: KeyPath) -> tuple[list[Any], int]:
        if node.tag != SEQ:
            raise self.refuse(node.start_mark.index, f"YAML tag {node.tag!r} is not supported")
        items, end = [], node.end_mark.index
        for i, child in enumerate(node.value):
            value, child_end = self.build(child, (*path, i))
            items.append(value)
            end = child_end
        return items, self._collection_end(node, end)

    def mapping(self, node: MappingNode, path: KeyPath) -> tuple[dict[str, Any], int]:
        if node.tag != MAP:
            raise self.refuse(node.start_mark.index, f"YAML tag {node.tag!r} is not supported")
        out: dict[str, Any] = {}
        end = node.end_mark.index
        for key_node, value_node in node.value:
            key = self.key(key_node)
            child = (*path, key)
            if key in out:
                self.out.warnings.append(
                    located(
                        "FLJ106",
                        f'duplicate key "{key}"; the last one wins',
                        self.path,
                        self.index,
                        key_node.start_mark.index,
                        severity=Severity.WARNING,
                        key_path=child,
                    )
                )
                drop_subtree(self.out.spans, child)
                drop_subtree(self.out.key_spans, child)
            self.out.key_spans[child] = (key_node.start_mark.index, key_node.end_mark.index)
            out[key], end = self.build(value_node, child)
        return out, self._collection_end(node, end)

    def key(self, node: Node) -> str:
        offset = node.start_mark.index
        if not isinstance(node, ScalarNode):
            raise self.refuse(offset, "a YAML key must be a string, not a list or mapping")
        if node.tag == STR and node.style in (None, "") and node.value == "<<":
            raise self.refuse(
                offset,
                "YAML merge keys (<<) are not supported",
                "write the keys out, or use a HOCON substitution",
            )
        if node.tag != STR:
            raise self.refuse(
                offset, f"the key {node.value!r} is not a string", f'quote it: "{node.value}"'
            )
        key: str = node.value  # a scalar tagged str holds its text
        return key

    def _collection_end(self, node: CollectionNode, last_child_end: int) -> int:
        # Flow collections end at their closing bracket; block ones at their last child
        # (the mark would include trailing comments and blank lines).
        if node.flow_style:
            return node.end_mark.index
        return last_child_end if node.value else node.end_mark.index


# PyYAML's wording -> the user's terms, for the common mistakes.
_MESSAGES = {
    "but found another document": "a config file holds one YAML document; found a second '---'",
    "mapping values are not allowed here": "unexpected ':' (check the indentation, or quote "
    "a value that contains ': ')",
    "mapping values are not allowed in this context": "unexpected ':' (check the indentation, "
    "or quote a value that contains ': ')",
    "found character that cannot start any token": "a character that cannot start a value "
    "(a tab used for indentation, or an unquoted '@' or '`')",
}


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    problem = (exc.problem or "invalid YAML").strip()
    if problem in _MESSAGES:
        return _MESSAGES[problem]
    if exc.context:
        return f"{problem} ({exc.context.strip()})"
    return problem


def parse_yaml(text: str, path: Path | str) -> Parsed:
    """Parse YAML text (one document) into data with offset spans."""
    index = LineIndex(text)
    try:
        root = yaml.compose(text, Loader=_CoreLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        offset = mark.index if mark is not None else 0
        hint = (
            "indent with spaces, not tabs"
            if "\t" in index.line_text(index.line_col(offset)[0])
            else None
        )
        raise syntax_error(path, index, offset, _yaml_message(exc), hint) from None
    except yaml.YAMLError as exc:
        raise syntax_error(path, index, 0, str(exc).strip() or "invalid YAML") from None
    builder = _Builder(text, path, index)
    if root is None:
        builder.out.data = None
        return builder.out
    builder.out.data, _ = builder.build(root, ())
    _suppressions(text, index, builder)
    return builder.out


def _suppressions(text: str, index: LineIndex, builder: _Builder) -> None:
    if "fljob:" not in text:
        return
    for m in _COMMENT.finditer(text):
        # A '#' inside a quoted or multi-line scalar is text, not a comment.
        if any(start < m.start() < end for start, end in builder.scalars):
            continue
        add_suppression(builder.out.suppressions, index, m.start(), m.group())
