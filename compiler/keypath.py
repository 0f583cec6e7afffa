"""Key paths: the address of a value inside a config document.

A key path is a tuple of object keys (str) and list indices (int). Its text form is
dotted with indices in brackets: ``workflows[0].args.num_rounds``. Keys that are not
plain identifiers are quoted: ``args."learning-rate"``.
"""

from __future__ import annotations

import re

KeyPath = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z_@$][A-Za-z0-9_\-@$]*$")
_TOKEN = re.compile(r'\[(\d+)\]|"((?:[^"\\]|\\.)*)"|([^.\[\]"]+)|(\.)')


def format_key_path(path: KeyPath) -> str:
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
            continue
        text = part if _PLAIN_KEY.match(part) else '"' + part.replace('"', '\\"') + '"'
        out.append(("." if out else "") + text)
    return "".join(out)


def parse_key_path(text: str) -> KeyPath:
    """Parse ``workflows[0].args.num_rounds`` into a tuple; raise ValueError on bad syntax."""
    parts: list[str | int] = []
    pos = 0
    expect_key = True
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"bad key path {text!r} at position {pos}")
        index, quoted, plain, dot = m.groups()
        if dot:
            if expect_key:
                raise ValueError(f"bad key path {text!r}: empty key at position {pos}")
            expect_key = True
        elif index is not None:
            if not parts:
                raise ValueError(f"bad key path {text!r}: it starts with an index")
            parts.append(int(index))
            expect_key = False
        else:
            if not expect_key:
                raise ValueError(f"bad key path {text!r}: missing '.' at position {pos}")
            parts.append(quoted.replace('\\"', '"') if quoted is not None else plain.strip())
            expect_key = False
        pos = m.end()
    if expect_key:
        raise ValueError(f"bad key path {text!r}: it is empty or ends with '.'")
    return tuple(parts)
