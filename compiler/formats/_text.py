"""Shared helpers for the format parsers: offsets to lines, syntax errors, suppressions.

Every parser works on character offsets into the file's text and turns them into
:class:`~fljob.compiler.document.Span` objects once, at the end, through a
:class:`LineIndex` (one bisect per span).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fljob.compiler.document import Span
from fljob.compiler.keypath import KeyPath, format_key_path
from fljob.errors import ConfigSyntaxError, Diagnostic, LoadError, Severity

Offsets = tuple[int, int]

_NEWLINE = re.compile(r"\n")
# "# fljob: ignore[FLJ301, FLJ302]" (also after "//" in HOCON)
_SUPPRESS = re.compile(r"fljob:\s*ignore\[([^\]]*)\]")
_CODE = re.compile(r"^FLJ\d{3}$")


class LineIndex:
    """Maps 0-based character offsets to 1-based (line, column)."""

    __slots__ = ("starts", "text")

    def __init__(self, text: str):
        self.text = text
        self.starts = [0]
        self.starts.extend(m.end() for m in _NEWLINE.finditer(text))

    def line_col(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def span(self, start: int, end: int) -> Span:
        line, col = self.line_col(start)
        end_line, end_col = self.line_col(end)
        return Span(line, col, end_line, end_col, start, end)

    def line_text(self, line: int) -> str:
        start = self.starts[line - 1]
        end = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        return self.text[start:end].rstrip("\r")


def caret_snippet(index: LineIndex, offset: int) -> tuple[int, int, str]:
    """(line, col, "source line\\n   ^") for an error at ``offset``."""
    offset = max(0, min(offset, len(index.text)))
    line, col = index.line_col(offset)
    source = index.line_text(line)
    # Keep tabs so the caret lines up with the source line in a terminal.
    pad = "".join(c if c == "\t" else " " for c in source[: col - 1])
    return line, col, f"{source}\n{pad}^"


def located(
    code: str,
    message: str,
    path: Path | str,
    index: LineIndex,
    offset: int,
    *,
    hint: str | None = None,
    severity: Severity = Severity.ERROR,
    key_path: KeyPath = (),
) -> Diagnostic:
    line, col, snippet = caret_snippet(index, offset)
    return Diagnostic(
        code,
        message,
        severity=severity,
        file=str(path),
        line=line,
        col=col,
        hint=hint,
        snippet=snippet,
        key_path=format_key_path(key_path) if key_path else None,
    )


def syntax_error(
    path: Path | str, index: LineIndex, offset: int, message: str, hint: str | None = None
) -> ConfigSyntaxError:
    """An FLJ101 error with a caret under ``offset``."""
    return ConfigSyntaxError([located("FLJ101", message, path, index, offset, hint=hint)])


def unsupported(
    path: Path | str, index: LineIndex, offset: int, message: str, hint: str | None = None
) -> LoadError:
    """An FLJ107 error: the file uses a feature fljob refuses to guess about."""
    return LoadError([located("FLJ107", message, path, index, offset, hint=hint)])


def skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where ``pattern``, matched at ``pos``, stops.

    Only for patterns that also match the empty string (``[ \\t]*``): they match at any
    offset, so there is no failed match to handle.
    """
    m = pattern.match(text, pos)
    assert m is not None, f"{pattern.pattern!r} must match the empty string"
    return m.end()


def describe_char(text: str, offset: int) -> str:
    """How to name the character at ``offset`` in a message."""
    if offset >= len(text):
        return "end of file"
    ch = text[offset]
    if ch == "\n" or ch == "\r":
        return "end of line"
    return repr(ch)


def add_suppression(
    suppressions: dict[int, frozenset[str]], index: LineIndex, comment_start: int, body: str
) -> None:
    """Record ``# fljob: ignore[...]`` found in a comment starting at ``comment_start``.

    The codes apply to the comment's own line, or to the next line when the comment
    stands alone on its line.
    """
    m = _SUPPRESS.search(body)
    if not m:
        return
    codes = frozenset(c.strip() for c in m.group(1).split(",") if _CODE.match(c.strip()))
    if not codes:
        return
    line, _ = index.line_col(comment_start)
    before = index.text[index.starts[line - 1] : comment_start]
    if not before.strip():
        line = _next_content_line(index, line)
    suppressions[line] = suppressions.get(line, frozenset()) | codes


def _next_content_line(index: LineIndex, line: int) -> int:
    """The next line that is neither blank nor only a comment (stacked comments)."""
    last = len(index.starts)
    nxt = line + 1
    while nxt <= last:
        stripped = index.line_text(nxt).strip()
        if stripped and not stripped.startswith(("#", "//")):
            return nxt
        nxt += 1
    return line + 1


@dataclass(slots=True)
class Parsed:
    """What a format parser hands to :func:`fljob.compiler.load.load_text`.

    Spans are still character offsets; ``load_text`` converts them with a LineIndex.
    """

    data: Any
    spans: dict[KeyPath, Offsets] = field(default_factory=dict)
    key_spans: dict[KeyPath, Offsets] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)
    suppressions: dict[int, frozenset[str]] = field(default_factory=dict)
    #: key paths whose value has no single place in the text (see Document.synthetic)
    synthetic: set[KeyPath] = field(default_factory=set)
    #: files pulled in by HOCON ``include``
    includes: list[Path] = field(default_factory=list)


def drop_subtree(spans: dict[KeyPath, Any], path: KeyPath) -> None:
    """Forget the spans under ``path`` (a duplicate key replaced its value)."""
    n = len(path)
    for key in [k for k in spans if len(k) > n and k[:n] == path]:
        del spans[key]
