"""The template model: what a template declares, and what a job records about it.

A :class:`Template` is a folder read by :mod:`fljob.compiler.templates.info`; its files
map onto a job folder as :class:`TemplateFile` records (see ``layout``). A job created
from a template keeps a :class:`TemplateRecord` in ``<job>/.fljob/template.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fljob.compiler.keypath import KeyPath, format_key_path, parse_key_path
from fljob.compiler.templates.types import check_constraints, matches_type

RECORD_DIR = ".fljob"
RECORD_FILE = "template.json"


@dataclass(frozen=True, slots=True)
class VariableKey:
    """The config key a variable sets: a file (template- or job-relative) and a key path."""

    file: str
    path: KeyPath

    def __str__(self) -> str:
        return f"{self.file}:{format_key_path(self.path)}"

    @classmethod
    def parse(cls, text: str) -> VariableKey:
        """``"config_fed_server.conf:num_rounds"`` -> VariableKey; ValueError when malformed."""
        file, sep, path = text.rpartition(":")
        if not sep or not file.strip() or not path.strip():
            raise ValueError(f"expected FILE:KEY_PATH, got {text!r}")
        return cls(file.strip(), parse_key_path(path.strip()))


@dataclass(frozen=True, slots=True)
class Variable:
    """One variable a user can set. ``declared`` is False when inferred from a config."""

    name: str
    type: str
    default: Any = None
    description: str = ""
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    keys: tuple[VariableKey, ...] = ()
    declared: bool = True
    nullable: bool = False  #: ``null`` is allowed besides ``type``

    def problem(self, value: Any) -> str | None:
        """Why ``value`` does not fit this variable, or None."""
        if value is None and self.nullable:
            return None
        if not matches_type(value, self.type):
            return f"expected {self.type}, got {json.dumps(value)}"
        return check_constraints(
            value, choices=self.choices, minimum=self.minimum, maximum=self.maximum
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "description": self.description,
        }
        if self.choices is not None:
            out["choices"] = list(self.choices)
        if self.minimum is not None:
            out["min"] = self.minimum
        if self.maximum is not None:
            out["max"] = self.maximum
        out["keys"] = [str(k) for k in self.keys]
        if not self.declared:
            out["declared"] = False  # inferred from a FLARE template's configs
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Variable:
        choices = data.get("choices")
        return cls(
            name=str(data["name"]),
            type=str(data.get("type", "any")),
            default=data.get("default"),
            description=str(data.get("description", "")),
            choices=tuple(choices) if choices is not None else None,
            minimum=data.get("min"),
            maximum=data.get("max"),
            keys=tuple(VariableKey.parse(k) for k in data.get("keys", ())),
            declared=bool(data.get("declared", True)),
        )


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    """The fields of ``info.conf``."""

    description: str = ""
    controller_type: str = ""
    execution_api_type: str = ""
    version: str | None = None
    variables: tuple[Variable, ...] = ()  #: declared ones (fljob extension)
    scaffolds: tuple[str, ...] = ()  #: names in the library's ``_scaffolds/`` (fljob extension)


@dataclass(frozen=True, slots=True)
class Scaffold:
    """A shared folder of ``custom/`` files in a library's ``_scaffolds/``, resolved."""

    name: str  #: as info.conf names it, e.g. ``pt_cnn``
    root: Path  #: the folder, resolved and known to lie inside the library


@dataclass(frozen=True, slots=True)
class TemplateFile:
    """A file the template ships and where it lands in the job folder."""

    source: Path
    template_path: str  #: template-relative POSIX path (``../_scaffolds/...`` for scaffolds)
    target: str  #: job-relative POSIX path, e.g. ``app/config/config_fed_client.conf``
    kind: str  #: ``meta`` | ``config`` | ``custom`` | ``other``
    render: bool = False  #: a jinja2 scaffold (``*.j2``): rendered, suffix dropped


@dataclass(frozen=True, slots=True)
class Template:
    """A template folder found in a source (only ``info.conf`` read so far)."""

    name: str
    root: Path
    source: str  #: where it was found: ``-d DIR``, ``FLJOB_TEMPLATES``, ``built-in`` ...
    info: TemplateInfo
    flare_format: bool  #: True when info.conf declares no fljob extensions
    scaffolds: tuple[Scaffold, ...] = ()  #: ``info.scaffolds`` resolved, in order

    @property
    def is_builtin(self) -> bool:
        return self.source == "built-in"

    @property
    def library_root(self) -> Path:
        """The library folder that holds this template (and its ``_scaffolds/``)."""
        return library_root_of(self.root)


def library_root_of(template_root: Path) -> Path:
    """The folder that holds a template folder, also for ``.`` or ``tmpl/..``-style paths."""
    return Path(os.path.abspath(template_root)).parent


@dataclass(frozen=True, slots=True)
class Layout:
    """How a template's files map onto a job folder."""

    apps: tuple[str, ...]  #: the job's app folders
    meta: TemplateFile | None
    files: tuple[TemplateFile, ...]  #: every file to write, meta included

    def target_of(self, template_file: str) -> str | None:
        """The job-relative path of a template-relative file name (first match)."""
        wanted = template_file.replace("\\", "/")
        for item in self.files:
            if item.template_path == wanted:
                return item.target
        return None

    def configs(self) -> list[TemplateFile]:
        return [f for f in self.files if f.kind in ("meta", "config")]


@dataclass(frozen=True, slots=True)
class OverrideRecord:
    file: str  #: job-relative
    key: str  #: key path text
    value: Any = None
    op: str = "set"  #: ``set`` | ``add`` | ``delete``

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "key": self.key}
        if self.op != "delete":
            out["value"] = self.value
        if self.op != "set":
            out["op"] = self.op
        return out


@dataclass(frozen=True, slots=True)
class TemplateRecord:
    """What ``<job>/.fljob/template.json`` holds: enough to re-apply overrides after an
    upgrade, and the declared variables (job-relative keys) for ``show_variables``."""

    name: str
    version: str | None
    hash: str
    source: str
    overrides: tuple[OverrideRecord, ...] = ()
    variables: tuple[Variable, ...] = field(default=())

    def to_json(self) -> str:
        data = {
            "name": self.name,
            "version": self.version,
            "hash": self.hash,
            "source": self.source,
            "overrides": [o.to_dict() for o in self.overrides],
            "variables": [v.to_dict() for v in self.variables],
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> TemplateRecord:
        data = json.loads(text)
        return cls(
            name=data["name"],
            version=data.get("version"),
            hash=data.get("hash", ""),
            source=data.get("source", ""),
            overrides=tuple(
                OverrideRecord(o["file"], o["key"], o.get("value"), o.get("op", "set"))
                for o in data.get("overrides", ())
            ),
            variables=tuple(Variable.from_dict(v) for v in data.get("variables", ())),
        )


def read_template_record(job_dir: Path) -> TemplateRecord | None:
    """The template record of a job folder, or None when it was not created from one.

    Raises ValueError (or KeyError) when the record exists but is malformed.
    """
    path = Path(job_dir) / RECORD_DIR / RECORD_FILE
    if not path.is_file():
        return None
    return TemplateRecord.from_json(path.read_text(encoding="utf-8"))
