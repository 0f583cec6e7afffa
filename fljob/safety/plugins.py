"""Plug-in safety checkers: by dotted path (``pkg.mod:func`` or ``pkg.mod.func``) or by
the ``fljob.safety_checkers`` entry-point group.

A checker is a callable ``checker(configs, *, job_root, policy)`` that returns an
iterable of :class:`~fljob.safety.checks.SafetyFinding` (or ``None``), or raises
``UnsafeJobError``; its diagnostics then become findings.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from fljob.errors import UnsafeJobError
from fljob.safety.checks import SafetyFinding
from fljob.safety.policy import SafetyPolicy

ENTRY_POINT_GROUP = "fljob.safety_checkers"
Checker = Callable[..., Any]


def load_checker(dotted: str) -> Checker:
    """Import ``pkg.mod:func`` or ``pkg.mod.func``; raise ImportError/AttributeError."""
    module_name, sep, attr = dotted.partition(":")
    if not sep:
        module_name, _, attr = dotted.rpartition(".")
    if not module_name or not attr:
        raise ImportError(f"not a dotted path: {dotted!r}")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{dotted} is not callable")
    checker: Checker = target
    return checker


@cache
def entry_point_checkers() -> tuple[tuple[str, Checker | Exception], ...]:
    """Installed checkers, found once per process (scanning distributions is slow)."""
    from importlib.metadata import entry_points

    found: list[tuple[str, Checker | Exception]] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found.append((f"{ep.name} ({ep.value})", ep.load()))
        except Exception as exc:  # a broken plug-in is a finding, not a crash
            found.append((f"{ep.name} ({ep.value})", exc))
    return tuple(found)


def run_checkers(
    configs: Mapping[str, Mapping[str, Any]], *, job_root: Path, policy: SafetyPolicy
) -> list[SafetyFinding]:
    """Run every checker the policy names (and the entry-point group when enabled)."""
    named: list[tuple[str, Checker | Exception]] = []
    for dotted in policy.checkers:
        try:
            named.append((dotted, load_checker(dotted)))
        except Exception as exc:
            named.append((dotted, exc))
    if policy.entry_points:
        named.extend(entry_point_checkers())
    findings: list[SafetyFinding] = []
    for label, checker in named:
        if isinstance(checker, Exception):
            findings.append(_failed(label, f"cannot be loaded: {checker}"))
            continue
        findings.extend(_run_one(label, checker, configs, job_root, policy))
    return findings


def _run_one(
    label: str,
    checker: Checker,
    configs: Mapping[str, Mapping[str, Any]],
    job_root: Path,
    policy: SafetyPolicy,
) -> list[SafetyFinding]:
    try:
        result = checker(configs, job_root=job_root, policy=policy)
    except UnsafeJobError as exc:
        return [
            SafetyFinding(
                d.code if d.code.startswith("FLJ5") else "FLJ507",
                f"{label}: {d.message}",
                file=d.file,
                hint=d.hint,
            )
            for d in exc.diagnostics()
        ]
    except Exception as exc:
        return [_failed(label, f"crashed: {type(exc).__name__}: {exc}")]
    out: list[SafetyFinding] = []
    for item in result or ():
        if isinstance(item, SafetyFinding):
            out.append(item)
        else:
            out.append(SafetyFinding("FLJ507", f"{label}: {item}"))
    return out


def _failed(label: str, what: str) -> SafetyFinding:
    return SafetyFinding(
        "FLJ508",
        f"safety checker {label} {what}",
        hint="fix or uninstall the checker; an unchecked job is not trusted",
    )
