"""Template sources and lookup by name.

Sources, in order (the first that holds a name wins): ``-d DIR`` (repeatable),
``FLJOB_TEMPLATES`` (an ``os.pathsep`` list), the user config file
(``$XDG_CONFIG_HOME/fljob/config.json`` or ``~/.config/fljob/config.json``, key
``template_dirs``), the built-in library. A source folder is a library (a folder of
templates, plus shared scaffolds in ``_scaffolds/``; folders named ``_*`` are never
templates) or, when it holds ``info.conf`` itself, a single template.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fljob.compiler.templates.info import is_template_dir, read_template
from fljob.compiler.templates.model import Template
from fljob.compiler.templates.scaffolds import is_reserved
from fljob.compiler.templates.suggest import closest
from fljob.errors import Diagnostic, Severity, TemplateError

ENV_VAR = "FLJOB_TEMPLATES"
BUILTIN = "built-in"


@dataclass(frozen=True, slots=True)
class TemplateSource:
    path: Path
    origin: str  #: ``-d``, ``FLJOB_TEMPLATES``, ``user config``, ``built-in``

    @property
    def label(self) -> str:
        return BUILTIN if self.origin == BUILTIN else f"{self.origin} {self.path}"


@dataclass(frozen=True, slots=True)
class TemplateEntry:
    """A template folder found in a source, before its info.conf is read."""

    name: str
    path: Path
    source: TemplateSource
    shadows: tuple[TemplateSource, ...] = ()  #: later sources holding the same name

    def read(self) -> Template:
        return read_template(self.path, source=self.source.label, name=self.name)


def user_config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "fljob" / "config.json"


def template_sources(
    dirs: Sequence[Path | str] = (),
    *,
    environ: Mapping[str, str] | None = None,
    warnings: list[Diagnostic] | None = None,
) -> list[TemplateSource]:
    """Every template source in lookup order. Unreadable env or user-config entries are
    skipped with an FLJ604 warning appended to ``warnings``."""
    env = os.environ if environ is None else environ
    sink = warnings if warnings is not None else []
    sources = [TemplateSource(Path(d), "-d") for d in dirs]
    for item in env.get(ENV_VAR, "").split(os.pathsep):
        if item.strip():
            sources.append(_checked(Path(item).expanduser(), ENV_VAR, sink))
    sources.extend(_user_config_sources(user_config_path(env), sink))
    from fljob.templates import BUILTIN_DIR

    sources.append(TemplateSource(BUILTIN_DIR, BUILTIN))
    return [s for s in sources if s.path.is_dir()]


def _checked(path: Path, origin: str, sink: list[Diagnostic]) -> TemplateSource:
    if not path.is_dir():
        sink.append(
            Diagnostic(
                "FLJ604",
                f"template source {path} ({origin}) is not a folder; skipped",
                severity=Severity.WARNING,
                file=str(path),
            )
        )
    return TemplateSource(path, origin)


def _user_config_sources(config: Path, sink: list[Diagnostic]) -> list[TemplateSource]:
    if not config.is_file():
        return []
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        sink.append(
            Diagnostic(
                "FLJ604",
                f"cannot read the user config: {exc}",
                severity=Severity.WARNING,
                file=str(config),
            )
        )
        return []
    dirs = data.get("template_dirs", []) if isinstance(data, dict) else None
    if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
        sink.append(
            Diagnostic(
                "FLJ604",
                "'template_dirs' must be a list of folder paths",
                severity=Severity.WARNING,
                file=str(config),
                key_path="template_dirs",
            )
        )
        return []
    return [_checked((config.parent / Path(d).expanduser()), "user config", sink) for d in dirs]


@dataclass
class TemplateLibrary:
    """The templates of several sources; the first source that holds a name wins."""

    sources: list[TemplateSource]
    warnings: list[Diagnostic] = field(default_factory=list)
    _entries: dict[str, TemplateEntry] | None = None

    @classmethod
    def discover(
        cls, dirs: Sequence[Path | str] = (), *, environ: Mapping[str, str] | None = None
    ) -> TemplateLibrary:
        warnings: list[Diagnostic] = []
        sources = template_sources(dirs, environ=environ, warnings=warnings)
        return cls(sources, warnings)

    def entries(self) -> dict[str, TemplateEntry]:
        """Every template name -> the entry that wins, in name order."""
        if self._entries is None:
            found: dict[str, TemplateEntry] = {}
            for source in self.sources:
                for name, path in _templates_in(source.path):
                    if name in found:
                        first = found[name]
                        found[name] = TemplateEntry(
                            name, first.path, first.source, (*first.shadows, source)
                        )
                    else:
                        found[name] = TemplateEntry(name, path, source)
            self._entries = dict(sorted(found.items()))
        return self._entries

    def find(self, name: str) -> Template:
        """The template called ``name`` (or at that folder path); TemplateError FLJ601
        with a did-you-mean when there is none."""
        entry = self.entries().get(name)
        if entry is not None:
            return entry.read()
        as_path = Path(name).expanduser()
        if (os.sep in name or name.startswith(".")) and is_template_dir(as_path):
            return read_template(as_path.resolve(), source=f"path {as_path}")
        raise TemplateError([self.unknown(name)])

    def unknown(self, name: str) -> Diagnostic:
        names = list(self.entries())
        match = closest(name, names)
        hint = (
            f"did you mean '{match[0]}'?"
            if match
            else "run 'fljob list_templates' to see the templates"
        )
        where = ", ".join(s.label for s in self.sources)
        return Diagnostic("FLJ601", f"unknown template '{name}' (searched: {where})", hint=hint)

    def templates(self) -> list[Template]:
        """Every winning template, read. Broken ones raise one TemplateError for all."""
        templates, problems = self.read_all()
        if problems:
            raise TemplateError(problems)
        return templates

    def read_all(self) -> tuple[list[Template], list[Diagnostic]]:
        """Every winning template that reads, and the problems of those that do not."""
        templates: list[Template] = []
        problems: list[Diagnostic] = []
        for entry in self.entries().values():
            try:
                templates.append(entry.read())
            except TemplateError as exc:
                problems.extend(exc.diagnostics())
        return templates, problems


def _templates_in(folder: Path) -> list[tuple[str, Path]]:
    if is_template_dir(folder):
        return [(folder.name, folder)]
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return []
    # ``_scaffolds`` (and any ``_name``) holds shared parts, never a template.
    return [
        (child.name, child)
        for child in children
        if not is_reserved(child.name) and is_template_dir(child)
    ]
