"""Lint one target, or many on both cores.

A target never raises for a user mistake: load, resolve and validation errors all come
back as diagnostics, with ``# fljob: ignore[CODE]`` suppressions applied.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from fljob.compiler.document import EXTENSIONS, Document
from fljob.compiler.lint.discover import Target
from fljob.errors import Diagnostic, DiagnosticCollector, FljobError, sort_key
from fljob.safety import SafetyPolicy, default_policy

#: Below this many targets a process pool costs more than it saves.
PARALLEL_THRESHOLD = 16


def lint_job(job_dir: Path, *, policy: SafetyPolicy | None = None) -> list[Diagnostic]:
    """Every diagnostic of the job folder ``job_dir``, sorted; an empty list means clean.

    >>> lint_job(Path("my_job"))  # doctest: +SKIP
    [Diagnostic(code='FLJ301', message="unknown key 'min_clinets'", ...)]
    """
    from fljob.compiler.load import load_job
    from fljob.compiler.resolve import resolve_job
    from fljob.compiler.validate import check_job

    try:
        spec = load_job(Path(job_dir))
    except FljobError as exc:
        return sorted(set(exc.diagnostics()), key=sort_key)
    documents = [spec.meta, *(cfg.document for cfg in spec.config_files())]
    # Resolution errors do not stop the lint: validation goes on with what resolved.
    collector = DiagnosticCollector()
    resolved = resolve_job(spec, collector=collector)
    checks = check_job(resolved, policy=policy or default_policy(), failed=collector.items)
    return _finish([*resolved.warnings, *collector.items, *checks], documents)


def lint_template_dir(path: Path) -> list[Diagnostic]:
    """The template's info file against the schema, plus the template linter's findings
    (it instantiates the template and lints the job, under the default safety policy)."""
    from fljob.compiler.load import load_document
    from fljob.compiler.validate.schemas import TEMPLATE_INFO, check_document

    info = next(path / f"info{ext}" for ext, _ in EXTENSIONS if (path / f"info{ext}").is_file())
    try:
        doc = load_document(info)
    except FljobError as exc:
        return sorted(set(exc.diagnostics()), key=sort_key)
    own = check_document(doc, TEMPLATE_INFO)
    from fljob.compiler.templates.lint import lint_template

    theirs = lint_template(path)
    taken = {(d.file, d.line, d.col) for d in theirs}
    # One finding per spot: the template linter's message is the more specific one.
    own = [d for d in own if (d.file, d.line, d.col) not in taken]
    return _finish([*own, *theirs], [doc])


def _finish(found: Iterable[Diagnostic], documents: Sequence[Document]) -> list[Diagnostic]:
    by_file = {str(doc.path): doc for doc in documents}
    kept = []
    for diagnostic in dict.fromkeys(found):  # de-duplicated, first occurrence kept
        doc = by_file.get(diagnostic.file or "")
        if doc is not None and _suppressed(doc, diagnostic):
            continue
        kept.append(diagnostic)
    return sorted(kept, key=sort_key)


def _suppressed(doc: Document, diagnostic: Diagnostic) -> bool:
    codes = doc.suppressions.get(diagnostic.line or -1)
    if not codes:
        return False
    return diagnostic.code in codes or "*" in codes or "ALL" in codes


def lint_target(target: Target, policy: SafetyPolicy | None = None) -> list[Diagnostic]:
    if target.kind == "template":
        return lint_template_dir(target.path)
    return lint_job(target.path, policy=policy)


def _lint_chunk(args: tuple[list[Target], SafetyPolicy | None]) -> list[list[Diagnostic]]:
    targets, policy = args
    return [lint_target(t, policy) for t in targets]


def lint_targets(
    targets: Sequence[Target], *, policy: SafetyPolicy | None = None, workers: int | None = None
) -> list[list[Diagnostic]]:
    """Diagnostics per target, in order. Many targets run on a forked process pool (one
    worker per core, at most 2 chunks per worker, to keep hand-over costs low)."""
    workers = workers or min(_cpu_count(), 8)
    if workers < 2 or len(targets) < PARALLEL_THRESHOLD or not _can_fork():
        return [lint_target(t, policy) for t in targets]
    _warm_up()
    size = -(-len(targets) // (workers * 2))
    chunks = [list(targets[i : i + size]) for i in range(0, len(targets), size)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        results = list(pool.map(_lint_chunk, [(chunk, policy) for chunk in chunks]))
    return [diags for chunk in results for diags in chunk]


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):  # the cores this process may use (Linux)
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def _warm_up() -> None:
    """Import and compile everything once in the parent so that forked workers share it."""
    import fljob.compiler.load
    import fljob.compiler.resolve  # noqa: F401
    from fljob.compiler import catalog
    from fljob.compiler.validate import components, deploy_map, safety  # noqa: F401
    from fljob.compiler.validate.schemas import warm_up
    from fljob.safety.plugins import entry_point_checkers

    warm_up()
    catalog.all_components()
    entry_point_checkers()
