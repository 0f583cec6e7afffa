"""``fljob template lint DIR``: check a template, or every template of a library.

Checks: info.conf loads and its variables are well declared (types, bounds, keys);
every declared key exists in the template's configs; defaults satisfy their own type,
choices and bounds and agree with the configs; info.md and meta exist; config files
load; and the job the template creates lints clean (when the job linter is installed).
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from fljob.compiler.document import Document
from fljob.compiler.keypath import format_key_path
from fljob.compiler.templates.info import (
    default_problem,
    find_named,
    is_template_dir,
    load_spec,
    read_template,
)
from fljob.compiler.templates.layout import SKIP_NAMES, template_layout
from fljob.compiler.templates.model import Layout, Template, Variable, VariableKey
from fljob.compiler.templates.suggest import closest
from fljob.errors import Diagnostic, FljobError, LoadError, Severity, TemplateError, sort_key


def lint_template(path: Path) -> list[Diagnostic]:
    """Diagnostics for the template at ``path``, or for every template in the library
    folder ``path``. An empty list means clean."""
    path = Path(path)
    if not path.is_dir():
        return [Diagnostic("FLJ001", f"{path} is not a folder", file=str(path))]
    if is_template_dir(path):
        return sorted(_lint_one(path), key=sort_key)
    found: list[Diagnostic] = []
    children = [
        c
        for c in sorted(path.iterdir())
        if c.is_dir() and c.name not in SKIP_NAMES and not c.name.startswith((".", "_"))
    ]
    for child in children:
        found.extend(_lint_one(child))
    if not children:
        found.append(
            Diagnostic(
                "FLJ602",
                "folder holds no templates",
                file=str(path),
                hint="a template folder holds info.conf, meta.conf and configs",
            )
        )
    return sorted(found, key=sort_key)


def _lint_one(root: Path) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    try:
        template = read_template(root, source="lint")
    except TemplateError as exc:
        return exc.diagnostics()
    if not (root / "info.md").is_file():
        found.append(
            Diagnostic(
                "FLJ613",
                "template has no info.md",
                Severity.WARNING,
                file=str(root),
                hint="describe the template in info.md",
            )
        )
    try:
        layout = template_layout(template)
    except TemplateError as exc:
        return found + exc.diagnostics()
    if layout.meta is None:
        found.append(
            Diagnostic("FLJ615", "template has no meta.conf, meta.json or meta.yml", file=str(root))
        )
    documents: dict[str, Document] = {}
    broken: set[str] = set()
    for item in layout.configs():
        try:
            documents[item.template_path] = load_spec(item.source)
        except LoadError as exc:
            found.extend(exc.diagnostics())
            broken.add(item.template_path)
    found.extend(_check_variables(template, documents, broken))
    if not any(d.is_error for d in found):
        found.extend(_lint_created_job(template, layout))
    return found


def _check_variables(
    template: Template, documents: dict[str, Document], broken: set[str]
) -> list[Diagnostic]:
    if not template.info.variables:
        return []
    info_doc = load_spec(find_named(template.root, "info"))  # type: ignore[arg-type]
    found = []
    for variable in template.info.variables:
        where = ("variables", variable.name)
        problem = default_problem(variable)
        if problem:
            found.append(
                info_doc.diagnostic(
                    "FLJ612", f"variable '{variable.name}': {problem}", (*where, "default")
                )
            )
        for key in variable.keys:
            if key.file not in broken:  # its load error is reported already
                found.extend(_check_key(info_doc, variable, key, documents))
    return found


def _check_key(
    info_doc: Document, variable: Variable, key: VariableKey, documents: dict[str, Document]
) -> list[Diagnostic]:
    from fljob.compiler.overrides import MISSING, iter_paths, lookup

    where = ("variables", variable.name, "key")
    document = documents.get(key.file)
    if document is None:
        match = closest(key.file, documents)
        hint: str | None = (
            f"did you mean '{match[0]}'?" if match else "files: " + ", ".join(documents)
        )
        return [
            info_doc.diagnostic(
                "FLJ611",
                f"variable '{variable.name}': the template has no config file '{key.file}'",
                where,
                hint=hint,
            )
        ]
    value = lookup(document.data, key.path)
    if value is MISSING:
        texts = [format_key_path(p) for p in iter_paths(document.data)]
        match = closest(format_key_path(key.path), texts)
        hint = f"did you mean '{key.file}:{match[0]}'?" if match else None
        return [
            info_doc.diagnostic(
                "FLJ611", f"variable '{variable.name}': {key} does not exist", where, hint=hint
            )
        ]
    if variable.default is not None and value != variable.default:
        return [
            info_doc.diagnostic(
                "FLJ614",
                f"variable '{variable.name}': default {variable.default!r} differs from "
                f"{value!r} in {key}",
                ("variables", variable.name, "default"),
                severity=Severity.WARNING,
                hint="make the config hold the default",
            )
        ]
    return []


def _lint_created_job(template: Template, layout: Layout) -> list[Diagnostic]:
    """Create the job in a scratch folder and lint it, mapping files back to the template."""
    try:
        from fljob.compiler.lint import lint_job
    except ImportError:  # the job linter is optional for template lint
        return []
    from fljob.compiler.templates.create import create_job

    sources = {item.target: str(item.source) for item in layout.files}
    with tempfile.TemporaryDirectory(prefix="fljob-template-lint-") as tmp:
        job = Path(tmp) / template.name
        try:
            create_job(template, job)
            found = lint_job(job)
        except FljobError as exc:
            found = exc.diagnostics()
        return [_map_back(d, job, sources) for d in found]


def _map_back(diagnostic: Diagnostic, job: Path, sources: dict[str, str]) -> Diagnostic:
    if diagnostic.file is None:
        return diagnostic
    try:
        rel = Path(diagnostic.file).resolve().relative_to(job.resolve()).as_posix()
    except ValueError:
        return diagnostic
    return replace(diagnostic, file=sources.get(rel, rel))
