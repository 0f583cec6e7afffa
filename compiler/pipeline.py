"""The whole compiler in one screen: ``emit(validate(resolve(load(path))))``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from fljob.errors import Diagnostic, DiagnosticCollector, ResolveError

if TYPE_CHECKING:  # the stages are imported when a job is compiled, not with this module
    from fljob.safety import SafetyPolicy


@dataclass(frozen=True, slots=True)
class CompileResult:
    bundle: Path
    warnings: tuple[Diagnostic, ...]


def compile_job(
    job_dir: Path,
    out: Path,
    *,
    as_zip: bool = False,
    force: bool = False,
    policy: SafetyPolicy | None = None,
) -> CompileResult:
    """Compile the job folder ``job_dir`` into a bundle at ``out``.

    Raises a ``FljobError`` subclass with every diagnostic found on bad input; on failure
    nothing is written at ``out``. A resolution error does not hide validation findings
    elsewhere in the job: both are reported at once.

    >>> compile_job(Path("my_job"), Path("out/my_job"))  # doctest: +SKIP
    CompileResult(bundle=PosixPath('out/my_job'), warnings=())
    """
    from fljob.compiler.emit import emit
    from fljob.compiler.load import load_job
    from fljob.compiler.resolve import resolve_job
    from fljob.compiler.validate import check_job, validate

    spec = load_job(Path(job_dir))
    collector = DiagnosticCollector()
    resolved = resolve_job(spec, collector=collector)
    if collector.has_errors:
        others = check_job(resolved, policy=policy, failed=collector.items)
        raise ResolveError([*spec.warnings, *collector.items, *others])
    resolved = replace(resolved, warnings=(*resolved.warnings, *collector.warnings))
    validated = validate(resolved, policy=policy)
    bundle = emit(validated, Path(out), as_zip=as_zip, force=force)
    return CompileResult(bundle=bundle, warnings=validated.warnings)
