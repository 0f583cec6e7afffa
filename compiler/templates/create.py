"""Instantiate a template into a job folder (``fljob create``).

The job is built in a temporary folder next to the target and moved into place only
when every step succeeded, so a failure never leaves a partial job. With ``force`` the
template's own files are overwritten and every other file in the folder is kept.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fljob.compiler.templates.layout import template_hash, template_layout
from fljob.compiler.templates.model import (
    RECORD_DIR,
    RECORD_FILE,
    Layout,
    Template,
    TemplateRecord,
    Variable,
    VariableKey,
)
from fljob.errors import Diagnostic, DiagnosticError, TemplateError, UsageError

_SCRIPT_SKIP = frozenset({"__pycache__", ".git", ".fljob"})
_CONFIG_STRUCTURE = frozenset(
    {
        "format_version",
        "workflows",
        "executors",
        "components",
        "task_data_filters",
        "task_result_filters",
    }
)


class JobExistsError(UsageError):
    """The job folder exists and ``--force`` was not given."""

    code = "FLJ631"


class ScriptDirError(UsageError):
    code = "FLJ632"


@dataclass(frozen=True, slots=True)
class CreateResult:
    job_dir: Path
    record: TemplateRecord
    files: tuple[str, ...]  #: job-relative paths written from the template and script dir


def create_job(
    template: Template,
    job_dir: Path,
    *,
    script_dir: Path | None = None,
    override_args: Sequence[str] = (),
    force: bool = False,
) -> CreateResult:
    """Create ``job_dir`` from ``template``.

    ``override_args`` are the CLI's ``-f FILE KEY=VALUE ...`` tokens. Raises
    :class:`JobExistsError` (exit 2) when the folder holds files and ``force`` is False,
    :class:`TemplateError` for a broken template, :class:`OverrideError` for bad overrides.

    >>> create_job(library.find("sag_pt"), Path("my_job"),        # doctest: +SKIP
    ...            override_args=["-f", "config_fed_server.conf", "num_rounds=7"])
    """
    from fljob.compiler.overrides import parse_override_args

    job_dir = Path(job_dir).absolute()
    groups = parse_override_args(override_args)
    if job_dir.exists() and not force and (not job_dir.is_dir() or any(job_dir.iterdir())):
        raise JobExistsError(
            f"job folder {job_dir} already exists",
            path=str(job_dir),
            hint="pass --force to overwrite the template's files "
            "(your other files are kept), or choose another -j",
        )
    if script_dir is not None and not Path(script_dir).is_dir():
        raise ScriptDirError(f"script folder {script_dir} does not exist", path=str(script_dir))
    layout = template_layout(template)
    if layout.meta is None:
        raise TemplateError(
            [
                Diagnostic(
                    "FLJ615", "template has no meta.conf or meta.json", file=str(template.root)
                )
            ]
        )
    job_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{job_dir.name}.fljob-", dir=job_dir.parent))
    try:
        result = _build(template, layout, staging, job_dir, script_dir, groups)
        _move_into_place(staging, job_dir)
    except DiagnosticError as exc:
        raise _relocated(exc, staging, job_dir) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return replace(result, job_dir=job_dir)


def _relocated(error: DiagnosticError, staging: Path, job_dir: Path) -> DiagnosticError:
    """The same error with files named in the job folder rather than the staging copy."""
    prefix = str(staging)
    fixed = [
        replace(d, file=str(job_dir) + d.file[len(prefix) :])
        if d.file and d.file.startswith(prefix)
        else d
        for d in error.diagnostics()
    ]
    relocated = type(error)(fixed, error.message)
    relocated.exit_code = error.exit_code
    return relocated


def _build(
    template: Template,
    layout: Layout,
    staging: Path,
    job_dir: Path,
    script_dir: Path | None,
    groups: Sequence[Any],
) -> CreateResult:
    from fljob.compiler.overrides import apply_overrides

    written: list[str] = []
    scaffolds = []
    for item in layout.files:
        if item.render:
            scaffolds.append(item)
            continue
        target = staging / item.target
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(item.source, target)
        written.append(item.target)
    _set_job_name(staging / layout.meta.target, job_dir.name)  # type: ignore[union-attr]
    if script_dir is not None:
        for app in layout.apps:
            written.extend(
                _copy_script_dir(
                    Path(script_dir), staging, f"{app}/custom", skip=(job_dir, staging)
                )
            )
    variables = job_variables(template, layout)
    records = apply_overrides(staging, groups, variables=variables)
    if scaffolds:
        values = variable_values(staging, variables)
        written.extend(_render_scaffolds(scaffolds, staging, values, job_dir.name, layout))
    record = TemplateRecord(
        name=template.name,
        version=template.info.version,
        hash=template_hash(template),
        source=template.source,
        overrides=tuple(records),
        variables=variables,
    )
    (staging / RECORD_DIR).mkdir(exist_ok=True)
    (staging / RECORD_DIR / RECORD_FILE).write_text(record.to_json(), encoding="utf-8")
    written.append(f"{RECORD_DIR}/{RECORD_FILE}")
    return CreateResult(job_dir, record, tuple(sorted(set(written))))


def job_variables(template: Template, layout: Layout) -> tuple[Variable, ...]:
    """The template's variables with keys translated to job-relative files: the declared
    ones, or for a FLARE 2.4 template those inferred from its configs."""
    if template.flare_format:
        return infer_variables(layout)
    out = []
    for variable in template.info.variables:
        keys = []
        for key in variable.keys:
            target = layout.target_of(key.file)
            if target is not None:
                keys.append(VariableKey(target, key.path))
        out.append(replace(variable, keys=tuple(keys)))
    return tuple(out)


def infer_variables(layout: Layout) -> tuple[Variable, ...]:
    """FLARE's user variables: the top-level keys of each config file other than the
    config's own structure, typed by their values (job-relative keys)."""
    from fljob.compiler.templates.info import load_spec
    from fljob.compiler.templates.types import type_of

    found = []
    for item in layout.files:
        if item.kind != "config" or not item.target.rsplit("/", 1)[-1].startswith("config_fed_"):
            continue
        for name, value in load_spec(item.source).data.items():
            if name in _CONFIG_STRUCTURE or isinstance(value, (dict, list)):
                continue
            type_name = type_of(value)
            found.append(
                Variable(
                    name,
                    "any" if type_name == "null" else type_name,
                    value,
                    keys=(VariableKey(item.target, (name,)),),
                    declared=False,
                )
            )
    return tuple(found)


