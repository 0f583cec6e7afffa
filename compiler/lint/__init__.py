"""``fljob lint``: find job and template folders, check them all, report in CI formats.

>>> report = lint_paths([Path("jobs/")])                     # doctest: +SKIP
>>> print(render(report, "text")); report.exit_code          # doctest: +SKIP

``lint_job(job_dir)`` is the one-job API (the template linter calls it); it never
raises for user mistakes, and applies ``# fljob: ignore[CODE]`` suppressions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from fljob.compiler.lint.discover import Target, discover
from fljob.compiler.lint.driver import lint_job, lint_targets, lint_template_dir
from fljob.compiler.lint.formats import FORMATS, render
from fljob.compiler.lint.report import LintReport, TargetResult, apply_filters, parse_codes
from fljob.safety import SafetyPolicy

__all__ = [
    "FORMATS",
    "LintReport",
    "Target",
    "TargetResult",
    "discover",
    "lint_job",
    "lint_paths",
    "lint_template_dir",
    "parse_codes",
    "render",
]


def lint_paths(
    paths: Sequence[Path],
    *,
    policy: SafetyPolicy | None = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    strict: bool = False,
    workers: int | None = None,
) -> LintReport:
    """Lint every job and template folder found under ``paths``. Raises ``UsageError``
    only for a path that does not exist or holds nothing to lint."""
    start = time.perf_counter()
    targets = discover([Path(p) for p in paths])
    per_target = lint_targets(targets, policy=policy, workers=workers)
    results = tuple(
        TargetResult(t, apply_filters(diags, select=select, ignore=ignore, strict=strict))
        for t, diags in zip(targets, per_target, strict=True)
    )
    return LintReport(results, seconds=time.perf_counter() - start)
