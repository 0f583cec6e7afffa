"""Format-preserving edits of JSON, HOCON and YAML files by splicing source spans.

The loaders record where every value (and every key) was written; an edit replaces,
inserts or removes exactly those characters, so comments, key order, blank lines and
the rest of the formatting survive. New values are rendered in the file's own format
(``key = value`` in HOCON, ``"key": value`` in JSON, ``key: value`` in YAML).

>>> text = set_value(doc, ("num_rounds",), 7)          # doctest: +SKIP

Each function returns the new text; callers reload it to check the edit (see
:mod:`fljob.compiler.overrides`). :class:`EditError` says when a spot cannot be edited
in place (the caller turns it into a diagnostic).
"""

from __future__ import annotations

import json
import re
from typing import Any

from fljob.compiler.document import Document, Span
from fljob.compiler.keypath import KeyPath, format_key_path

_PLAIN_HOCON_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_PLAIN_YAML_STRING = re.compile(r"^[A-Za-z_./][A-Za-z0-9_ ./\-]*$")
_YAML_SPECIAL_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"})


class EditError(ValueError):
    """The file cannot be edited in place at that key."""


# --- rendering ------------------------------------------------------------------------


def render_value(value: Any, fmt: str) -> str:
    """``value`` written inline in ``fmt`` (``json``, ``hocon`` or ``yaml``)."""
    if fmt == "json":
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        sep = " = " if fmt == "hocon" else ": "
        inner = ", ".join(
            f"{_render_key(str(k), fmt)}{sep}{render_value(v, fmt)}" for k, v in value.items()
        )
        return "{" + (f" {inner} " if fmt == "hocon" and inner else inner) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(render_value(v, fmt) for v in value) + "]"
    if fmt == "yaml" and isinstance(value, str) and _plain_yaml_ok(value):
        return value
    return json.dumps(value, ensure_ascii=False)


