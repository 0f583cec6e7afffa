"""Build an app's components, workflows and executors from its resolved config.

Each entry names a class by ``path`` (``"fljob.runtime.persistors.NumpyModelPersistor"``,
or ``"module.Class"`` from the app's ``custom/`` folder) or by a short ``name`` of one of
fljob's own components, and passes ``args`` to its constructor. Arguments named
``*_id`` refer to other components by id and are checked here, before anything runs;
the objects look their references up by id at run time (``ctx.get_component``).
Every problem is collected and raised once, each with its key path.
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fljob.errors import Diagnostic, DiagnosticCollector, DiagnosticError

#: short ``name`` -> class path, for fljob's own components
SHORT_NAMES: dict[str, str] = {
    "FedAvg": "fljob.runtime.workflows.FedAvg",
    "CrossSiteEval": "fljob.runtime.workflows.CrossSiteEval",
    "Cyclic": "fljob.runtime.workflows.Cyclic",
    "Statistics": "fljob.runtime.workflows.Statistics",
    "NumpyModelPersistor": "fljob.runtime.persistors.NumpyModelPersistor",
    "TorchModelPersistor": "fljob.runtime.persistors.TorchModelPersistor",
    "ScriptExecutor": "fljob.runtime.executors.ScriptExecutor",
    "SubprocessLauncher": "fljob.runtime.launchers.SubprocessLauncher",
}

CODE_BUILD = "FLJ760"


class ComponentBuildError(DiagnosticError):
    """One or more components of an app cannot be built."""

    code = CODE_BUILD


@dataclass
class BuiltApp:
    """The live objects of one app on one site."""

    components: dict[str, Any] = field(default_factory=dict)
    workflows: list[tuple[str, Any]] = field(default_factory=list)  #: (id, workflow)
    executors: dict[str, Any] = field(default_factory=dict)  #: task name -> executor

    def executor_for(self, task_name: str) -> Any | None:
        """The executor for ``task_name``: an exact entry, else a pattern (``swarm_*``)."""
        if task_name in self.executors:
            return self.executors[task_name]
        for pattern, executor in self.executors.items():
            if "*" in pattern and fnmatch.fnmatchcase(task_name, pattern):
                return executor
        return None


class _Builder:
    def __init__(self, config: Mapping[str, Any], config_file: str, app_dir: Path) -> None:
        self.config = config
        self.file = config_file
        self.app_dir = app_dir
        self.problems = DiagnosticCollector()

    def error(self, key_path: str, message: str, hint: str | None = None) -> None:
        self.problems.add(
            Diagnostic(CODE_BUILD, message, file=self.file, key_path=key_path, hint=hint)
        )

    def entries(self, key: str) -> list[Any]:
        value = self.config.get(key) or []
        if not isinstance(value, list):
            self.error(key, f"'{key}' must be a list")
            return []
        return value

    def build(self, spec: Any, where: str, ids: set[str]) -> Any | None:
        if not isinstance(spec, Mapping):
            self.error(where, "a component must be an object with 'path' (or 'name') and 'args'")
            return None
        args = spec.get("args") or {}
        if not isinstance(args, Mapping):
            self.error(f"{where}.args", "'args' must be an object")
            return None
        self._check_refs(args, where, ids)
        cls = self._resolve_class(spec, where)
        if cls is None:
            return None
        try:
            inspect.signature(cls).bind(**args)
        except TypeError as exc:
            self.error(f"{where}.args", f"{_path_of(cls)}: {exc}")
            return None
        try:
            return cls(**args)
        except Exception as exc:  # user or component code: report where it failed
            self.error(where, f"building {_path_of(cls)} failed: {type(exc).__name__}: {exc}")
            return None

    def _check_refs(self, args: Mapping[str, Any], where: str, ids: set[str]) -> None:
        for name, value in args.items():
            if name.endswith("_id") and isinstance(value, str) and value not in ids:
                known = ", ".join(sorted(ids)) or "none"
                self.error(
                    f"{where}.args.{name}",
                    f"no component with id {value!r}",
                    hint=f"component ids in this config: {known}",
                )

    def _resolve_class(self, spec: Mapping[str, Any], where: str) -> Any | None:
        path = spec.get("path")
        if path is None and isinstance(spec.get("name"), str):
            path = SHORT_NAMES.get(spec["name"])
            if path is None:
                self.error(
                    f"{where}.name",
                    f"unknown component name {spec['name']!r}",
                    hint=f"use 'path' with a class path, or one of: "
                    f"{', '.join(sorted(SHORT_NAMES))}",
                )
                return None
        if not isinstance(path, str) or "." not in path:
            self.error(f"{where}.path", f"'path' must be 'module.Class', not {path!r}")
            return None
        module_name, _, attr = path.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except ImportError as exc:
            self.error(
                f"{where}.path",
                f"cannot import {module_name!r}: {exc}",
                hint="custom classes belong in the app's custom/ folder",
            )
            return None
        except AttributeError:
            self.error(f"{where}.path", f"{module_name!r} has no class {attr!r}")
            return None
        if not callable(cls):
            self.error(f"{where}.path", f"{path} is not a class")
            return None
        return cls


def build_app(config: Mapping[str, Any], *, app_dir: Path, config_file: str, role: str) -> BuiltApp:
    """Build every component of one app's config (``role``: ``server`` or ``client``).

    Raises :class:`ComponentBuildError` listing every problem at once.
    """
    _add_custom_dir(app_dir)
    builder = _Builder(config, config_file, app_dir)
    built = BuiltApp()
    components = builder.entries("components")
    ids = {c["id"] for c in components if isinstance(c, Mapping) and isinstance(c.get("id"), str)}
    for index, spec in enumerate(components):
        where = f"components[{index}]"
        if not isinstance(spec, Mapping) or not isinstance(spec.get("id"), str):
            builder.error(where, "a component needs a string 'id'")
            continue
        obj = builder.build(spec, where, ids)
        if obj is not None:
            built.components[spec["id"]] = obj
    if role == "server":
        _build_workflows(builder, built, ids)
    else:
        _build_executors(builder, built, ids)
    for key in ("task_data_filters", "task_result_filters"):
        if builder.entries(key):  # refuse rather than silently run without them
            builder.error(
                key,
                f"{key} are not supported by fljob's runtime yet",
                hint=f"remove them, or leave '{key}' empty",
            )
    builder.problems.raise_if_errors(ComponentBuildError)
    return built


def _build_workflows(builder: _Builder, built: BuiltApp, ids: set[str]) -> None:
    for index, spec in enumerate(builder.entries("workflows")):
        obj = builder.build(spec, f"workflows[{index}]", ids)
        if obj is not None:
            if not callable(getattr(obj, "run", None)):
                builder.error(f"workflows[{index}]", f"{_path_of(type(obj))} has no run(ctx)")
                continue
            built.workflows.append((str(spec.get("id") or f"workflow{index}"), obj))
    if not builder.entries("workflows"):
        builder.error("workflows", "the server config has no workflow")


def _build_executors(builder: _Builder, built: BuiltApp, ids: set[str]) -> None:
    for index, entry in enumerate(builder.entries("executors")):
        where = f"executors[{index}]"
        if not isinstance(entry, Mapping):
            builder.error(where, "an executor entry must be {tasks: [...], executor: {...}}")
            continue
        tasks = entry.get("tasks")
        if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
            builder.error(f"{where}.tasks", "'tasks' must be a list of task names")
            continue
        obj = builder.build(entry.get("executor"), f"{where}.executor", ids)
        if obj is None:
            continue
        if not callable(getattr(obj, "execute", None)):
            builder.error(f"{where}.executor", f"{_path_of(type(obj))} has no execute()")
            continue
        for task in tasks:
            if task in built.executors:
                builder.error(f"{where}.tasks", f"task {task!r} has two executors")
            built.executors[task] = obj


def _add_custom_dir(app_dir: Path) -> None:
    custom = str(Path(app_dir) / "custom")
    if Path(custom).is_dir() and custom not in sys.path:
        sys.path.insert(0, custom)


def _path_of(cls: Any) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)}"
