"""Did-you-mean hints for unknown names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str], n: int = 1) -> list[str]:
    return difflib.get_close_matches(word, list(choices), n, cutoff=0.6)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """``"did you mean 'num_rounds'?"`` for the closest choice, or None."""
    match = closest(word, choices)
    return f"did you mean '{match[0]}'?" if match else None