def _render_key(key: str, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(key)
    if fmt == "hocon":
        return key if _PLAIN_HOCON_KEY.match(key) else json.dumps(key)
    return key if _plain_yaml_ok(key) else json.dumps(key)


def _plain_yaml_ok(text: str) -> bool:
    """A string YAML reads back unchanged without quotes (and never as another type)."""
    if not _PLAIN_YAML_STRING.match(text) or text.lower() in _YAML_SPECIAL_WORDS:
        return False
    return not (text != text.strip() or re.match(r"^[-+.]?\d", text))


def _render_block(value: Any, fmt: str, indent: str) -> str | None:
    """A YAML block list or mapping at ``indent`` (continuation lines only), or None."""
    if fmt != "yaml" or not value:
        return None
    if isinstance(value, list):
        return f"\n{indent}".join(f"- {render_value(v, fmt)}" for v in value)
    if isinstance(value, dict):
        return f"\n{indent}".join(
            f"{_render_key(str(k), fmt)}: {render_value(v, fmt)}" for k, v in value.items()
        )
    return None


# --- helpers over the text ------------------------------------------------------------


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _comment_start(fmt: str, rest: str) -> bool:
    if fmt == "yaml":
        return rest.startswith("#")
    return rest.startswith("#") or rest.startswith("//")


def _owns_lines(doc: Document, start: int, end: int) -> bool:
    """Whether only whitespace precedes ``start`` on its line and only a separator
    (comma) and a comment follow ``end`` on its line."""
    text = doc.text
    if text[_line_start(text, start) : start].strip():
        return False
    rest = text[end : _line_end(text, end)].strip()
    rest = rest[1:].strip() if rest.startswith(",") else rest
    return not rest or _comment_start(doc.format, rest)


def _span(doc: Document, path: KeyPath) -> Span:
    if path in doc.synthetic:
        raise EditError(
            f"{format_key_path(path) or 'the document'} has no single place in "
            "the file (dotted keys, a merged duplicate, an include or a "
            "substitution)"
        )
    span = doc.spans.get(path)
    if span is None:
        raise EditError(f"no source position for {format_key_path(path)}")
    return span


def _member_start(doc: Document, path: KeyPath) -> int:
    """Where a member starts: its key for an object member, its value for a list item."""
    key = doc.key_spans.get(path)
    return key.start if key is not None else _span(doc, path).start


# --- set -------------------------------------------------------------------------------


def set_value(doc: Document, path: KeyPath, value: Any) -> str:
    """Replace the value at ``path`` (which must exist) with ``value``."""
    if not path:
        raise EditError("cannot replace the whole document")
    span = _span(doc, path)
    text = doc.text
    old = text[span.start : span.end]
    if (
        doc.format == "yaml"
        and not old.lstrip().startswith(("[", "{"))
        and _is_container(doc, path)
    ):
        return _set_yaml_block(doc, path, span, value)
    rendered = render_value(value, doc.format)
    if doc.format == "json" and "\n" in old and isinstance(value, (dict, list)) and value:
        rendered = _json_multiline(doc, span, value)
    if (
        doc.format == "hocon"
        and not isinstance(value, dict)
        and _hocon_needs_separator(doc, path, span)
    ):
        rendered = "= " + rendered
    return text[: span.start] + rendered + text[span.end :]


def _is_container(doc: Document, path: KeyPath) -> bool:
    node: Any = doc.data
    for part in path:
        node = node[part]
    return isinstance(node, (dict, list)) and bool(node)


def _set_yaml_block(doc: Document, path: KeyPath, span: Span, value: Any) -> str:
    """A block value is replaced from just after ``key:`` (or ``-``) to its end."""
    text = doc.text
    indent = " " * (span.col - 1)
    block = _render_block(value, "yaml", indent)
    if block is not None:
        return text[: span.start] + block + text[span.end :]
    key = doc.key_spans.get(path)
    if key is None:
        raise EditError(f"cannot replace the block list item {format_key_path(path)} inline")
    colon = text.find(":", key.end, span.start)
    if colon < 0:
        raise EditError(f"cannot find ':' after the key {format_key_path(path)}")
    return text[: colon + 1] + " " + render_value(value, "yaml") + text[span.end :]


def _json_multiline(doc: Document, span: Span, value: Any) -> str:
    text = doc.text
    line = text[_line_start(text, span.start) : span.start]
    base = line[: len(line) - len(line.lstrip())]
    unit = _indent_unit(text)
    dumped = json.dumps(value, indent=len(unit), ensure_ascii=False)
    return dumped.replace("\n", "\n" + base)


def _indent_unit(text: str) -> str:
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if stripped and len(line) != len(stripped):
            return " " * (len(line) - len(stripped))
    return "  "


def _hocon_needs_separator(doc: Document, path: KeyPath, span: Span) -> bool:
    """``key { ... }`` has no ``=``; a non-object value needs one."""
    key = doc.key_spans.get(path)
    if key is None:
        return False
    between = doc.text[key.end : span.start]
    return "=" not in between and ":" not in between


# --- add -------------------------------------------------------------------------------


def add_value(doc: Document, path: KeyPath, value: Any) -> str:
    """Add the new key ``path[-1]`` with ``value`` to the existing object ``path[:-1]``."""
    if not path or not isinstance(path[-1], str):
        raise EditError("only object members can be added")
    parent_path, key = path[:-1], path[-1]
    parent: Any = doc.data
    for part in parent_path:
        parent = parent[part]
    if not isinstance(parent, dict):
        raise EditError(f"{format_key_path(parent_path) or 'the document'} is not an object")
    fmt = doc.format
    sep = {"json": ": ", "hocon": " = ", "yaml": ": "}[fmt]
    member = f"{_render_key(key, fmt)}{sep}{render_value(value, fmt)}"
    _span(doc, parent_path)  # refuses objects without a single place in the text
    if not parent:
        return _add_to_empty(doc, parent_path, member)
    last = (*parent_path, list(parent)[-1])
    start, end = _member_start(doc, last), _span(doc, last).end
    text = doc.text
    comma = "," if fmt == "json" else ""
    if _owns_lines(doc, start, end):
        indent = text[_line_start(text, start) : start]
        at = _line_end(text, end) if fmt != "json" else end
        return text[:at] + f"{comma}\n{indent}{member}" + text[at:]
    # Members on one line need a comma in every format (HOCON too).
    return text[:end] + ", " + member + text[end:]


def _add_to_empty(doc: Document, parent_path: KeyPath, member: str) -> str:
    text = doc.text
    span = _span(doc, parent_path)
    inner = text[span.start : span.end]
    if not parent_path and not inner.strip().startswith("{"):
        # A HOCON or YAML root without braces: append a line.
        sep = "" if not text or text.endswith("\n") else "\n"
        return text + sep + member + "\n"
    open_brace = text.find("{", span.start, span.end)
    close_brace = text.rfind("}", span.start, span.end)
    if open_brace < 0 or close_brace < 0:
        raise EditError(f"cannot add to {format_key_path(parent_path) or 'the document'}")
    padded = f" {member} " if doc.format == "hocon" else member
    return text[: open_brace + 1] + padded + text[close_brace:]


# --- delete ----------------------------------------------------------------------------


def delete_value(doc: Document, path: KeyPath) -> str:
    """Remove the object member or list item at ``path`` with its separator."""
    if not path:
        raise EditError("cannot delete the whole document")
    text = doc.text
    start, end = _member_start(doc, path), _span(doc, path).end
    if doc.format == "yaml" and text[_line_start(text, start) : start].strip() == "-":
        start = _line_start(text, start)  # a block list item: drop its "- " too
    if _owns_lines(doc, start, end) or (
        doc.format == "yaml" and not text[_line_start(text, start) : start].strip()
    ):
        new = _delete_lines(doc, start, end)
    else:
        new = _delete_inline(text, start, end)
    return new


def _delete_lines(doc: Document, start: int, end: int) -> str:
    text = doc.text
    line_start = _line_start(text, start)
    line_end = _line_end(text, end)
    after = line_end + 1 if line_end < len(text) else line_end
    had_comma = text[end:line_end].lstrip().startswith(",")
    new = text[:line_start] + text[after:]
    if doc.format == "json" and not had_comma:
        new = _drop_comma_before(new, line_start)
    return new


def _delete_inline(text: str, start: int, end: int) -> str:
    match = re.compile(r"\s*,[ \t]*").match(text, end)
    if match:
        return text[:start] + text[match.end() :]
    before = re.search(r",\s*$", text[:start])
    if before:
        return text[: before.start()] + text[end:]
    return text[:start] + text[end:]


def _drop_comma_before(text: str, pos: int) -> str:
    """Remove the comma that ended the previous member (JSON, the last member removed)."""
    i = pos - 1
    while i >= 0 and text[i] in " \t\r\n":
        i -= 1
    if i >= 0 and text[i] == ",":
        return text[:i] + text[i + 1 :]
    return text
