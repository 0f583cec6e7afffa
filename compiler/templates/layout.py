"""Where each file of a template lands in a job folder.

FLARE's layout, kept as it is:

- ``meta.*`` goes to the job root;
- config files at the template root form one app (named by the meta's ``deploy_map``,
  ``app`` by default) and go to ``<app>/config/``;
- an app folder (a subfolder with ``config_fed_*`` files or a ``config/`` folder) keeps its
  name; its flat config files go to ``<app>/config/``, its ``custom/`` to ``<app>/custom/``;
- a top-level ``custom/`` is the scaffold for every app's ``custom/``;
- the shared scaffolds named in info.conf (``scaffold = "pt_cnn"``, folders of the
  library's ``_scaffolds/``) go to every app's ``custom/`` as well;
- ``*.j2`` files are jinja2 scaffolds, rendered with the variables, suffix dropped.

When several of these hold a file for the same place, the most specific wins: an app
folder's own ``custom/`` over the top-level ``custom/``, that over the shared scaffolds,
and a later shared scaffold over an earlier one (``x.py.j2`` and ``x.py`` count as the
same file).

Hidden files, ``__pycache__`` and ``info.*`` are never copied.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from fljob.compiler.document import EXTENSIONS
from fljob.compiler.templates.info import find_named, load_spec
from fljob.compiler.templates.model import Layout, Template, TemplateFile
from fljob.compiler.templates.scaffolds import SCAFFOLD_DIR
from fljob.errors import Diagnostic, LoadError, TemplateError

CONFIG_SUFFIXES = frozenset(ext for ext, _ in EXTENSIONS)
SKIP_NAMES = frozenset({"__pycache__", ".git", ".fljob"})
SCAFFOLD_SUFFIX = ".j2"


def template_layout(template: Template) -> Layout:
    """Map every file of ``template`` onto the job folder; raise TemplateError when the
    folder holds no config files or mixes root configs with app folders."""
    root = template.root
    meta_path = find_named(root, "meta")
    app_dirs = [d for d in sorted(root.iterdir()) if _is_app_dir(d)]
    root_configs = [f for f in _root_files(root) if f.suffix in CONFIG_SUFFIXES]
    if app_dirs and root_configs:
        names = ", ".join(f.name for f in root_configs)
        raise TemplateError(
            [
                Diagnostic(
                    "FLJ605",
                    f"template mixes app folders with config files at its root ({names})",
                    file=str(root),
                    hint="move the root config files into the app folders",
                )
            ]
        )
    if not app_dirs and not root_configs:
        raise TemplateError(
            [
                Diagnostic(
                    "FLJ605",
                    "template holds no config files and no app folders",
                    file=str(root),
                    hint="add config_fed_server.conf and config_fed_client.conf",
                )
            ]
        )
    files: list[TemplateFile] = []
    meta = None
    if meta_path is not None:
        meta = _file(root, meta_path, meta_path.name, "meta")
        files.append(meta)
    if app_dirs:
        apps = tuple(d.name for d in app_dirs)
        for app_dir in app_dirs:
            files.extend(_app_folder_files(root, app_dir))
    else:
        apps = (_single_app_name(meta_path),)
        files.extend(_file(root, f, f"{apps[0]}/config/{f.name}", "config") for f in root_configs)
    taken = {f.target for f in files}  # an app folder's own custom/ wins
    for app in apps:
        shared = _shared_custom(template, f"{app}/custom")
        files.extend(f for target, f in sorted(shared.items()) if target not in taken)
    return Layout(apps=apps, meta=meta, files=tuple(files))


def _shared_custom(template: Template, target_dir: str) -> dict[str, TemplateFile]:
    """The files every app's ``custom/`` gets: the shared scaffolds in order, then the
    template's top-level ``custom/``; a later layer's file replaces an earlier one's."""
    layered: dict[str, TemplateFile] = {}
    library = template.library_root.resolve()
    escaping = []
    for scaffold in template.scaffolds:
        prefix = f"../{SCAFFOLD_DIR}/{scaffold.name}"
        for item in _tree_files(scaffold.root, scaffold.root, target_dir, "custom"):
            if not item.source.resolve().is_relative_to(library):
                escaping.append(item.source)
            layered[item.target] = replace(item, template_path=f"{prefix}/{item.template_path}")
    if escaping:
        raise TemplateError(
            [
                Diagnostic(
                    "FLJ607",
                    "scaffold file links outside the template library",
                    file=str(path),
                    hint="copy the file into the scaffold instead of linking to it",
                )
                for path in dict.fromkeys(escaping)
            ]
        )
    custom = template.root / "custom"
    if custom.is_dir():
        for item in _tree_files(template.root, custom, target_dir, "custom"):
            layered[item.target] = item
    return layered


