"""Variables: resolved at compile time (user variables, definitions) and at deploy time
(system and environment variables, on each site).

Compile time (:func:`resolve_job`, :func:`resolve_config`):

- every top-level key of a file is a variable of that file; ``"{name}"`` as the whole
  string keeps the value's type, inside a longer string it is interpolated (numbers as
  written, booleans as ``true``/``false``, null as ``null``; objects and lists cannot be);
- ``{a.b[0]}`` reaches into a value; values may refer to other variables (resolved once,
  memoised, never rescanned); a cycle is an error naming the chain ``a -> b -> a``;
- ``@name`` keys hold parameterized definitions, instantiated by ``{@name:k=v}``;
  parameters shadow user variables inside the definition; ``@`` keys leave the output;
- a definition call's arguments are typed like JSON scalars
  (:func:`~fljob.compiler.references.type_scalar`: ``5`` int, ``0.1`` float,
  ``true``/``false``, ``null``, anything else a string, so ``010`` and ``y`` stay text);
  a quoted argument (``url="grpc://h:8002"``) is always a string; ``p={port}`` passes a
  variable's value with its type;
- system variables (:data:`SYSTEM_VARIABLES`) and ``{$ENV}`` references stay as they are.
  A string that still holds one is written in *template form* (literal braces doubled,
  interpolated values escaped too) and its key path listed in
  ``ResolvedConfig.deploy_refs``; every other string is final text (escapes undone).

Deploy time (:func:`resolve_deploy_time`, from :mod:`fljob.compiler.deploy_time`) fills
in the template strings on a site. This module imports no loader, pyhocon or click: the
runtime imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fljob.compiler.deploy_time import resolve_deploy_time
from fljob.compiler.document import Document
from fljob.compiler.keypath import KeyPath, format_key_path
from fljob.compiler.model import META, JobSpec, ResolvedConfig, ResolvedJob
from fljob.compiler.references import (
    SYSTEM_VARIABLES,
    CallRef,
    EnvRef,
    Reference,
    ReferenceSyntaxError,
    VariableRef,
    needs_scan,
    parse_reference,
    parse_template,
    scalar_text,
    template_text,
)
from fljob.errors import (
    Diagnostic,
    DiagnosticCollector,
    ResolveError,
    Severity,
    UndefinedVariableError,
    VariableCycleError,
)

__all__ = [
    "STRUCTURAL_KEYS",
    "SYSTEM_VARIABLES",
    "resolve_config",
    "resolve_deploy_time",
    "resolve_job",
]

#: Top-level config keys the runtime consumes: never reported as unused variables.
STRUCTURAL_KEYS = frozenset(
    {
        "format_version",
        "workflows",
        "components",
        "executors",
        "task_data_filters",
        "task_result_filters",
        "server",
        "handlers",
        "snapshot_persistor",
    }
)

_UNDEFINED_CODES = frozenset({"FLJ201", "FLJ203", "FLJ205", "FLJ207"})


class _Failed(Exception):
    """This value could not be resolved; the reason has been reported already."""


_FAILED = object()  # memo entry of a value that failed


@dataclass(frozen=True, slots=True)
class _Deferred:
    """A string value that still holds deploy-time references (system or environment)."""

    parts: tuple[str | VariableRef | EnvRef, ...]

    def names(self) -> frozenset[str]:
        return frozenset(
            p.name if isinstance(p, VariableRef) else "$" + p.name
            for p in self.parts
            if not isinstance(p, str)
        )


@dataclass(frozen=True, slots=True)
class _Scope:
    """The parameters bound by one call of a definition, while its body resolves."""

    definition: str
    bindings: Mapping[str, Any]
    call_path: KeyPath  #: where the call is written (unbound parameters are reported there)
    call_text: str


@dataclass(frozen=True, slots=True)
class _Frame:
    key: KeyPath | str  #: a key path, or ``"@name"`` for a call
    where: KeyPath  #: the string being resolved (where a cycle is reported)

    @property
    def label(self) -> str:
        """As shown in a cycle chain: ``a``, ``a.k``, ``@name``."""
        return self.key if isinstance(self.key, str) else format_key_path(self.key)


class _Resolver:
    """Resolves one document. Diagnostics go to ``report``; nothing is raised outside."""

    def __init__(self, document: Document, report: Callable[[Diagnostic], None]):
        self.document = document
        self.data = document.data
        self.report = report
        self.definitions = {k[1:]: v for k, v in self.data.items() if k.startswith("@")}
        self.variables = frozenset(k for k in self.data if not k.startswith("@"))
        self.memo: dict[KeyPath, Any] = {}
        self.stack: list[_Frame] = []
        self.active: dict[KeyPath | str, int] = {}
        self.used: set[str] = set()
        self.called: set[str] = set()
        self.system: set[str] = set()
        self.environment: dict[str, str | None] = {}
        self._parameters: dict[str, frozenset[str]] = {}

    # --- driving -----------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.data.items():
            if key.startswith("@"):
                continue
            try:
                out[key] = self.resolve(value, (key,), None)
            except _Failed:
                out[key] = None
        return out

    def resolve(self, node: Any, path: KeyPath, scope: _Scope | None) -> Any:
        if isinstance(node, str):
            if not needs_scan(node):
                return node
        elif not isinstance(node, dict | list):
            return node
        if scope is not None:  # a definition's body: new bindings each call, no memo
            return self._resolve_fresh(node, path, scope)
        known = self.memo.get(path, self)
        if known is _FAILED:
            raise _Failed
        if known is not self:
            return known
        if path in self.active:
            self._report_cycle(path)
        self._push(_Frame(path, path))
        try:
            value = self._resolve_fresh(node, path, None)
        except _Failed:
            self.memo[path] = _FAILED
            raise
        finally:
            self._pop()
        self.memo[path] = value
        return value

    def _resolve_fresh(self, node: Any, path: KeyPath, scope: _Scope | None) -> Any:
        if isinstance(node, str):
            return self._resolve_string(node, path, scope)
        if isinstance(node, dict):
            return {k: self._resolve_child(v, (*path, k), scope) for k, v in node.items()}
        return [self._resolve_child(v, (*path, i), scope) for i, v in enumerate(node)]

    def _resolve_child(self, node: Any, path: KeyPath, scope: _Scope | None) -> Any:
        # A failed value becomes None in its container, so that every error is collected.
        try:
            return self.resolve(node, path, scope)
        except _Failed:
            return None

    def _push(self, frame: _Frame) -> None:
        self.active[frame.key] = len(self.stack)
        self.stack.append(frame)

    def _pop(self) -> None:
        del self.active[self.stack.pop().key]

    def _report_cycle(self, key: KeyPath | str) -> None:
        chain = [f.label for f in self.stack[self.active[key] :]] + [
            self.stack[self.active[key]].label
        ]
        self.error(
            "FLJ202",
            f"variables refer to each other in a cycle: {' -> '.join(chain)}",
            self.stack[-1].where,
            hint="give one of them a value that does not refer back",
        )
        raise _Failed

    # --- strings -----------------------------------------------------------------------

    def _resolve_string(self, text: str, path: KeyPath, scope: _Scope | None) -> Any:
        template = parse_template(text)
        for group in template.near_misses:
            self.warn("FLJ213", group.message, path, hint=f"did you mean {group.suggestion}?")
        for group in template.bad_calls:
            self.error("FLJ204", group.message, path, hint="write {@name:key=value:key=value}")
        failed = bool(template.bad_calls)
        single = template.single
        if single is not None:
            return self.evaluate(single, path, scope)
        pieces: list[str | VariableRef | EnvRef] = []
        previous = ""
        for part in template.parts:
            if isinstance(part, str):
                pieces.append(part)
            else:
                try:
                    value = self.evaluate(part, path, scope, after_dollar=previous.endswith("$"))
                    pieces.extend(self._as_text(value, part, path))
                except _Failed:
                    failed = True
            previous = part if isinstance(part, str) else ""
        if failed:
            raise _Failed
        return _join(pieces)

    def _as_text(self, value: Any, ref: Reference, path: KeyPath) -> tuple[Any, ...]:
        if isinstance(value, _Deferred):
            return value.parts
        if isinstance(value, dict | list):
            kind = "an object" if isinstance(value, dict) else "a list"
            self.error(
                "FLJ206",
                f"{{{ref.text}}} is {kind} and cannot be interpolated into a longer string",
                path,
                hint=f'write "{{{ref.text}}}" as the whole string to keep its type, '
                "or refer to one of its values",
            )
            raise _Failed
        return (scalar_text(value),)

    # --- references --------------------------------------------------------------------

    def evaluate(
        self, ref: Reference, where: KeyPath, scope: _Scope | None, *, after_dollar: bool = False
    ) -> Any:
        """The value of one reference, written in the string at ``where``."""
        if isinstance(ref, EnvRef):
            if ref.name not in self.environment or ref.default is None:
                self.environment[ref.name] = ref.default
            return _Deferred((ref,))
        if isinstance(ref, CallRef):
            return self._call(ref, where, scope)
        name = ref.name
        if scope is not None and name in scope.bindings:
            return self._navigate(scope.bindings[name], ref, 0, (name,), where)
        if name in SYSTEM_VARIABLES:
            if ref.accessors:
                self.error(
                    "FLJ203",
                    f"system variable {name} has no keys or items: {{{ref.text}}}",
                    where,
                    hint=f"write {{{name}}}",
                )
                raise _Failed
            self.system.add(name)
            return _Deferred((ref,))
        if name in self.variables:
            self.used.add(name)
            return self._lookup(ref, where)
        self._undefined(ref, where, scope, after_dollar)
        raise _Failed

    def _lookup(self, ref: VariableRef, where: KeyPath) -> Any:
        """Step through the raw data without resolving siblings, so that ``{a.x}`` inside
        ``a.y`` is not a cycle; resolve only what the reference reaches."""
        path: KeyPath = (ref.name,)
        node = self.data[ref.name]
        for i, accessor in enumerate(ref.accessors):
            if not isinstance(node, dict | list):
                value = self.resolve(node, path, None)
                return self._navigate(value, ref, i, path, where)
            node = self._step(node, accessor, ref, path, where)
            path = (*path, accessor)
        return self.resolve(node, path, None)

    def _navigate(
        self, value: Any, ref: VariableRef, start: int, path: KeyPath, where: KeyPath
    ) -> Any:
        for accessor in ref.accessors[start:]:
            value = self._step(value, accessor, ref, path, where)
            path = (*path, accessor)
        return value

    def _step(
        self, value: Any, accessor: str | int, ref: VariableRef, path: KeyPath, where: KeyPath
    ) -> Any:
        if isinstance(value, dict) and isinstance(accessor, str):
            if accessor in value:
                return value[accessor]
            shown = format_key_path(path)
            message, hint = f"{shown} has no key '{accessor}'", _did_you_mean(accessor, value)
        elif isinstance(value, list) and isinstance(accessor, int):
            if accessor < len(value):
                return value[accessor]
            shown = format_key_path(path)
            message = f"{shown} has {len(value)} item(s), so [{accessor}] is out of range"
            hint = None
        else:
            wanted = "a list" if isinstance(accessor, int) else "an object"
            shown = format_key_path(path)
            message, hint = f"{shown} is {_kind(value)}, not {wanted}", None
        self.error("FLJ201", f"{{{ref.text}}}: {message}", where, hint=hint)
        raise _Failed

    def _undefined(
        self, ref: VariableRef, where: KeyPath, scope: _Scope | None, after_dollar: bool
    ) -> None:
        name = ref.name
        if scope is not None:
            bound = sorted(scope.bindings)
            self.error(
                "FLJ205",
                f"{{{name}}} in @{scope.definition} is not bound by the call "
                f"{{{scope.call_text}}} and is not a variable",
                scope.call_path,
                hint=_did_you_mean(name, [*bound, *self.variables])
                or f"bind it: {{@{scope.definition}:...:{name}=VALUE}}",
            )
            return
        user, user_score = _closest(name, self.variables)
        system, system_score = _closest(name, SYSTEM_VARIABLES, cutoff=0.8)
        if system is not None and system_score >= user_score and not after_dollar:
            self.error(
                "FLJ203",
                f"{{{ref.text}}}: {name} is not a system variable",
                where,
                hint=f"did you mean {{{system}}}?",
            )
        elif name.isupper() and user is None and not after_dollar:
            self.error(
                "FLJ203",
                f"{{{ref.text}}}: {name} is neither a variable of this file nor a system variable",
                where,
                hint=f"system variables: {', '.join(sorted(SYSTEM_VARIABLES))}; "
                f"an environment variable is written {{${name}}}",
            )
        else:
            hint = f"did you mean {{{user}}}?" if user else None
            if after_dollar:
                hint = f"an environment variable is written {{${name}}}, not ${{{name}}}"
            self.error(
                "FLJ201",
                f"{{{ref.text}}}: no variable '{name}' in this file",
                where,
                hint=hint
                or f"define it as a top-level key of this file, or write {{{{{ref.text}}}}} "
                "for literal braces",
            )

    # --- definitions -------------------------------------------------------------------

    def _call(self, ref: CallRef, where: KeyPath, scope: _Scope | None) -> Any:
        name = ref.name
        if name not in self.definitions:
            known = [f"@{d}" for d in self.definitions]
            self.error(
                "FLJ204",
                f"{{{ref.text}}} calls @{name}, which is not defined",
                where,
                hint=_did_you_mean(f"@{name}", known) or f"define it as a top-level key '@{name}'",
            )
            raise _Failed
        self.called.add(name)
        bindings = self._bind(ref, where, scope)
        key = f"@{name}"
        if key in self.active:
            self._report_cycle(key)
        self._push(_Frame(key, where))
        try:
            scope = _Scope(name, bindings, where, ref.text)
            return self.resolve(self.definitions[name], (key,), scope)
        finally:
            self._pop()

    def _bind(self, ref: CallRef, where: KeyPath, scope: _Scope | None) -> dict[str, Any]:
        parameters = self.parameters(ref.name)
        bindings: dict[str, Any] = {}
        failed = False
        for argument in ref.arguments:
            if argument.name in bindings:
                self.error("FLJ204", f"{{{ref.text}}} binds '{argument.name}' twice", where)
                failed = True
            elif argument.name not in parameters:
                listed = ", ".join(sorted(parameters)) or "none"
                self.error(
                    "FLJ204",
                    f"@{ref.name} has no parameter '{argument.name}'",
                    where,
                    hint=_did_you_mean(argument.name, parameters) or f"its parameters: {listed}",
                )
                failed = True
            value = argument.value
            if isinstance(value, VariableRef | EnvRef | CallRef):
                try:
                    value = self.evaluate(value, where, scope)
                except _Failed:
                    failed = True
            bindings.setdefault(argument.name, value)
        if failed:
            raise _Failed
        return bindings

    def parameters(self, name: str) -> frozenset[str]:
        """Every name a definition's body refers to: its possible parameters."""
        if name not in self._parameters:
            found: set[str] = set()
            _collect_names(self.definitions[name], found)
            self._parameters[name] = frozenset(found)
        return self._parameters[name]

    # --- reporting ---------------------------------------------------------------------

    def error(self, code: str, message: str, path: KeyPath, *, hint: str | None = None) -> None:
        self.report(self.document.diagnostic(code, message, path, hint=hint))

    def warn(
        self,
        code: str,
        message: str,
        path: KeyPath,
        *,
        hint: str | None = None,
        at_key: bool = False,
    ) -> None:
        diagnostic = self.document.diagnostic(
            code, message, path, severity=Severity.WARNING, hint=hint, at_key=at_key
        )
        if not self.document.is_suppressed(code, diagnostic.line):
            self.report(diagnostic)

    def check_names(self, *, report_unused: bool) -> None:
        """Warnings about the variables themselves: clashes and (in configs) unused ones."""
        for name in sorted(self.variables & SYSTEM_VARIABLES):
            self.warn(
                "FLJ212",
                f"variable {name} has the name of a system variable, which wins at deploy time",
                (name,),
                at_key=True,
                hint=f"rename the variable, e.g. to {name.lower()}",
            )
        if not report_unused:
            return
        for name in sorted(self.variables - self.used - STRUCTURAL_KEYS - SYSTEM_VARIABLES):
            self.warn(
                "FLJ211",
                f"variable '{name}' is never used",
                (name,),
                at_key=True,
                hint=f"refer to it as {{{name}}}, or remove it",
            )
        for name in sorted(set(self.definitions) - self.called):
            self.warn(
                "FLJ211",
                f"definition @{name} is never called",
                (f"@{name}",),
                at_key=True,
                hint=f"call it as {{@{name}}}, or remove it",
            )

    def check_unquoted_yaml(self, node: Any, path: KeyPath) -> None:
        """YAML reads an unquoted ``n: {rounds}`` as the object ``{rounds: null}``."""
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, value),) = node.items()
                span = self.document.spans.get(path)
                written = self.document.text[span.start : span.end] if span else ""
                if value is None and written == f"{{{key}}}" and _looks_like_reference(key):
                    self.warn(
                        "FLJ213",
                        f"YAML reads the unquoted {{{key}}} as an object, not a reference",
                        path,
                        hint=f'quote it: "{{{key}}}"',
                    )
            for key, value in node.items():
                self.check_unquoted_yaml(value, (*path, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                self.check_unquoted_yaml(value, (*path, index))


# --- helpers -------------------------------------------------------------------------


def _looks_like_reference(text: str) -> bool:
    try:
        parse_reference(text)
    except ReferenceSyntaxError:
        return False
    return True


def _join(pieces: Sequence[Any]) -> Any:
    merged: list[Any] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        elif piece != "":
            merged.append(piece)
    if all(isinstance(p, str) for p in merged):
        return "".join(merged)
    return _Deferred(tuple(merged))


def _kind(value: Any) -> str:
    if isinstance(value, _Deferred | str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", int: "an integer", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _closest(name: str, candidates: Any, cutoff: float = 0.6) -> tuple[str | None, float]:
    """The candidate most like ``name`` (ignoring case) and its similarity, or (None, 0)."""
    import difflib  # only when something is wrong

    best, score = None, 0.0
    low = name.lower()
    for candidate in sorted(candidates):
        ratio = difflib.SequenceMatcher(None, low, candidate.lower()).ratio()
        if ratio > score:
            best, score = candidate, ratio
    return (best, score) if score >= cutoff else (None, 0.0)


def _did_you_mean(name: str, candidates: Any) -> str | None:
    best, _ = _closest(name, [c for c in candidates if isinstance(c, str)])
    return f"did you mean {best}?" if best else None


def _collect_names(node: Any, found: set[str]) -> None:
    if isinstance(node, str):
        if needs_scan(node):
            for ref in parse_template(node).references:
                _collect_reference_names(ref, found)
    elif isinstance(node, dict):
        for value in node.values():
            _collect_names(value, found)
    elif isinstance(node, list):
        for value in node:
            _collect_names(value, found)


def _collect_reference_names(ref: Reference, found: set[str]) -> None:
    if isinstance(ref, VariableRef):
        found.add(ref.name)
    elif isinstance(ref, CallRef):
        for argument in ref.arguments:
            if isinstance(argument.value, VariableRef | EnvRef | CallRef):
                _collect_reference_names(argument.value, found)


def _finish(value: Any, path: KeyPath, deploy_refs: dict[KeyPath, frozenset[str]]) -> Any:
    """Fresh output containers; deferred strings in template form, their paths recorded."""
    if isinstance(value, _Deferred):
        deploy_refs[path] = value.names()
        return template_text(value.parts)
    if isinstance(value, dict):
        return {k: _finish(v, (*path, k), deploy_refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_finish(v, (*path, i), deploy_refs) for i, v in enumerate(value)]
    return value


def _error_type(diagnostics: Sequence[Diagnostic]) -> type[ResolveError]:
    codes = {d.code for d in diagnostics if d.is_error}
    if codes <= _UNDEFINED_CODES:
        return UndefinedVariableError
    if codes == {"FLJ202"}:
        return VariableCycleError
    return ResolveError


def _raise_if_errors(diagnostics: Sequence[Diagnostic]) -> None:
    if any(d.is_error for d in diagnostics):
        raise _error_type(diagnostics)(diagnostics)


# --- compile time --------------------------------------------------------------------


def resolve_config(
    document: Document, key: str, *, collector: DiagnosticCollector | None = None
) -> ResolvedConfig:
    """Resolve the compile-time variables of one file (``key`` is ``"meta"`` or
    ``"app/config/config_fed_client"``).

    Without ``collector``, errors raise a :class:`~fljob.errors.ResolveError` subclass
    (every error of the file at once) and warnings are dropped; with one, every
    diagnostic goes to it, nothing is raised, and failed values are ``None``.

    >>> from pathlib import Path
    >>> data = {"n": 5, "workflows": [{"args": {"rounds": "{n}", "dir": "{WORKSPACE}/r{n}"}}]}
    >>> config = resolve_config(Document(Path("c.json"), "json", data, ""), "app/config/c")
    >>> config.data["workflows"]
    [{'args': {'rounds': 5, 'dir': '{WORKSPACE}/r5'}}]
    >>> dict(config.deploy_refs), dict(config.variables)
    ({('workflows', 0, 'args', 'dir'): frozenset({'WORKSPACE'})}, {'n': 5})
    """
    seen: set[tuple[str, str | None, str | None, str]] = set()
    found: list[Diagnostic] = []

    def report(diagnostic: Diagnostic) -> None:
        # A definition's body resolves once per call: report each finding once.
        mark = (diagnostic.code, diagnostic.key_path, diagnostic.file, diagnostic.message)
        if mark not in seen:
            seen.add(mark)
            found.append(diagnostic)

    resolver = _Resolver(document, report)
    out = resolver.run()
    if document.format == "yaml":
        resolver.check_unquoted_yaml(document.data, ())
    resolver.check_names(report_unused=key != META)
    if collector is not None:
        collector.extend(found)
    else:
        _raise_if_errors(found)
    deploy_refs: dict[KeyPath, frozenset[str]] = {}
    data = {k: _finish(v, (k,), deploy_refs) for k, v in out.items()}
    variables = {name: _finish(out[name], (name,), {}) for name in sorted(resolver.used)}
    return ResolvedConfig(
        key=key,
        document=document,
        data=data,
        deploy_refs=deploy_refs,
        variables=variables,
        system_variables=frozenset(resolver.system),
        environment_variables=dict(sorted(resolver.environment.items())),
    )


def resolve_job(job: JobSpec, *, collector: DiagnosticCollector | None = None) -> ResolvedJob:
    """Resolve the meta and every config of ``job``; collect every error of every file,
    then raise once. Warnings: the job's own, then resolution's.

    With ``collector`` nothing is raised: every diagnostic goes to it and values that
    failed to resolve become ``None`` (``fljob lint`` uses this to go on validating)."""
    own = collector is None
    sink = collector if collector is not None else DiagnosticCollector()
    meta = resolve_config(job.meta, META, collector=sink)
    configs = {
        cfg.key: resolve_config(cfg.document, cfg.key, collector=sink) for cfg in job.config_files()
    }
    if own:
        _raise_if_errors(sink.items)
    return ResolvedJob(
        spec=job,
        meta=meta,
        configs=configs,
        warnings=(*job.warnings, *sink.warnings) if own else job.warnings,
    )
