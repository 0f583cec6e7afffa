"""A loaded spec file: plain data plus where each value was written.

Every loader (JSON, HOCON, YAML) returns a :class:`Document`. Later stages never look
at the text again; they ask the document where a key path was written so that every
diagnostic can name file, line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fljob.compiler.keypath import KeyPath, format_key_path
from fljob.errors import Diagnostic, Severity

Format = Literal["json", "hocon", "yaml"]

#: Search order for one base name; the first file found wins.
EXTENSIONS: tuple[tuple[str, Format], ...] = (
    (".json", "json"),
    (".conf", "hocon"),
    (".yml", "yaml"),
    (".yaml", "yaml"),
)


@dataclass(frozen=True, slots=True)
class Span:
    """Where a value (or key) was written. Lines and columns are 1-based; offsets are
    0-based character offsets into the file's text, ``end`` exclusive, so that
    ``text[start:end]`` is exactly the value's source text (used to edit in place)."""

    line: int
    col: int
    end_line: int
    end_col: int
    start: int
    end: int


@dataclass(slots=True)
class Document:
    """One parsed spec file.

    ``spans`` maps the key path of every value (the root is ``()``) to its span;
    ``key_spans`` maps the key path of every object member to the span of its key.
    ``suppressions`` maps a 1-based line to the codes silenced there by a
    ``# fljob: ignore[FLJ301]`` comment (HOCON and YAML).
    ``warnings`` holds what the loader noticed without failing (FLJ106 duplicate keys).
    ``synthetic`` lists key paths whose value has no single place in the text: HOCON
    objects made by dotted keys (``args.x = 1``) or by merging duplicates, values from an
    ``include`` and the children of a substituted ``${...}`` value. Their spans point at
    where they were (first) written, but ``text[start:end]`` is not their whole source,
    so editors must not splice them.
    ``includes`` lists the files a HOCON ``include`` pulled in.
    """

    path: Path
    format: Format
    data: dict[str, Any]
    text: str
    spans: dict[KeyPath, Span] = field(default_factory=dict)
    key_spans: dict[KeyPath, Span] = field(default_factory=dict)
    suppressions: dict[int, frozenset[str]] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)
    synthetic: frozenset[KeyPath] = frozenset()
    includes: tuple[Path, ...] = ()

    def span_of(self, path: KeyPath) -> Span | None:
        """The span of ``path``, or of its nearest ancestor that has one."""
        while True:
            span = self.spans.get(path)
            if span is not None or not path:
                return span
            path = path[:-1]

    def diagnostic(
        self,
        code: str,
        message: str,
        path: KeyPath = (),
        *,
        severity: Severity = Severity.ERROR,
        hint: str | None = None,
        at_key: bool = False,
    ) -> Diagnostic:
        """A diagnostic located at ``path`` in this file (at its key with ``at_key``)."""
        span = self.key_spans.get(path) if at_key else None
        span = span or self.span_of(path)
        return Diagnostic(
            code,
            message,
            severity=severity,
            file=str(self.path),
            line=span.line if span else None,
            col=span.col if span else None,
            key_path=format_key_path(path) if path else None,
            hint=hint,
        )

    def is_suppressed(self, code: str, line: int | None) -> bool:
        return line is not None and code in self.suppressions.get(line, frozenset())
