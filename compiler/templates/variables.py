"""What a user can set in a job folder (``fljob show_variables``).

Reads the job's spec files only; no code from the job or any framework is imported.
Each row names the file, the dotted key path, the value (never truncated), its type,
the component the key belongs to, and the declared variable and description when the
job was created from a template that declares them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fljob.compiler.keypath import KeyPath, format_key_path
from fljob.compiler.templates.model import Variable, read_template_record
from fljob.compiler.templates.types import type_of, whole_reference
from fljob.errors import Diagnostic, DiagnosticCollector, LoadError, TemplateError

#: keys that give a component its identity rather than configure it
_IDENTITY_KEYS = frozenset({"id", "path", "name"})
_COMPONENT_LISTS = frozenset(
    {"components", "workflows", "task_data_filters", "task_result_filters"}
)


@dataclass(frozen=True, slots=True)
class VariableRow:
    file: str  #: job-relative
    key: str  #: dotted key path
    value: Any
    type: str
    component: str | None = None  #: class path of the component the key configures
    variable: str | None = None  #: the declared template variable that sets this key
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "key": self.key,
            "value": self.value,
            "type": self.type,
            "component": self.component,
            "variable": self.variable,
            "description": self.description,
        }


def show_variables(job_dir: Path) -> list[VariableRow]:
    """Every settable value of the job folder, file by file, in file order."""
    from fljob.compiler.overrides import declared_for, job_config_files
    from fljob.compiler.templates.info import load_spec

    job_dir = Path(job_dir)
    if not job_dir.is_dir():
        raise TemplateError(
            [Diagnostic("FLJ001", f"job folder {job_dir} does not exist", file=str(job_dir))]
        )
    declared = _declared(job_dir)
    collector = DiagnosticCollector()
    rows: list[VariableRow] = []
    for path in job_config_files(job_dir):
        rel = path.relative_to(job_dir).as_posix()
        try:
            data = load_spec(path).data
        except LoadError as exc:
            collector.extend(exc.diagnostics())
            continue
        for key_path, value, component in _leaves(data):
            variable = declared_for(declared, rel, key_path)
            rows.append(
                VariableRow(
                    file=rel,
                    key=format_key_path(key_path),
                    value=value,
                    type=variable.type if variable else _type_name(data, value),
                    component=component,
                    variable=variable.name if variable else None,
                    description=(variable.description or None) if variable else None,
                )
            )
    collector.raise_if_errors(LoadError)
    return rows


def _declared(job_dir: Path) -> Sequence[Variable]:
    try:
        record = read_template_record(job_dir)
    except (ValueError, KeyError, TypeError) as exc:
        raise TemplateError(
            [
                Diagnostic(
                    "FLJ602",
                    f"the job's template record is malformed: {exc}",
                    file=str(job_dir / ".fljob" / "template.json"),
                    hint="re-create the job with 'fljob create --force'",
                )
            ]
        ) from None
    return record.variables if record else ()


def _type_name(data: dict[str, Any], value: Any) -> str:
    name = whole_reference(value)
    if name is not None:
        node: Any = data
        for part in name.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            return type_of(node)
    return type_of(value)


def _leaves(
    node: Any, path: KeyPath = (), component: str | None = None
) -> Iterator[tuple[KeyPath, Any, str | None]]:
    """Scalars, scalar lists and empty containers, with the enclosing component."""
    if _is_component(node, path):
        component = node.get("path") or node.get("name")
    if isinstance(node, dict) and node:
        for key, child in node.items():
            if path and _is_component(node, path) and key in _IDENTITY_KEYS:
                continue
            if not path and key == "format_version":
                continue
            yield from _leaves(child, (*path, key), component)
    elif isinstance(node, list) and node and any(isinstance(v, (dict, list)) for v in node):
        for index, child in enumerate(node):
            yield from _leaves(child, (*path, index), component)
    elif path:
        yield path, node, component


def _is_component(node: Any, path: KeyPath) -> bool:
    """``{id, path, args}`` in a component list, or an ``executor`` object."""
    if not isinstance(node, dict) or not isinstance(node.get("path", node.get("name")), str):
        return False
    if len(path) >= 2 and path[-2] in _COMPONENT_LISTS and isinstance(path[-1], int):
        return True
    return bool(path) and path[-1] == "executor"
