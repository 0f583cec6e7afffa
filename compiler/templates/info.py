"""Read a template folder's ``info.conf`` into a :class:`Template`.

FLARE 2.4 ``info.conf`` files (description, controller_type, execution_api_type) load
as they are; fljob adds ``version``, ``scaffold`` (shared ``custom/`` folders of the
library, see :mod:`~fljob.compiler.templates.scaffolds`) and typed ``variables``::

    scaffold = "pt_cnn"

    variables {
      num_rounds {
        type = "int", default = 5, min = 1
        description = "Number of FedAvg rounds"
        key = "config_fed_server.conf:num_rounds"   # FILE:KEY_PATH, or a list of them
      }
    }
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fljob.compiler.document import EXTENSIONS, Document
from fljob.compiler.keypath import KeyPath
from fljob.compiler.templates.model import (
    Template,
    TemplateInfo,
    Variable,
    VariableKey,
    library_root_of,
)
from fljob.compiler.templates.scaffolds import FIELD as SCAFFOLD_FIELD
from fljob.compiler.templates.scaffolds import parse_scaffold_names, resolve_scaffolds
from fljob.compiler.templates.suggest import did_you_mean
from fljob.compiler.templates.types import TYPES, canonical_type, check_constraints, matches_type
from fljob.errors import Diagnostic, DiagnosticCollector, LoadError, TemplateError

INFO_BASE = "info"
_STRING_FIELDS = ("description", "controller_type", "execution_api_type")
_VARIABLE_FIELDS = {"type", "default", "description", "choices", "min", "max", "key"}


def find_named(folder: Path, base: str) -> Path | None:
    """The first of ``base.json``, ``.conf``, ``.yml``, ``.yaml`` in ``folder``."""
    for ext, _ in EXTENSIONS:
        candidate = folder / (base + ext)
        if candidate.is_file():
            return candidate
    return None


def is_template_dir(folder: Path) -> bool:
    return folder.is_dir() and find_named(folder, INFO_BASE) is not None


def load_spec(path: Path) -> Document:
    """Load one spec file with exact spans (the compiler's loader, imported lazily)."""
    from fljob.compiler.load import load_document

    return load_document(path)


def read_template(root: Path, *, source: str, name: str | None = None) -> Template:
    """Read ``root/info.conf``; raise :class:`TemplateError` with every problem found."""
    collector = DiagnosticCollector()
    info_path = find_named(root, INFO_BASE)
    if info_path is None:
        collector.add(
            Diagnostic(
                "FLJ602",
                "template folder has no info.conf",
                file=str(root),
                hint="a template needs info.conf with at least a description",
            )
        )
        raise TemplateError(collector.items)
    try:
        document = load_spec(info_path)
    except LoadError as exc:
        raise TemplateError(exc.diagnostics()) from None
    info = parse_info(document, collector)
    scaffolds = resolve_scaffolds(document, info.scaffolds, library_root_of(root), collector)
    collector.raise_if_errors(TemplateError)
    flare_format = info.version is None and not info.variables
    return Template(name or root.name, root, source, info, flare_format, scaffolds)


def parse_info(document: Document, collector: DiagnosticCollector) -> TemplateInfo:
    """Parse the fields of an info document, adding a diagnostic for each bad one."""
    data = document.data
    fields: dict[str, str] = {}
    for key in _STRING_FIELDS:
        value = data.get(key, "")
        if not isinstance(value, str):
            collector.add(document.diagnostic("FLJ602", f"'{key}' must be a string", (key,)))
            value = str(value)
        fields[key] = value
    version = data.get("version")
    if version is not None and not isinstance(version, (str, int, float)):
        collector.add(document.diagnostic("FLJ602", "'version' must be a string", ("version",)))
        version = None
    variables = _parse_variables(document, data.get("variables"), collector)
    scaffolds = parse_scaffold_names(document, data.get(SCAFFOLD_FIELD), collector)
    return TemplateInfo(
        description=fields["description"].strip(),
        controller_type=fields["controller_type"],
        execution_api_type=fields["execution_api_type"],
        version=str(version) if version is not None else None,
        variables=variables,
        scaffolds=scaffolds,
    )


def _parse_variables(
    document: Document, raw: Any, collector: DiagnosticCollector
) -> tuple[Variable, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        collector.add(
            document.diagnostic(
                "FLJ603",
                "'variables' must be an object of {name: {type, default, description, key}}",
                ("variables",),
            )
        )
        return ()
    variables = []
    for name, spec in raw.items():
        variable = _parse_variable(document, name, spec, ("variables", name), collector)
        if variable is not None:
            variables.append(variable)
    return tuple(variables)


def _parse_variable(
    document: Document, name: str, spec: Any, path: KeyPath, collector: DiagnosticCollector
) -> Variable | None:
    def problem(message: str, sub: str | None = None, hint: str | None = None) -> None:
        where = (*path, sub) if sub else path
        collector.add(
            document.diagnostic("FLJ603", f"variable '{name}': {message}", where, hint=hint)
        )

    if not isinstance(spec, dict):
        problem("must be an object with type, default, description and key")
        return None
    unknown = sorted(set(spec) - _VARIABLE_FIELDS)
    for field in unknown:
        problem(
            f"unknown field '{field}'", field, hint=did_you_mean(field, sorted(_VARIABLE_FIELDS))
        )
    type_name = canonical_type(spec.get("type", "any"))
    if type_name is None:
        problem(f"unknown type {spec.get('type')!r}", "type", hint="one of " + ", ".join(TYPES))
        return None
    keys = _parse_keys(spec.get("key"), problem)
    choices = spec.get("choices")
    if choices is not None and not isinstance(choices, list):
        problem("'choices' must be a list", "choices")
        choices = None
    bounds: dict[str, float | None] = {}
    for bound in ("min", "max"):
        value = spec.get(bound)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problem(f"'{bound}' must be a number", bound)
            value = None
        bounds[bound] = value
    description = spec.get("description", "")
    return Variable(
        name=name,
        type=type_name,
        default=spec.get("default"),
        description=str(description).strip(),
        keys=keys,
        choices=tuple(choices) if choices is not None else None,
        minimum=bounds["min"],
        maximum=bounds["max"],
    )


def _parse_keys(raw: Any, problem: Any) -> tuple[VariableKey, ...]:
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    keys = []
    for item in items:
        try:
            if not isinstance(item, str):
                raise ValueError("expected a string FILE:KEY_PATH")
            keys.append(VariableKey.parse(item))
        except ValueError as exc:
            problem(
                f"bad key: {exc}", "key", hint='write key = "config_fed_server.conf:num_rounds"'
            )
    return tuple(keys)


def default_problem(variable: Variable) -> str | None:
    """Why a declared default breaks its own type, choices or bounds, or None."""
    if variable.default is None:
        return None
    if not matches_type(variable.default, variable.type):
        return f"default {variable.default!r} is not of type {variable.type}"
    return check_constraints(
        variable.default,
        choices=variable.choices,
        minimum=variable.minimum,
        maximum=variable.maximum,
    )
