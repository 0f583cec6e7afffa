"""Where each file of a template lands in a job folder.

FLARE's layout, kept as it is:

- ``meta.*`` goes to the job root;
- config files at the template root form one app (named by the meta's ``deploy_map``,
  ``app`` by default) and go to ``<app>/config/``;
- an app folder (a subfolder with ``config_fed_*`` files or a ``config/`` folder) keeps its
  name; its flat config files go to ``<app>/config/``, its ``custom/`` to ``<app>/custom/``;
- a top-level ``custom/`` is the scaffold for every app's ``custom/``;
- ``*.j2`` files are jinja2 scaffolds, rendered with the variables, suffix dropped.

Hidden files, ``__pycache__`` and ``info.*`` are never copied.
"""

from __future__ import annotations

from pathlib import Path

from fljob.compiler.document import EXTENSIONS
from fljob.compiler.templates.info import find_named, load_spec
from fljob.compiler.templates.model import Layout, Template, TemplateFile
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
    scaffold = root / "custom"
    if scaffold.is_dir():
        for app in apps:
            files.extend(_tree_files(root, scaffold, f"{app}/custom", "custom"))
    return Layout(apps=apps, meta=meta, files=tuple(files))


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


def template_files_hash(root: Path) -> str:
    """sha256 over the template's files (sorted relative paths and contents)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_dir() or any(_skipped(Path(part)) for part in rel.parts):
            continue
        digest.update(rel.as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return "sha256:" + digest.hexdigest()
