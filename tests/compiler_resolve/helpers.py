"""Real config files for the resolution tests: write them, load them with the real loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fljob.compiler.document import Document
from fljob.compiler.load import load_document

CLIENT_KEY = "app/config/config_fed_client"


def write_json(folder: Path, data: dict[str, Any], name: str = "config_fed_client.json") -> Path:
    """One value per line (indent 2), so each string has its own line in diagnostics."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def load_json(folder: Path, data: dict[str, Any], name: str = "config_fed_client.json") -> Document:
    return load_document(write_json(folder, data, name))


def position(path: Path, needle: str) -> tuple[int, int]:
    """1-based (line, col) of the first occurrence of ``needle`` in the file."""
    text = path.read_text(encoding="utf-8")
    offset = text.index(needle)
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1
