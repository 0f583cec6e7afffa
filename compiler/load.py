"""Loading spec files into :class:`~fljob.compiler.document.Document` objects.

Public API::

    load_document(path, *, root=None) -> Document      # by extension
    load_text(text, path, fmt, *, root=None) -> Document
    find_config(folder, base) -> ConfigChoice | None   # .json -> .conf -> .yml -> .yaml
    load_job(job_dir) -> JobSpec
    warm_up() -> None                                  # import all parsers up front

Example::

    >>> doc = load_document(Path("job/app/config/config_fed_client.conf"))
    >>> span = doc.spans[("executors", 0, "tasks")]
    >>> doc.text[span.start:span.end]
    '["train"]'

Errors: ``ConfigSyntaxError`` (FLJ101, with line, column and a caret snippet) for a bad
file, ``LoadError`` for a missing (FLJ102), unreadable (FLJ105), non-object (FLJ104) or
unsupported (FLJ107) one. ``load_job`` collects every error of every file, then raises
once; shadowed files (FLJ103) and duplicate keys (FLJ106) are warnings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fljob.compiler.document import EXTENSIONS, Document, Format
from fljob.compiler.formats._text import LineIndex, Parsed, located
from fljob.compiler.model import CONFIG_NAMES, META, AppSpec, ConfigFile, JobSpec
from fljob.errors import (
    ConfigSyntaxError,
    Diagnostic,
    DiagnosticError,
    LoadError,
    Severity,
    sort_key,
)

_FORMAT_BY_SUFFIX: dict[str, Format] = dict(EXTENSIONS)


@dataclass(frozen=True, slots=True)
class ConfigChoice:
    """The file that holds one config, and the other formats of it that it shadows."""

    path: Path
    shadowed: tuple[Path, ...] = ()


def format_of(path: Path) -> Format:
    """The format of ``path`` by its extension; LoadError FLJ107 for any other."""
    fmt = _FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(ext for ext, _ in EXTENSIONS)
        raise LoadError(
            [
                Diagnostic(
                    "FLJ107",
                    f"unsupported config file type '{path.suffix}'",
                    file=str(path),
                    hint=f"use one of {known}",
                )
            ]
        )
    return fmt


def read_text(path: Path) -> str:
    """The file's text (UTF-8, a leading BOM dropped); LoadError FLJ105 when unreadable."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise LoadError(
            [Diagnostic("FLJ105", f"cannot read the file: {reason}", file=str(path))]
        ) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        good = raw[: exc.start].decode("utf-8", errors="replace")
        line = good.count("\n") + 1
        col = len(good) - (good.rfind("\n") + 1) + 1
        raise LoadError(
            [
                Diagnostic(
                    "FLJ105",
                    f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                    file=str(path),
                    line=line,
                    col=col,
                    hint="save the file as UTF-8",
                )
            ]
        ) from None


def _parser(fmt: Format) -> Callable[..., Parsed]:
    # Imported on demand: a JSON-only job never imports PyYAML.
    if fmt == "json":
        from fljob.compiler.formats.json_format import parse_json

        return lambda text, path, index, root: parse_json(text, path)
    if fmt == "hocon":
        from fljob.compiler.formats.hocon_format import parse_hocon

        return parse_hocon
    if fmt == "yaml":
        from fljob.compiler.formats.yaml_format import parse_yaml

        return lambda text, path, index, root: parse_yaml(text, path)
    raise ValueError(f"unknown format {fmt!r}")


def warm_up() -> None:
    """Import every format parser now (e.g. before forking lint workers that share them)."""
    for fmt in ("json", "hocon", "yaml"):
        _parser(fmt)


def load_text(text: str, path: Path | str, fmt: Format, *, root: Path | None = None) -> Document:
    """Parse ``text`` (the content of ``path``) as ``fmt`` into a Document.

    ``root`` is the folder HOCON includes must stay in (default: the file's folder).
    """
    path = Path(path)
    index = LineIndex(text)
    parsed = _parser(fmt)(text, path, index, root)
    if not isinstance(parsed.data, dict):
        found = "nothing (the file is empty)" if parsed.data is None else _kind(parsed.data)
        offset = parsed.spans.get((), (0, 0))[0]
        raise LoadError(
            [
                located(
                    "FLJ104",
                    f"the top level must be an object, found {found}",
                    path,
                    index,
                    offset,
                    hint="write key: value pairs at the top level",
                )
            ]
        )
    span = index.span
    return Document(
        path=path,
        format=fmt,
        data=parsed.data,
        text=text,
        spans={key: span(*offsets) for key, offsets in parsed.spans.items()},
        key_spans={key: span(*offsets) for key, offsets in parsed.key_spans.items()},
        suppressions=parsed.suppressions,
        warnings=parsed.warnings,
        synthetic=frozenset(parsed.synthetic),
        includes=tuple(parsed.includes),
    )


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, int | float) else type(value).__name__


