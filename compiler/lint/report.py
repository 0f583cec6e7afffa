"""The result of a lint run: targets, their diagnostics, filters and the exit code."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fljob.compiler.lint.discover import Target
from fljob.errors import Diagnostic, ExitCode, Severity, UsageError


@dataclass(frozen=True, slots=True)
class TargetResult:
    target: Target
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]


@dataclass(frozen=True, slots=True)
class LintReport:
    results: tuple[TargetResult, ...]
    seconds: float = 0.0

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for r in self.results for d in r.diagnostics]

    def count(self, severity: Severity) -> int:
        return sum(1 for d in self.diagnostics if d.severity is severity)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FINDINGS if self.count(Severity.ERROR) else ExitCode.OK

    def summary(self) -> str:
        errors, warnings = self.count(Severity.ERROR), self.count(Severity.WARNING)
        n = len(self.results)
        return (
            f"fljob lint: {errors} error(s), {warnings} warning(s) in {n} "
            f"target{'s' if n != 1 else ''} ({self.seconds:.2f} s)"
        )


def parse_codes(values: Iterable[str]) -> tuple[str, ...]:
    """``--select FLJ3,FLJ401`` (repeatable, comma-separated) as code prefixes; raise
    ``UsageError`` for anything that is not a code prefix."""
    codes: list[str] = []
    for value in values:
        for item in value.split(","):
            item = item.strip().upper()
            if not item:
                continue
            if not item.startswith("FLJ") or (not item[3:].isdigit() and item != "FLJ"):
                raise UsageError(
                    f"not a rule code or prefix: {item!r}",
                    hint="codes look like FLJ301; a prefix such as FLJ3 selects a range",
                )
            codes.append(item)
    return tuple(codes)


def apply_filters(
    diagnostics: Sequence[Diagnostic],
    *,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    strict: bool = False,
) -> tuple[Diagnostic, ...]:
    """Keep codes matching ``select`` (all when empty), drop those matching ``ignore``;
    with ``strict`` every warning becomes an error."""
    kept = []
    for d in diagnostics:
        if select and not d.code.startswith(tuple(select)):
            continue
        if ignore and d.code.startswith(tuple(ignore)):
            continue
        if strict and d.severity is Severity.WARNING:
            d = d.with_severity(Severity.ERROR)
        kept.append(d)
    return tuple(kept)
