"""JSON (RFC 8259) with source positions.

The data equals ``json.loads`` (strings are decoded by the standard library's own C
scanner), except that ``NaN``/``Infinity``, which RFC 8259 forbids, are errors. Each
error names what was expected in user terms, with a caret under the bad spot.
"""

from __future__ import annotations

import json.decoder
import re
from collections.abc import Callable
from json import JSONDecodeError
from pathlib import Path
from typing import Any

from fljob.compiler.formats._text import (
    LineIndex,
    Parsed,
    drop_subtree,
    located,
    skip,
    syntax_error,
)
from fljob.compiler.keypath import KeyPath
from fljob.errors import Severity

# The standard library's C string scanner: exactly json.loads' decoding and errors.
# typeshed leaves it out (it is undocumented, though public since Python 2.6).
_ScanString = Callable[[str, int, bool], tuple[str, int]]
_scanstring: _ScanString = json.decoder.scanstring  # type: ignore[attr-defined]
_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONSTANTS: dict[str, Any] = {"true": True, "false": False, "null": None}
_VALUE_START = "expected a value (object, list, string, number, true, false or null)"


class _JsonParser:
    __slots__ = ("dupes", "index", "key_spans", "path", "spans", "text")

    def __init__(self, text: str, path: Path | str):
        self.text = text
        self.path = path
        self.index = LineIndex(text)
        self.spans: dict[KeyPath, tuple[int, int]] = {}
        self.key_spans: dict[KeyPath, tuple[int, int]] = {}
        self.dupes: list[tuple[KeyPath, int]] = []

    def error(self, offset: int, message: str, hint: str | None = None) -> Exception:
        return syntax_error(self.path, self.index, offset, message, hint)

    def parse(self) -> Any:
        pos = skip(_WS, self.text, 0)
        if pos == len(self.text):
            raise self.error(pos, "the file is empty", 'an empty config is "{}"')
        value, pos = self.value(pos, ())
        pos = skip(_WS, self.text, pos)
        if pos != len(self.text):
            raise self.error(
                pos,
                "unexpected text after the end of the document",
                "a JSON file holds exactly one value",
            )
        return value

    def value(self, pos: int, path: KeyPath) -> tuple[Any, int]:
        text = self.text
        ch = text[pos] if pos < len(text) else ""
        value: Any
        if ch == "{":
            value, end = self.object(pos, path)
        elif ch == "[":
            value, end = self.array(pos, path)
        elif ch == '"':
            value, end = self.string(pos)
        else:
            m = _NUMBER.match(text, pos)
            if m and m.end() > pos:
                integer, frac, exp = m.groups()
                if integer.lstrip("-") == "0" and text[m.end() : m.end() + 1].isdigit():
                    raise self.error(
                        pos,
                        "leading zeros are not allowed in JSON numbers",
                        "write the number without them, or quote it",
                    )
                value = float(integer + (frac or "") + (exp or "")) if frac or exp else int(integer)
                end = m.end()
            else:
                value, end = self.word(pos)
        self.spans[path] = (pos, end)
        return value, end

    def word(self, pos: int) -> tuple[Any, int]:
        m = _WORD.match(self.text, pos)
        if m and m.group() in _CONSTANTS:
            return _CONSTANTS[m.group()], m.end()
        raise self._bad_value(pos, m.group() if m else "")

    def _bad_value(self, pos: int, word: str) -> Exception:
        text = self.text
        if pos >= len(text):
            return self.error(pos, f"unexpected end of file: {_VALUE_START}")
        if word in ("NaN", "Infinity") or text.startswith("-Infinity", pos):
            return self.error(
                pos, "NaN and Infinity are not valid JSON numbers", "use a string or null"
            )
        if word.lower() in _CONSTANTS:
            return self.error(
                pos,
                f"'{word}' is not a JSON value",
                f"JSON constants are lower case: {word.lower()}",
            )
        if text[pos] == "'":
            return self.error(pos, _VALUE_START, "JSON strings use double quotes")
        if text.startswith(("//", "/*"), pos) or text[pos] == "#":
            return self.error(
                pos,
                "JSON does not allow comments",
                "use HOCON (.conf) or YAML for a commented config",
            )
        if text[pos] in "+." or text[pos].isdigit() or text.startswith("-", pos):
            return self.error(
                pos, "invalid number", "JSON numbers have no leading '+', '.' or zeros"
            )
        if word:
            return self.error(
                pos, f"{_VALUE_START}, found '{word}'", "strings must be in double quotes"
            )
        return self.error(pos, _VALUE_START)

    def string(self, pos: int) -> tuple[str, int]:
        try:
            return _scanstring(self.text, pos + 1, True)
        except JSONDecodeError as exc:
            raise self._string_error(pos, exc) from None

    def _string_error(self, pos: int, exc: JSONDecodeError) -> Exception:
        msg = exc.msg
        if msg.startswith("Unterminated string"):
            return self.error(pos, "unterminated string", 'close it with a "')
        if msg.startswith("Invalid control character"):
            return self.error(
                exc.pos,
                "control character (e.g. a line break or tab) in a string",
                r"write it as an escape: \n, \t",
            )
        if "uXXXX" in msg:
            at = exc.pos - 1 if self.text[exc.pos - 1 : exc.pos] == "\\" else exc.pos
            return self.error(at, r"invalid \u escape: it needs four hex digits")
        return self.error(
            exc.pos, "invalid escape in a string", r"valid escapes: \" \\ \/ \b \f \n \r \t \uXXXX"
        )

    def object(self, pos: int, path: KeyPath) -> tuple[dict[str, Any], int]:
        text = self.text
        out: dict[str, Any] = {}
        pos = skip(_WS, text, pos + 1)
        if text.startswith("}", pos):
            return out, pos + 1
        while True:
            if not text.startswith('"', pos):
                raise self._bad_key(pos, bool(out))
            key, end = self.string(pos)
            child = (*path, key)
            if key in out:
                self.dupes.append((child, pos))
                drop_subtree(self.spans, child)
                drop_subtree(self.key_spans, child)
            self.key_spans[child] = (pos, end)
            pos = skip(_WS, text, end)
            if not text.startswith(":", pos):
                raise self.error(pos, f"expected ':' after the key \"{key}\"")
            pos = skip(_WS, text, pos + 1)
            out[key], pos = self.value(pos, child)
            pos = skip(_WS, text, pos)
            if text.startswith(",", pos):
                pos = skip(_WS, text, pos + 1)
            elif text.startswith("}", pos):
                return out, pos + 1
            else:
                raise self.error(
                    pos, "expected ',' or '}' after an object member", self._missing_comma_hint(pos)
                )

    def _bad_key(self, pos: int, after_comma: bool) -> Exception:
        text = self.text
        if after_comma and text.startswith(",", pos):
            return self.error(pos, "two commas in a row", "remove one of the commas")
        if after_comma and text.startswith("}", pos):
            return self.error(pos, "trailing comma before '}'", "remove the last comma")
        if text.startswith("'", pos):
            return self.error(pos, "expected a key in double quotes", "JSON uses double quotes")
        if text.startswith(("//", "/*", "#"), pos):
            return self.error(
                pos,
                "JSON does not allow comments",
                "use HOCON (.conf) or YAML for a commented config",
            )
        if pos >= len(text):
            return self.error(pos, "unexpected end of file: expected a key or '}'")
        return self.error(
            pos,
            "expected a key in double quotes" + ("" if after_comma else " or '}'"),
            'JSON keys are quoted: "name": value',
        )

    def _missing_comma_hint(self, pos: int) -> str | None:
        return "add a comma between members" if self.text.startswith('"', pos) else None

    def array(self, pos: int, path: KeyPath) -> tuple[list[Any], int]:
        text = self.text
        out: list[Any] = []
        pos = skip(_WS, text, pos + 1)
        if text.startswith("]", pos):
            return out, pos + 1
        while True:
            if out and text.startswith(",", pos):
                raise self.error(pos, "two commas in a row", "remove one of the commas")
            if out and text.startswith("]", pos):
                raise self.error(pos, "trailing comma before ']'", "remove the last comma")
            item, pos = self.value(pos, (*path, len(out)))
            out.append(item)
            pos = skip(_WS, text, pos)
            if text.startswith(",", pos):
                pos = skip(_WS, text, pos + 1)
            elif text.startswith("]", pos):
                return out, pos + 1
            else:
                raise self.error(pos, "expected ',' or ']' after a list item")


def parse_json(text: str, path: Path | str) -> Parsed:
    """Parse JSON text; raise ConfigSyntaxError (FLJ101) with a caret on bad input."""
    parser = _JsonParser(text, path)
    data = parser.parse()
    warnings = [
        located(
            "FLJ106",
            f'duplicate key "{child[-1]}"; the last one wins',
            path,
            parser.index,
            offset,
            severity=Severity.WARNING,
            key_path=child,
        )
        for child, offset in parser.dupes
    ]
    return Parsed(data, parser.spans, parser.key_spans, warnings)