def load_document(path: Path, *, root: Path | None = None) -> Document:
    """Load one spec file; the format comes from the extension (.json, .conf, .yml, .yaml)."""
    path = Path(path)
    fmt = format_of(path)
    return load_text(read_text(path), path, fmt, root=root)


def find_config(folder: Path, base: str) -> ConfigChoice | None:
    """The file for config ``base`` in ``folder`` (never a subfolder), or None.

    The first of ``base.json``, ``base.conf``, ``base.yml``, ``base.yaml`` wins; the
    others found are listed as shadowed.
    """
    found = [folder / f"{base}{ext}" for ext, _ in EXTENSIONS]
    found = [p for p in found if p.is_file()]
    if not found:
        return None
    return ConfigChoice(found[0], tuple(found[1:]))


def _candidates(base: str) -> str:
    return ", ".join(f"{base}{ext}" for ext, _ in EXTENSIONS)


def _shadow_warnings(choice: ConfigChoice) -> list[Diagnostic]:
    return [
        Diagnostic(
            "FLJ103",
            f"{p.name} is ignored: {choice.path.name} wins "
            "(search order .json, .conf, .yml, .yaml)",
            severity=Severity.WARNING,
            file=str(p),
            hint=f"delete one of {choice.path.name} and {p.name}",
        )
        for p in choice.shadowed
    ]


class _JobLoader:
    """Collects the documents and every problem of one job folder."""

    def __init__(self, job_dir: Path):
        self.job_dir = job_dir
        self.problems: list[Diagnostic] = []

    def document(self, path: Path) -> Document | None:
        try:
            doc = load_document(path, root=self.job_dir)
        except DiagnosticError as exc:
            self.problems.extend(exc.diagnostics())
            return None
        self.problems.extend(doc.warnings)
        return doc

    def app(self, folder: Path) -> AppSpec:
        config_dir = folder / "config"
        configs: dict[str, ConfigFile] = {}
        used: set[Path] = set()
        for name in CONFIG_NAMES:
            choice = find_config(config_dir, name)
            if choice is None:
                continue
            used.update((choice.path, *choice.shadowed))
            self.problems.extend(_shadow_warnings(choice))
            doc = self.document(choice.path)
            if doc is not None:
                configs[name] = ConfigFile(folder.name, name, doc, choice.shadowed)
        if not used:
            names = " or ".join(_candidates(n) for n in CONFIG_NAMES)
            self.problems.append(
                Diagnostic(
                    "FLJ102",
                    f"app '{folder.name}' has neither a server nor a client config",
                    file=str(config_dir),
                    hint=f"add one of {names}",
                )
            )
        extra = tuple(sorted(p for p in config_dir.rglob("*") if p.is_file() and p not in used))
        custom = folder / "custom"
        return AppSpec(folder.name, folder, configs, custom if custom.is_dir() else None, extra)


def load_job(job_dir: Path) -> JobSpec:
    """Load a FLARE-style job folder: meta plus every app (a subfolder with ``config/``).

    Raises one ``LoadError`` (or ``ConfigSyntaxError`` when every error is a syntax
    error) listing every problem of every file; warnings come back in ``JobSpec.warnings``.
    """
    job_dir = Path(job_dir)
    if not job_dir.is_dir():
        raise LoadError(
            [
                Diagnostic(
                    "FLJ001", "the job folder does not exist or is not a folder", file=str(job_dir)
                )
            ]
        )
    loader = _JobLoader(job_dir)
    meta_choice = find_config(job_dir, META)
    meta = None
    if meta_choice is None:
        loader.problems.append(
            Diagnostic(
                "FLJ102",
                f"no meta file in the job folder {job_dir}",
                file=str(job_dir),
                hint=f"add one of {_candidates(META)}",
            )
        )
    else:
        loader.problems.extend(_shadow_warnings(meta_choice))
        meta = loader.document(meta_choice.path)
    apps = {
        folder.name: loader.app(folder)
        for folder in sorted(job_dir.iterdir())
        if folder.is_dir() and not folder.name.startswith(".") and (folder / "config").is_dir()
    }
    if not apps:
        loader.problems.append(
            Diagnostic(
                "FLJ102",
                "the job has no app: no subfolder with a config/ folder",
                file=str(job_dir),
                hint="put config_fed_server / config_fed_client files in <app>/config/",
            )
        )
    errors = [d for d in loader.problems if d.is_error]
    if errors or meta is None:
        kind = ConfigSyntaxError if all(d.code == "FLJ101" for d in errors) else LoadError
        raise kind(loader.problems)
    name = meta.data.get("name")
    return JobSpec(
        root=job_dir,
        name=name if isinstance(name, str) else job_dir.name,
        meta=meta,
        meta_shadowed=meta_choice.shadowed if meta_choice else (),
        apps=apps,
        warnings=tuple(sorted((d for d in loader.problems if not d.is_error), key=sort_key)),
    )
