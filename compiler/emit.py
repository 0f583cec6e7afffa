"""The last stage: write a validated job as a deterministic bundle (directory or zip)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from fljob import __version__
from fljob.bundle import BUNDLE_FORMAT, META_NAME, BundleWriter
from fljob.compiler.keypath import format_key_path
from fljob.compiler.model import ResolvedConfig, ValidatedJob
from fljob.errors import BundleError

#: where ``fljob create`` records the template a job came from
TEMPLATE_RECORD = Path(".fljob") / "template.json"
#: never copied from ``custom/``: caches and VCS data are not part of a job
_SKIPPED_NAMES = frozenset(
    {"__pycache__", ".git", ".hg", ".svn", ".DS_Store", ".ipynb_checkpoints"}
)
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


def emit(job: ValidatedJob, out: Path, *, as_zip: bool = False, force: bool = False) -> Path:
    """Write ``job`` to ``out``; nothing is left at ``out`` if anything fails."""
    if not isinstance(job, ValidatedJob):  # the emitter accepts validated jobs only
        raise TypeError("emit() needs a ValidatedJob; call validate() first")
    resolved = job.resolved
    writer = BundleWriter()
    writer.add_json(META_NAME, resolved.meta.data)
    for config in resolved.configs.values():
        writer.add_json(f"{config.key}.json", config.data)
    for app in resolved.spec.apps.values():
        for extra in app.extra_config_files:
            writer.add_file(f"{app.name}/config/{extra.name}", extra)
        if app.custom_dir is not None:
            for rel, path in _custom_files(app.custom_dir, resolved.spec.root):
                writer.add_file(f"{app.name}/custom/{rel}", path)
    return writer.write(out, build_manifest(job), as_zip=as_zip, force=force)


def build_manifest(job: ValidatedJob) -> dict[str, Any]:
    """Everything a site needs to trust and deploy the bundle, except the file table."""
    resolved = job.resolved
    all_configs = [resolved.meta, *resolved.configs.values()]
    system = sorted({name for c in all_configs for name in c.system_variables})
    environment: dict[str, str | None] = {}
    for config in all_configs:
        environment.update(config.environment_variables)
    return {
        "format": BUNDLE_FORMAT,
        "fljob_version": __version__,
        "job_name": resolved.spec.name,
        "template": read_template_record(resolved.spec.root),
        "variables": {
            _bundle_name(c): dict(sorted(c.variables.items())) for c in all_configs if c.variables
        },
        "system_variables": system,
        "environment_variables": [
            {"name": name, "default": environment[name]} for name in sorted(environment)
        ],
        "deploy_refs": {
            _bundle_name(c): _deploy_refs_table(c) for c in all_configs if c.deploy_refs
        },
    }


def _bundle_name(config: ResolvedConfig) -> str:
    return META_NAME if config.key == "meta" else f"{config.key}.json"


def _deploy_refs_table(config: ResolvedConfig) -> dict[str, list[str]]:
    table = {format_key_path(path): sorted(names) for path, names in config.deploy_refs.items()}
    return dict(sorted(table.items()))


def read_template_record(job_root: Path) -> Mapping[str, Any] | None:
    """The template name, version and hash that ``fljob create`` recorded, if any."""
    path = job_root / TEMPLATE_RECORD
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(
            f"cannot read template record {path}: {exc}",
            path=str(path),
            hint="delete the file or create the job again",
        ) from exc
    if not isinstance(record, dict):
        raise BundleError(f"template record {path} is not a JSON object", path=str(path))
    return {key: record.get(key) for key in ("name", "version", "hash")}


def _custom_files(custom_dir: Path, job_root: Path) -> Iterator[tuple[str, Path]]:
    """Files under ``custom/`` in a stable order. Links are followed while they stay
    inside the job folder; one that leaves it is refused."""
    root = job_root.resolve()
    seen: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(custom_dir, followlinks=True):
        base = Path(dirpath)
        real = base.resolve()
        _check_inside(base, root)
        if real in seen:  # a link cycle: each real folder is copied once
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_NAMES)
        for name in sorted(filenames):
            if name in _SKIPPED_NAMES or name.endswith(_SKIPPED_SUFFIXES):
                continue
            path = base / name
            _check_inside(path, root)
            yield path.relative_to(custom_dir).as_posix(), path


def _check_inside(path: Path, root: Path) -> None:
    target = path.resolve()
    if not target.is_relative_to(root):
        raise BundleError(
            f"{path} points outside the job folder (to {target})",
            path=str(path),
            hint="copy the file into the job's custom/ folder instead of linking to it",
        )
