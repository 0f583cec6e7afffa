"""The whole compiler in one screen: ``emit(validate(resolve(load(path))))``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fljob.errors import Diagnostic


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
    policy: object | None = None,
) -> CompileResult:
    """Compile the job folder ``job_dir`` into a bundle at ``out``.

    Raises a ``FljobError`` subclass (with every diagnostic of the failing stage) on
    bad input; on failure nothing is written at ``out``.

    >>> compile_job(Path("my_job"), Path("out/my_job"))  # doctest: +SKIP
    CompileResult(bundle=PosixPath('out/my_job'), warnings=())
    """
    from fljob.compiler.emit import emit
    from fljob.compiler.load import load_job
    from fljob.compiler.resolve import resolve_job
    from fljob.compiler.validate import validate

    validated = validate(resolve_job(load_job(Path(job_dir))), policy=policy)
    bundle = emit(validated, Path(out), as_zip=as_zip, force=force)
    return CompileResult(bundle=bundle, warnings=validated.warnings)
