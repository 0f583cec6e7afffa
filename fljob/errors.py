"""One exception tree for all of fljob, and the diagnostic record every stage reports.

The library raises; only the CLI prints and exits. Each error knows its exit code and
can describe itself as a list of :class:`Diagnostic` records (file, line, column, key
path, message, hint), so the CLI and ``fljob lint`` render every failure the same way.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace


class ExitCode(enum.IntEnum):
    """Exit codes CI can rely on."""

    OK = 0  #: success
    FINDINGS = 1  #: the job has errors, or the job failed
    USAGE = 2  #: bad command line or refused request (existing output, missing file)
    INTERNAL = 3  #: a bug in fljob


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding about user input.

    ``line`` and ``col`` are 1-based. ``key_path`` is dotted with indices, e.g.
    ``workflows[0].args.num_rounds``.
    """

    code: str
    message: str
    severity: Severity = Severity.ERROR
    file: str | None = None
    line: int | None = None
    col: int | None = None
    key_path: str | None = None
    hint: str | None = None
    snippet: str | None = None  #: source line plus a caret, for syntax errors

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def with_severity(self, severity: Severity) -> Diagnostic:
        return replace(self, severity=severity)

    def location(self) -> str:
        parts = [self.file or "fljob"]  # no file: the message is about the command itself
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def format(self) -> str:
        """``file:line:col: CODE severity message`` plus snippet and hint lines."""
        where = f" [{self.key_path}]" if self.key_path else ""
        lines = [f"{self.location()}: {self.code} {self.severity.value}: {self.message}{where}"]
        if self.snippet:
            lines.extend("    " + s for s in self.snippet.splitlines())
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "key_path": self.key_path,
            "hint": self.hint,
        }


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.file or "", d.line or 0, d.col or 0, d.code)


class FljobError(Exception):
    """Root of every error fljob raises on purpose."""

    exit_code: ExitCode = ExitCode.FINDINGS
    code: str = "FLJ000"

    def __init__(self, message: str, *, path: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.hint = hint

    def diagnostics(self) -> list[Diagnostic]:
        return [Diagnostic(self.code, self.message, file=self.path, hint=self.hint)]

    def __str__(self) -> str:
        return "\n".join(d.format() for d in self.diagnostics())


class UsageError(FljobError):
    """The command was called wrongly, or refuses to act (e.g. output exists)."""

    exit_code = ExitCode.USAGE
    code = "FLJ002"


class DiagnosticError(FljobError):
    """Carries every diagnostic a stage collected; raised once, after collecting."""

    def __init__(self, diagnostics: Sequence[Diagnostic], message: str | None = None):
        self._diagnostics = sorted(diagnostics, key=sort_key)
        errors = [d for d in self._diagnostics if d.is_error]
        summary = message or f"{len(errors)} error(s) found"
        super().__init__(summary)

    def diagnostics(self) -> list[Diagnostic]:
        return list(self._diagnostics)


# One family per pipeline stage. Each mixes in the builtin it resembles where natural.
class LoadError(DiagnosticError):
    """A spec file cannot be found, read or parsed."""


class ConfigSyntaxError(LoadError, SyntaxError):
    """A spec file is not valid JSON, HOCON or YAML."""


class ResolveError(DiagnosticError):
    """A variable reference cannot be resolved."""


class UndefinedVariableError(ResolveError, KeyError):
    pass


class VariableCycleError(ResolveError, ValueError):
    pass


class ValidationError(DiagnosticError, ValueError):
    """The job breaks a schema, a component rule or a deploy-map rule."""


class UnsafeJobError(DiagnosticError):
    """The job uses features a safety policy does not trust.

    The message lists every unsafe feature found and which policy grants trust.
    """


class BundleError(FljobError):
    """A bundle cannot be written, read or verified."""


class TemplateError(DiagnosticError):
    """A template or template library is broken, or a template name is unknown."""


class OverrideError(DiagnosticError):
    """A ``KEY=VALUE`` override names an unknown key or a value of the wrong type."""


class RuntimeProtocolError(FljobError):
    """A peer broke the runtime protocol (bad frame, bad certificate, bad manifest)."""


class JobFailedError(FljobError):
    """A job ran and did not finish well."""


@dataclass
class DiagnosticCollector:
    """Collects diagnostics, then fails once with every error found."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if not d.is_error]

    def raise_if_errors(self, error_type: type[DiagnosticError] = DiagnosticError) -> None:
        if self.has_errors:
            raise error_type(self.items)