def variable_values(job_dir: Path, variables: Sequence[Variable]) -> dict[str, Any]:
    """Each declared variable's value as the job's config files now hold it."""
    from fljob.compiler.overrides import MISSING, lookup
    from fljob.compiler.templates.info import load_spec

    values: dict[str, Any] = {}
    cache: dict[str, Any] = {}
    for variable in variables:
        values[variable.name] = variable.default
        for key in variable.keys:
            if key.file not in cache:
                path = job_dir / key.file
                cache[key.file] = load_spec(path).data if path.is_file() else {}
            found = lookup(cache[key.file], key.path)
            if found is not MISSING:
                values[variable.name] = found
                break
    return values


def _set_job_name(meta_path: Path, name: str) -> None:
    """Set ``name`` in the job's meta file in place (added when absent)."""
    from fljob.compiler.edit import add_value, set_value
    from fljob.compiler.templates.info import load_spec

    doc = load_spec(meta_path)
    if doc.data.get("name") == name:
        return
    edit = set_value if "name" in doc.data else add_value
    meta_path.write_text(edit(doc, ("name",), name), encoding="utf-8")


def _copy_script_dir(
    source: Path, staging: Path, target_dir: str, skip: Sequence[Path]
) -> list[str]:
    """Copy the user's scripts, skipping caches, VCS folders, the job folder itself
    (and its staging copy) and symlinks that point outside ``source``."""
    root = source.resolve()
    skipped = [p.resolve() for p in skip]
    written = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in _SCRIPT_SKIP
            and _inside(here / d, root)
            and (here / d).resolve() not in skipped
        )
        for name in sorted(filenames):
            path = here / name
            if name.endswith(".pyc") or not _inside(path, root):
                continue
            rel = path.relative_to(root).as_posix()
            target = staging / target_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            written.append(f"{target_dir}/{rel}")
    return written


def _inside(path: Path, root: Path) -> bool:
    """A symlink counts as inside only when its target lies inside ``root``."""
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def _render_scaffolds(
    items: Sequence[Any], staging: Path, values: dict[str, Any], job_name: str, layout: Layout
) -> list[str]:
    import jinja2

    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    context = {**values, "variables": values, "job_name": job_name, "apps": list(layout.apps)}
    written = []
    problems = []
    for item in items:
        try:
            text = env.from_string(item.source.read_text(encoding="utf-8")).render(context)
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", None)
            problems.append(
                Diagnostic(
                    "FLJ602", f"scaffold does not render: {exc}", file=str(item.source), line=line
                )
            )
            continue
        target = staging / item.target
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(item.target)
    if problems:
        raise TemplateError(problems)
    return written


def _move_into_place(staging: Path, job_dir: Path) -> None:
    if not job_dir.exists():
        os.replace(staging, job_dir)
        return
    if not job_dir.is_dir():
        raise UsageError(f"{job_dir} is a file, not a job folder", path=str(job_dir))
    for path in sorted(staging.rglob("*")):
        if path.is_dir():
            continue
        target = job_dir / path.relative_to(staging)
        if target.is_dir():
            raise UsageError(
                f"cannot overwrite the folder {target} with a template file", path=str(target)
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)


__all__ = [
    "CreateResult",
    "JobExistsError",
    "ScriptDirError",
    "create_job",
    "job_variables",
    "variable_values",
]
