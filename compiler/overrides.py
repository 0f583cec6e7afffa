"""``-f CONFIG_FILE KEY=VALUE ... KEY-`` overrides, applied in place.

- CONFIG_FILE names a file of the job: ``config_fed_client.conf``, ``app_1/config_fed_client.conf``,
  ``meta.conf``. Its extension may differ from the file in the job (``.conf`` asked,
  ``.json`` present): the job's file is edited, never silently skipped.
- KEY is a key path from the file's root (``workflows[0].args.num_rounds``) or a suffix of
  exactly one key path (``num_rounds``, ``args.script``); an ambiguous suffix lists the
  candidates, an unknown key suggests the closest.
- ``KEY=VALUE`` sets, ``+KEY=VALUE`` adds a new key to an existing object (as in Hydra),
  ``KEY-`` deletes.
- VALUE converts by the declared variable type, else by the type of the value the file
  holds (a ``"{name}"`` reference takes the type of ``name``); ``"010"`` stays a string for
  a string key.

Every mistake is an :class:`~fljob.errors.OverrideError` diagnostic naming the file and
key path; all are collected and raised once, and no file is written unless all succeed.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fljob.compiler.document import EXTENSIONS, Document
from fljob.compiler.edit import EditError, add_value, delete_value, set_value
from fljob.compiler.keypath import KeyPath, format_key_path, parse_key_path
from fljob.compiler.templates.model import OverrideRecord, Variable
from fljob.compiler.templates.suggest import closest
from fljob.compiler.templates.types import convert, type_of, whole_reference
from fljob.errors import Diagnostic, DiagnosticCollector, LoadError, OverrideError

_SUFFIXES = tuple(ext for ext, _ in EXTENSIONS)
MISSING = object()


@dataclass(frozen=True, slots=True)
class Override:
    """One parsed ``KEY=VALUE`` (``op`` set), ``+KEY=VALUE`` (add) or ``KEY-`` (delete)."""

    key: str
    value: str | None
    op: str
    text: str  #: as typed


@dataclass(frozen=True, slots=True)
class OverrideGroup:
    """``-f FILE`` and the overrides that follow it."""

    file: str
    overrides: tuple[Override, ...]


def parse_override(text: str) -> Override:
    """Parse one override; raise OverrideError (FLJ621) when it has no ``=`` or ``-``."""
    key, eq, value = text.partition("=")
    if eq:
        op = "add" if key.startswith("+") else "set"
        key = key[1:] if op == "add" else key
        if key.strip():
            return Override(key.strip(), value, op, text)
    elif text.endswith("-") and len(text) > 1:
        return Override(text[:-1].strip(), None, "delete", text)
    raise OverrideError(
        [
            Diagnostic(
                "FLJ621",
                f"bad override {text!r}: expected KEY=VALUE, +KEY=VALUE or KEY-",
                hint="e.g. -f config_fed_server.conf num_rounds=7",
            )
        ]
    )


def parse_override_args(args: Sequence[str]) -> list[OverrideGroup]:
    """Group ``-f FILE K=V ... -f FILE2 K=V`` tokens (the CLI's leftover arguments)."""
    groups: list[OverrideGroup] = []
    problems: list[Diagnostic] = []
    tokens = list(args)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token not in ("-f", "--config_file", "--config-file"):
            problems.append(
                Diagnostic(
                    "FLJ621",
                    f"unexpected argument {token!r}",
                    hint="overrides follow a config file: -f config_fed_server.conf num_rounds=7",
                )
            )
            i += 1
            continue
        if i + 1 >= len(tokens) or tokens[i + 1].startswith("-"):
            problems.append(
                Diagnostic(
                    "FLJ621",
                    f"{token} needs a config file name",
                    hint="-f config_fed_client.conf KEY=VALUE ...",
                )
            )
            i += 1
            continue
        file, i = tokens[i + 1], i + 2
        items: list[Override] = []
        while i < len(tokens) and tokens[i] not in ("-f", "--config_file", "--config-file"):
            try:
                items.append(parse_override(tokens[i]))
            except OverrideError as exc:
                problems.extend(exc.diagnostics())
            i += 1
        groups.append(OverrideGroup(file, tuple(items)))
    if problems:
        raise OverrideError(problems)
    return groups


# --- finding the file ------------------------------------------------------------------


def job_config_files(job_dir: Path) -> list[Path]:
    """Every config file of a job: ``meta.*`` and ``<app>/config/*`` in a spec format."""
    files = [p for p in sorted(job_dir.glob("meta.*")) if p.suffix in _SUFFIXES]
    for app in sorted(job_dir.iterdir()):
        config = app / "config"
        if app.is_dir() and not app.name.startswith(".") and config.is_dir():
            files.extend(
                p for p in sorted(config.iterdir()) if p.is_file() and p.suffix in _SUFFIXES
            )
    return files


def find_config_file(job_dir: Path, name: str) -> Path:
    """The job file that ``-f name`` means; OverrideError FLJ622 when none or ambiguous."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts:
        raise OverrideError([Diagnostic("FLJ622", "empty config file name")])
    last = parts[-1]
    stem, ext = os.path.splitext(last)
    base, wanted_ext = (stem, ext) if ext in _SUFFIXES else (last, "")
    app = parts[0] if len(parts) > 1 else None
    by_folder: dict[Path, list[Path]] = {}
    for path in job_config_files(job_dir):
        rel = path.relative_to(job_dir).parts
        if path.stem != base or (app is not None and rel[0] != app):
            continue
        by_folder.setdefault(path.parent, []).append(path)
    chosen = [_pick_format(paths, wanted_ext) for paths in by_folder.values()]
    if len(chosen) == 1:
        return chosen[0]
    known = [p.relative_to(job_dir).as_posix() for p in job_config_files(job_dir)]
    if not chosen:
        match = closest(name, known) or closest(last, [Path(k).name for k in known])
        hint = f"did you mean '{match[0]}'?" if match else "files: " + ", ".join(known)
        raise OverrideError(
            [
                Diagnostic(
                    "FLJ622", f"no config file '{name}' in the job", file=str(job_dir), hint=hint
                )
            ]
        )
    listed = ", ".join(p.relative_to(job_dir).as_posix() for p in chosen)
    raise OverrideError(
        [
            Diagnostic(
                "FLJ622",
                f"config file '{name}' is ambiguous: {listed}",
                file=str(job_dir),
                hint="name the app too, e.g. -f "
                + chosen[0].relative_to(job_dir).parts[0]
                + "/"
                + last,
            )
        ]
    )


def _pick_format(paths: list[Path], wanted_ext: str) -> Path:
    for path in paths:
        if path.suffix == wanted_ext:
            return path
    order = {ext: i for i, ext in enumerate(_SUFFIXES)}
    return min(paths, key=lambda p: order[p.suffix])


# --- finding the key ---------------------------------------------------------------------


def iter_paths(node: Any, prefix: KeyPath = ()) -> Iterator[KeyPath]:
    """Every key path under ``node`` (objects and lists), depth first, in file order."""
    items = (
        node.items()
        if isinstance(node, dict)
        else (enumerate(node) if isinstance(node, list) else ())
    )
    for key, child in items:
        path = (*prefix, key)
        yield path
        yield from iter_paths(child, path)


def lookup(data: Any, path: KeyPath) -> Any:
    """The value at ``path``, or ``MISSING``."""
    node = data
    for part in path:
        in_dict = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
        else:
            return MISSING
    return node


def resolve_key(doc: Document, key: str) -> KeyPath:
    """The one key path ``key`` means in ``doc`` (exact from the root, else a unique
    suffix); OverrideError FLJ621/623/624 otherwise."""
    try:
        wanted = parse_key_path(key)
    except ValueError as exc:
        raise OverrideError([doc.diagnostic("FLJ621", f"bad key {key!r}: {exc}")]) from None
    if lookup(doc.data, wanted) is not MISSING:
        return wanted
    n = len(wanted)
    matches = [p for p in iter_paths(doc.data) if len(p) > n and p[-n:] == wanted]
    if len(matches) == 1:
        return matches[0]
    if matches:
        listed = ", ".join(format_key_path(p) for p in matches)
        raise OverrideError(
            [
                doc.diagnostic(
                    "FLJ624",
                    f"key '{key}' is ambiguous in {doc.path.name}: it matches {listed}",
                    hint=f"give the full key path, e.g. {format_key_path(matches[0])}=VALUE",
                )
            ]
        )
    raise OverrideError([_unknown_key(doc, key)])


def _unknown_key(doc: Document, key: str) -> Diagnostic:
    texts = {format_key_path(p): p for p in iter_paths(doc.data)}
    match = closest(key, texts)
    if not match:
        leaf = key.replace("]", ".").split(".")[-1] or key
        by_leaf = {str(p[-1]): t for t, p in texts.items() if isinstance(p[-1], str)}
        leaf_match = closest(leaf, by_leaf)
        match = [by_leaf[leaf_match[0]]] if leaf_match else []
    hint = (
        f"did you mean '{match[0]}'?"
        if match
        else "run 'fljob show_variables -j JOB' to list the keys"
    )
    diagnostic = doc.diagnostic("FLJ623", f"unknown key '{key}' in {doc.path.name}", hint=hint)
    return _with_key(diagnostic, key)


def _with_key(diagnostic: Diagnostic, key: str) -> Diagnostic:
    from dataclasses import replace

    return replace(diagnostic, key_path=key, line=None, col=None)


# --- converting the value ------------------------------------------------------------------


def target_type(doc: Document, path: KeyPath, declared: Variable | None) -> str:
    """The type a new value must have: declared, else the existing value's type."""
    if declared is not None:
        return declared.type
    existing = lookup(doc.data, path)
    if existing is MISSING or existing is None:
        return "any"
    name = whole_reference(existing)
    if name is not None:
        referenced = lookup(doc.data, tuple(name.split(".")))
        return "any" if referenced is MISSING or referenced is None else type_of(referenced)
    return type_of(existing)


def convert_value(doc: Document, path: KeyPath, text: str, declared: Variable | None) -> Any:
    """Convert ``text`` for ``path``; OverrideError FLJ625 naming the key and type.

    The type comes from the declared variable, else from the component catalog (an
    argument of a known component), else from the value the file holds.
    """
    rule = declared or catalog_argument(doc.data, path)
    if rule is not None and rule.nullable and text.strip() == "null":
        return None
    type_name = target_type(doc, path, rule)
    where = format_key_path(path)
    try:
        value = convert(text, type_name)
    except ValueError as exc:
        raise OverrideError(
            [
                doc.diagnostic(
                    "FLJ625",
                    f"bad value for {where} ({type_name}): {exc}",
                    path,
                    hint=_type_hint(type_name),
                )
            ]
        ) from None
    problem = rule.problem(value) if rule is not None else None
    if problem and rule is not None:
        raise OverrideError(
            [
                doc.diagnostic(
                    "FLJ625",
                    f"bad value for {where}: {problem}",
                    path,
                    hint=rule.description or None,
                )
            ]
        )
    return value


def catalog_argument(data: Any, path: KeyPath) -> Variable | None:
    """The catalog's rule for ``path`` when it is ``<component>.args.<name>`` of a
    known component (class path or FLARE short name), else None."""
    if len(path) < 3 or path[-2] != "args" or not isinstance(path[-1], str):
        return None
    component = lookup(data, path[:-2])
    if not isinstance(component, dict):
        return None
    from fljob.compiler import catalog

    class_path, short_name = component.get("path"), component.get("name")
    spec = None
    if isinstance(class_path, str):
        spec = catalog.lookup(class_path)
    elif isinstance(short_name, str):
        spec = catalog.lookup_name(short_name)
    if spec is None:
        return None
    arg = spec.args.get(path[-1])
    if arg is None:
        return None
    kinds = [t for t in arg.type.split("|") if t != "null"]
    base = [t.split("[")[0] for t in kinds]
    type_name = base[0] if len(set(base)) == 1 else "any"
    return Variable(
        name=arg.name,
        type=type_name,
        description=f"{spec.short_name}.{arg.describe()}",
        choices=arg.choices,
        minimum=arg.minimum,
        nullable="null" in arg.type.split("|"),
    )


def _type_hint(type_name: str) -> str:
    return {
        "int": "write a whole number, e.g. 7",
        "float": "write a number, e.g. 0.01",
        "bool": "write true or false",
        "list": 'write a JSON list, e.g. ["train", "validate"]',
        "dict": 'write a JSON object, e.g. {"lr": 0.01}',
    }.get(type_name, "")


# --- applying ------------------------------------------------------------------------------


def declared_for(variables: Sequence[Variable], job_file: str, path: KeyPath) -> Variable | None:
    """The declared variable that sets ``path`` in the job-relative ``job_file``."""
    stem = os.path.splitext(job_file)[0]
    for variable in variables:
        for key in variable.keys:
            if os.path.splitext(key.file)[0] == stem and key.path == path:
                return variable
    return None


def apply_overrides(
    job_dir: Path, groups: Sequence[OverrideGroup], *, variables: Sequence[Variable] | None = None
) -> list[OverrideRecord]:
    """Apply every group to the job folder's files in place.

    ``variables`` are declared variables with job-relative keys; by default those that
    ``fljob create`` recorded in ``<job>/.fljob/template.json``. Writes nothing unless
    every override succeeds; raises one OverrideError with every problem otherwise.
    """
    if variables is None:
        variables = _recorded_variables(job_dir)
    collector = DiagnosticCollector()
    texts: dict[Path, str] = {}
    records: list[OverrideRecord] = []
    for group in groups:
        try:
            path = find_config_file(job_dir, group.file)
        except OverrideError as exc:
            collector.extend(exc.diagnostics())
            continue
        rel = path.relative_to(job_dir).as_posix()
        try:
            doc = _reload(path, texts.get(path))
        except LoadError as exc:
            collector.extend(exc.diagnostics())
            continue
        for override in group.overrides:
            try:
                doc, record = _apply_one(doc, path, rel, override, variables)
            except OverrideError as exc:
                collector.extend(exc.diagnostics())
                continue
            texts[path] = doc.text
            records.append(record)
    collector.raise_if_errors(OverrideError)
    for path, text in texts.items():
        _write_atomic(path, text)
    return records


def _recorded_variables(job_dir: Path) -> Sequence[Variable]:
    from fljob.compiler.templates.model import read_template_record

    try:
        record = read_template_record(job_dir)
    except (ValueError, KeyError, TypeError):
        return ()  # a malformed record only loses the declared types
    return record.variables if record else ()


def _apply_one(
    doc: Document, path: Path, rel: str, override: Override, variables: Sequence[Variable]
) -> tuple[Document, OverrideRecord]:
    key_path = (
        _new_key_path(doc, override.key) if override.op == "add" else resolve_key(doc, override.key)
    )
    value = None
    if override.op != "delete":
        declared = declared_for(variables, rel, key_path)
        value = convert_value(doc, key_path, override.value or "", declared)
    try:
        if override.op == "add":
            text = add_value(doc, key_path, value)
        elif override.op == "delete":
            text = delete_value(doc, key_path)
        else:
            text = set_value(doc, key_path, value)
        new_doc = _reload(path, text)
    except (EditError, LoadError) as exc:
        message = exc.diagnostics()[0].message if isinstance(exc, LoadError) else str(exc)
        raise OverrideError(
            [
                doc.diagnostic(
                    "FLJ626",
                    f"cannot edit {format_key_path(key_path)} in place: {message}",
                    key_path,
                )
            ]
        ) from None
    _verify(doc, new_doc, key_path, override.op, value)
    return new_doc, OverrideRecord(rel, format_key_path(key_path), value, override.op)


def _new_key_path(doc: Document, key: str) -> KeyPath:
    """For ``+KEY=VALUE``: the parent must exist (exact or unique suffix); the key must not."""
    try:
        wanted = parse_key_path(key)
    except ValueError as exc:
        raise OverrideError([doc.diagnostic("FLJ621", f"bad key {key!r}: {exc}")]) from None
    if not isinstance(wanted[-1], str):
        raise OverrideError([doc.diagnostic("FLJ621", f"cannot add the list index in '{key}'")])
    if lookup(doc.data, wanted) is not MISSING:
        raise OverrideError(
            [
                doc.diagnostic(
                    "FLJ621",
                    f"key '{key}' already exists; '+' adds new keys only",
                    wanted,
                    hint=f"write {key}=VALUE to change it",
                )
            ]
        )
    parent = resolve_key(doc, format_key_path(wanted[:-1])) if len(wanted) > 1 else ()
    if not isinstance(lookup(doc.data, parent), dict):
        raise OverrideError(
            [
                doc.diagnostic(
                    "FLJ621",
                    f"'{format_key_path(parent)}' is not an object; cannot add to it",
                    parent,
                )
            ]
        )
    return (*parent, wanted[-1])


def _verify(old: Document, new: Document, path: KeyPath, op: str, value: Any) -> None:
    """Reloaded, the file must hold exactly the intended change at ``path``."""
    expected = copy.deepcopy(old.data)
    parent = lookup(expected, path[:-1])
    if op == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    if new.data != expected:
        raise OverrideError(
            [
                old.diagnostic(
                    "FLJ626",
                    f"editing {format_key_path(path)} in place would change other values",
                    path,
                    hint="edit this key by hand",
                )
            ]
        )


def _reload(path: Path, text: str | None) -> Document:
    """Load ``path``, or ``text`` as if it were ``path``'s content."""
    from fljob.compiler.load import format_of, load_document, load_text

    if text is None:
        return load_document(path)
    return load_text(text, path, format_of(path))


def _write_atomic(path: Path, text: str) -> None:
    scratch = path.with_name(f".{path.name}.fljob-tmp")
    scratch.write_text(text, encoding="utf-8")
    os.replace(scratch, path)