def _root_files(root: Path) -> list[Path]:
    return [
        f
        for f in sorted(root.iterdir())
        if f.is_file() and not _skipped(f) and f.stem not in ("info", "meta")
    ]


def _is_app_dir(folder: Path) -> bool:
    if not folder.is_dir() or _skipped(folder) or folder.name == "custom":
        return False
    if (folder / "config").is_dir():
        return True
    return any(
        f.name.startswith("config_fed_") and f.suffix in CONFIG_SUFFIXES
        for f in folder.iterdir()
        if f.is_file()
    )


def _app_folder_files(root: Path, app_dir: Path) -> list[TemplateFile]:
    files: list[TemplateFile] = []
    app = app_dir.name
    for item in sorted(app_dir.iterdir()):
        if _skipped(item):
            continue
        if item.is_dir():
            kind = {"config": "config", "custom": "custom"}.get(item.name, "other")
            files.extend(_tree_files(root, item, f"{app}/{item.name}", kind))
        elif item.suffix in CONFIG_SUFFIXES:
            files.append(_file(root, item, f"{app}/config/{item.name}", "config"))
        else:
            files.append(_file(root, item, f"{app}/{item.name}", "other"))
    return files


def _tree_files(root: Path, folder: Path, target_dir: str, kind: str) -> list[TemplateFile]:
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_dir() or any(_skipped(Path(part)) for part in rel.parts):
            continue
        files.append(_file(root, path, f"{target_dir}/{rel.as_posix()}", kind))
    return files


def _file(root: Path, path: Path, target: str, kind: str) -> TemplateFile:
    render = path.name.endswith(SCAFFOLD_SUFFIX)
    if render:
        target = target[: -len(SCAFFOLD_SUFFIX)]
    return TemplateFile(path, path.relative_to(root).as_posix(), target, kind, render)


def _skipped(path: Path) -> bool:
    return path.name in SKIP_NAMES or path.name.startswith(".") or path.suffix == ".pyc"


def _single_app_name(meta_path: Path | None) -> str:
    """The app of a single-app template: the one key of the meta's deploy_map."""
    if meta_path is None:
        return "app"
    try:
        data = load_spec(meta_path).data
    except LoadError as exc:
        raise TemplateError(exc.diagnostics()) from None
    deploy_map = data.get("deploy_map")
    if isinstance(deploy_map, dict) and len(deploy_map) == 1:
        (name,) = deploy_map
        return str(name)
    return "app"


def template_hash(template: Template) -> str:
    """sha256 over the template's files and those of its shared scaffolds, in order, so
    that editing a scaffold changes the hash of every template that uses it. A template
    without scaffolds hashes as before scaffolds existed (its folder alone)."""
    import hashlib

    digest = hashlib.sha256()
    _hash_tree(digest, template.root, "")
    for scaffold in template.scaffolds:
        _hash_tree(digest, scaffold.root, f"../{SCAFFOLD_DIR}/{scaffold.name}/")
    return "sha256:" + digest.hexdigest()


def _hash_tree(digest: Any, root: Path, prefix: str) -> None:
    import hashlib

    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_dir() or any(_skipped(Path(part)) for part in rel.parts):
            continue
        digest.update((prefix + rel.as_posix()).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
