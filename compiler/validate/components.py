"""Component checks against the catalog (FLJ4xx), statically: nothing is imported.

Per config: unknown class paths (a warning, unless the class lives in the app's own
custom/ folder), unknown arguments with did-you-mean, wrong types, values outside their
choices or bounds, missing required arguments, duplicate ids, references (``pipe_id``)
that name no component, or a component of another kind, and components placed where
they do not belong.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fljob.compiler import catalog
from fljob.compiler.catalog import ArgSpec, ComponentSpec, short_json
from fljob.compiler.keypath import KeyPath, format_key_path
from fljob.compiler.model import SERVER_CONFIG, ResolvedConfig
from fljob.errors import Diagnostic, Severity
from fljob.safety.walk import ComponentRef, iter_components

W = Severity.WARNING
_SECTION_KINDS = {
    "workflows": {"workflow"},
    "executors": {"executor"},
    "filters": {"filter"},
    "components": {"component", "filter", "executor"},
}
SECTIONS_BY_CONFIG = {
    "config_fed_server": (
        "format_version",
        "workflows",
        "components",
        "task_data_filters",
        "task_result_filters",
    ),
    "config_fed_client": (
        "format_version",
        "executors",
        "components",
        "task_data_filters",
        "task_result_filters",
    ),
}


def check_config(config: ResolvedConfig, custom_dir: Path | None) -> list[Diagnostic]:
    """Every catalog finding of one resolved config."""
    checker = _ConfigChecker(config, custom_dir)
    return checker.run()


class _ConfigChecker:
    def __init__(self, config: ResolvedConfig, custom_dir: Path | None):
        self.doc = config.document
        self.data = config.data
        self.deploy_paths = set(config.deploy_refs)
        self.custom_dir = custom_dir
        self.name = config.key.rsplit("/", 1)[-1]
        self.side = "server" if self.name == SERVER_CONFIG else "client"
        self.out: list[Diagnostic] = []
        self.refs = list(iter_components(self.data))
        self.ids: dict[str, ComponentSpec | None] = {}

    def run(self) -> list[Diagnostic]:
        self._collect_ids()
        for ref in self.refs:
            spec = (
                catalog.lookup_name(ref.class_path)
                if ref.by_name
                else catalog.lookup(ref.class_path)
            )
            if spec is None:
                self._unknown(ref)
            else:
                self._check_component(ref, spec)
        self._check_sections()
        return self.out

    def _collect_ids(self) -> None:
        first: dict[str, KeyPath] = {}
        for ref in self.refs:
            if ref.section == "nested" or ref.component_id is None:
                continue
            where = (*ref.key_path, "id")
            if ref.component_id in first:
                self.out.append(
                    self.doc.diagnostic(
                        "FLJ405",
                        f"duplicate component id '{ref.component_id}' (first at "
                        f"{format_key_path(first[ref.component_id])})",
                        where,
                        hint="give each component its own id",
                    )
                )
                continue
            first[ref.component_id] = ref.key_path
            spec = (
                catalog.lookup(ref.class_path)
                if not ref.by_name
                else catalog.lookup_name(ref.class_path)
            )
            self.ids[ref.component_id] = spec

    def _unknown(self, ref: ComponentRef) -> None:
        if ref.section == "nested" or self._is_custom_code(ref.class_path) or "{" in ref.class_path:
            return
        close = catalog.closest_path(ref.class_path)
        hint = (
            f"did you mean '{close}'?"
            if close
            else "its arguments are not checked; put the class in the app's custom/ folder, "
            "or ignore FLJ401 for third-party components"
        )
        key = "name" if ref.by_name else "path"
        self.out.append(
            self.doc.diagnostic(
                "FLJ401",
                f"unknown component class '{ref.class_path}'",
                (*ref.key_path, key),
                severity=W,
                hint=hint,
            )
        )

    def _is_custom_code(self, class_path: str) -> bool:
        if self.custom_dir is None or "." not in class_path:
            return False
        module = Path(*class_path.split(".")[:-1])
        base = self.custom_dir / module
        return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()

    def _check_component(self, ref: ComponentRef, spec: ComponentSpec) -> None:
        self._check_placement(ref, spec)
        args = ref.args if ref.args is not None else {}
        if not isinstance(args, Mapping):
            return  # the schema reports a non-object args
        for name, value in args.items():
            arg = spec.args.get(name)
            where = (*ref.key_path, "args", name)
            if arg is None:
                if not spec.accepts_kwargs:
                    self._unknown_arg(ref, spec, name, where)
                continue
            if where in self.deploy_paths:
                continue  # a deploy-time reference: its value is known only on the site
            self._check_value(spec, arg, value, where)
        self._check_missing(ref, spec, args)

    def _unknown_arg(
        self, ref: ComponentRef, spec: ComponentSpec, name: str, where: KeyPath
    ) -> None:
        close = difflib.get_close_matches(name, list(spec.args), n=1, cutoff=0.6)
        known = ", ".join(spec.args) or "none"
        hint = f"did you mean '{close[0]}'?" if close else f"{spec.short_name} takes: {known}"
        self.out.append(
            self.doc.diagnostic(
                "FLJ402",
                f"{spec.short_name} has no argument '{name}'",
                where,
                hint=hint,
                at_key=True,
            )
        )

    def _check_value(self, spec: ComponentSpec, arg: ArgSpec, value: Any, where: KeyPath) -> None:
        if not arg.accepts(value):
            self.out.append(
                self.doc.diagnostic(
                    "FLJ403",
                    f"{spec.short_name}.{arg.name} must be {arg.type}, got "
                    f"{catalog.json_type_name(value)} {short_json(value)}",
                    where,
                )
            )
            return
        if arg.choices is not None and value not in arg.choices:
            options = ", ".join(json.dumps(c) for c in arg.choices)
            self.out.append(
                self.doc.diagnostic(
                    "FLJ407",
                    f"{spec.short_name}.{arg.name} is {short_json(value)}; allowed: {options}",
                    where,
                )
            )
        elif (
            arg.minimum is not None
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
            and value < arg.minimum
        ):
            self.out.append(
                self.doc.diagnostic(
                    "FLJ407",
                    f"{spec.short_name}.{arg.name} is {value}; it must be at least {arg.minimum:g}",
                    where,
                )
            )
        if arg.ref is not None:
            targets = value if arg.ref_list and isinstance(value, list) else [value]
            for i, target in enumerate(targets):
                path = (*where, i) if arg.ref_list else where
                if isinstance(target, str) and target and path not in self.deploy_paths:
                    self._check_reference(spec, arg, target, path, default=False)

    def _check_reference(
        self, spec: ComponentSpec, arg: ArgSpec, target: str, where: KeyPath, *, default: bool
    ) -> None:
        label = f"{spec.short_name}.{arg.name}" + (f" (default '{target}')" if default else "")
        if target not in self.ids:
            close = difflib.get_close_matches(target, list(self.ids), n=1, cutoff=0.5)
            hint = (
                f"did you mean '{close[0]}'?"
                if close
                else f"components of this config: {', '.join(self.ids) or 'none'}"
            )
            self.out.append(
                self.doc.diagnostic(
                    "FLJ406",
                    f"{label} names component '{target}', which this config does not define",
                    where,
                    hint=hint,
                )
            )
            return
        found = self.ids[target]
        if found is not None and arg.ref != "any" and found.category != arg.ref:
            self.out.append(
                self.doc.diagnostic(
                    "FLJ409",
                    f"{label} names '{target}', a {found.category} "
                    f"({found.short_name}), not a {arg.ref}",
                    where,
                    severity=W,
                )
            )

    def _check_missing(
        self, ref: ComponentRef, spec: ComponentSpec, args: Mapping[str, Any]
    ) -> None:
        for arg in spec.args.values():
            if arg.name in args:
                continue
            if arg.required:
                where = (*ref.key_path, "args") if ref.args is not None else ref.key_path
                self.out.append(
                    self.doc.diagnostic(
                        "FLJ404",
                        f"{spec.short_name} needs argument '{arg.name}' ({arg.type})",
                        where,
                        hint=f"add {arg.name} = ... to its args",
                    )
                )
            elif arg.ref is not None and isinstance(arg.default, str) and arg.default:
                self._check_reference(spec, arg, arg.default, ref.key_path, default=True)

    def _check_placement(self, ref: ComponentRef, spec: ComponentSpec) -> None:
        allowed = _SECTION_KINDS.get(ref.section)
        if allowed is not None and spec.kind not in allowed:
            self.out.append(
                self.doc.diagnostic(
                    "FLJ408",
                    f"{spec.short_name} is a {spec.kind}, but it is listed in {ref.section}",
                    ref.key_path,
                    severity=W,
                )
            )
        elif spec.side not in ("both", self.side):
            self.out.append(
                self.doc.diagnostic(
                    "FLJ408",
                    f"{spec.short_name} runs on the {spec.side} side, but this is the "
                    f"{self.side} config",
                    ref.key_path,
                    severity=W,
                )
            )

    def _check_sections(self) -> None:
        sections = SECTIONS_BY_CONFIG.get(self.name, ())
        for key, value in self.data.items():
            if key in sections or not isinstance(value, (list, dict)):
                continue
            close = difflib.get_close_matches(key, sections, n=1, cutoff=0.8)
            if close:
                self.out.append(
                    self.doc.diagnostic(
                        "FLJ305",
                        f"'{key}' looks like the section '{close[0]}' but is taken as a "
                        "user variable",
                        (key,),
                        severity=W,
                        at_key=True,
                        hint=f"did you mean '{close[0]}'?",
                    )
                )
