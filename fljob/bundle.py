"""The bundle format: what the compiler writes and every site verifies before deploying.

A bundle is a directory (or a zip of it) holding the resolved ``meta.json``, each app's
``config/*.json`` and ``custom/`` files, and ``MANIFEST.json`` with the sha256 and size of
every other file. The same inputs give byte-identical bundles: JSON is written with a
fixed layout, zips with fixed timestamps and sorted entries.

This module belongs to neither the compiler nor the runtime: both use it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from fljob.errors import BundleError

MANIFEST_NAME = "MANIFEST.json"
BUNDLE_FORMAT = "fljob-bundle/1"
META_NAME = "meta.json"
#: zip entries carry this timestamp so that zips are reproducible
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
#: refuse to unpack archives that expand beyond this (zip bombs)
MAX_UNPACKED_BYTES = 64 * 1024**3
_CHUNK = 1024 * 1024


def dump_json(data: Any, *, sort_keys: bool = False) -> bytes:
    """The one JSON layout used in bundles: 2-space indent, UTF-8, trailing newline."""
    return (json.dumps(data, indent=2, ensure_ascii=False, sort_keys=sort_keys) + "\n").encode()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_relative(rel: str) -> str:
    """Reject names that could escape the bundle root (absolute, ``..``, backslashes)."""
    pure = PurePosixPath(rel)
    if not rel or pure.is_absolute() or ".." in pure.parts or "\\" in rel or rel.startswith("/"):
        raise BundleError(f"unsafe path in bundle: {rel!r}", hint="bundle paths are relative")
    return pure.as_posix()


@dataclass
class BundleWriter:
    """Collects the files of a bundle, then writes them in one move (dir or zip).

    Nothing appears at the output path unless the whole bundle was written: files go
    to a temporary sibling first and are renamed into place.
    """

    files: dict[str, bytes | Path] = field(default_factory=dict)

    def add_bytes(self, rel: str, data: bytes) -> None:
        self.files[_check_relative(rel)] = data

    def add_json(self, rel: str, data: Any) -> None:
        self.add_bytes(rel, dump_json(data))

    def add_file(self, rel: str, source: Path) -> None:
        self.files[_check_relative(rel)] = source

    def file_entries(self) -> dict[str, dict[str, Any]]:
        entries = {}
        for rel in sorted(self.files):
            content = self.files[rel]
            if isinstance(content, bytes):
                entries[rel] = {"sha256": sha256_bytes(content), "size": len(content)}
            else:
                entries[rel] = {"sha256": sha256_file(content), "size": content.stat().st_size}
        return entries

    def write(self, out: Path, manifest: Mapping[str, Any], *, as_zip: bool, force: bool) -> Path:
        """Write the bundle with ``manifest`` (its ``files`` are filled in here)."""
        out = Path(out)
        if out.exists() and not force:
            raise BundleError(
                f"output exists: {out}",
                path=str(out),
                hint="choose another path or pass --force to replace it",
            )
        full = dict(manifest)
        full["files"] = self.file_entries()
        manifest_bytes = dump_json(full, sort_keys=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        with _staging(out) as tmp:
            if as_zip:
                self._write_zip(tmp, manifest_bytes)
            else:
                self._write_dir(tmp, manifest_bytes)
            _replace(tmp, out)
        return out

    def _write_dir(self, root: Path, manifest_bytes: bytes) -> None:
        root.mkdir()
        for rel, content in self.files.items():
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                dest.write_bytes(content)
            else:
                shutil.copyfile(content, dest)
        (root / MANIFEST_NAME).write_bytes(manifest_bytes)

    def _write_zip(self, path: Path, manifest_bytes: bytes) -> None:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for rel in sorted([*self.files, MANIFEST_NAME]):
                content = manifest_bytes if rel == MANIFEST_NAME else self.files[rel]
                info = zipfile.ZipInfo(rel, date_time=ZIP_DATE_TIME)
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                if isinstance(content, bytes):
                    zf.writestr(info, content)
                else:
                    with content.open("rb") as src, zf.open(info, "w") as dst:
                        shutil.copyfileobj(src, dst, _CHUNK)


@contextmanager
def _staging(out: Path) -> Iterator[Path]:
    """A temporary path next to ``out`` (same filesystem, so the final rename is atomic)."""
    holder = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield holder / out.name
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def _replace(tmp: Path, out: Path) -> None:
    if out.is_dir() and not out.is_symlink():
        shutil.rmtree(out)
    elif out.exists() or out.is_symlink():
        out.unlink()
    os.replace(tmp, out)


@dataclass(frozen=True)
class Bundle:
    """A bundle directory on disk. Call :meth:`verify` before trusting its contents."""

    root: Path
    manifest: Mapping[str, Any]

    @property
    def job_name(self) -> str:
        return str(self.manifest.get("job_name", ""))

    @property
    def meta(self) -> dict[str, Any]:
        return self._read_json(META_NAME)

    @property
    def apps(self) -> list[str]:
        names = {rel.split("/", 1)[0] for rel in self.manifest["files"] if "/" in rel}
        return sorted(names)

    def app_dir(self, app: str) -> Path:
        return self.root / app

    def config(self, app: str, name: str) -> dict[str, Any] | None:
        """The resolved config ``name`` (e.g. ``config_fed_client``) of ``app``, if any."""
        rel = f"{app}/config/{name}.json"
        return self._read_json(rel) if rel in self.manifest["files"] else None

    def deploy_refs(self, app: str, name: str) -> dict[str, list[str]]:
        """Key paths of strings that still hold deploy-time references in that config."""
        refs = self.manifest.get("deploy_refs", {})
        return dict(refs.get(f"{app}/config/{name}.json", {}))

    def verify(self) -> None:
        """Check every file against the manifest; raise BundleError naming each mismatch."""
        problems = list(_manifest_problems(self.root, self.manifest))
        if problems:
            raise BundleError(
                "bundle does not match its MANIFEST: " + "; ".join(problems),
                path=str(self.root),
                hint="the bundle was changed after it was compiled; compile it again",
            )

    def _read_json(self, rel: str) -> dict[str, Any]:
        try:
            data = json.loads((self.root / rel).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BundleError(f"cannot read {rel} from bundle: {exc}", path=str(self.root)) from exc
        if not isinstance(data, dict):
            raise BundleError(f"{rel} in bundle is not a JSON object", path=str(self.root))
        return data


def _manifest_problems(root: Path, manifest: Mapping[str, Any]) -> Iterable[str]:
    files = manifest.get("files")
    if not isinstance(files, dict):
        yield "MANIFEST has no 'files' table"
        return
    for rel, entry in sorted(files.items()):
        path = root / _check_relative(rel)
        if not path.is_file() or path.is_symlink():
            yield f"{rel} is missing"
        elif path.stat().st_size != entry.get("size"):
            yield f"{rel} has size {path.stat().st_size}, manifest says {entry.get('size')}"
        elif sha256_file(path) != entry.get("sha256"):
            yield f"{rel} has a different sha256 than the manifest"
    listed = set(files) | {MANIFEST_NAME}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if (path.is_file() or path.is_symlink()) and rel not in listed:
            yield f"{rel} is not listed in the manifest"


def open_bundle(path: Path) -> Bundle:
    """Open a bundle directory (use :func:`unpack_bundle` for a zip)."""
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        raise BundleError(
            f"{path} is a zip; unpack it first",
            path=str(path),
            hint="use fljob.bundle.unpack_bundle(zip, dest)",
        )
    manifest_path = path / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BundleError(
            f"no {MANIFEST_NAME} in {path}",
            path=str(path),
            hint="is this a bundle written by 'fljob compile'?",
        ) from exc
    except (OSError, ValueError) as exc:
        raise BundleError(f"cannot read {manifest_path}: {exc}", path=str(path)) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{manifest_path} is not an {BUNDLE_FORMAT} manifest", path=str(path))
    return Bundle(root=path, manifest=manifest)


def unpack_bundle(source: Path | bytes, dest: Path) -> Bundle:
    """Safely extract a bundle zip (a path or its bytes) into the empty folder ``dest``.

    Entries with absolute paths, ``..`` or symlink modes are refused; so is an archive
    that would expand beyond :data:`MAX_UNPACKED_BYTES`. The result is verified.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes) else Path(source).open("rb")  # noqa: SIM115 (closed below)
    with stream, zipfile.ZipFile(stream) as zf:
        infos = zf.infolist()
        if sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
            raise BundleError("bundle archive is too large to unpack")
        dest.mkdir(parents=True, exist_ok=True)
        for info in infos:
            if stat.S_ISLNK(info.external_attr >> 16):
                raise BundleError(f"bundle archive holds a symlink: {info.filename}")
            if info.is_dir():
                continue
            target = dest / _check_relative(info.filename)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
    bundle = open_bundle(dest)
    bundle.verify()
    return bundle


def pack_bundle(root: Path) -> bytes:
    """A reproducible zip of a bundle directory (for submitting it over the network)."""
    bundle = open_bundle(root)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for rel in sorted([*bundle.manifest["files"], MANIFEST_NAME]):
            info = zipfile.ZipInfo(rel, date_time=ZIP_DATE_TIME)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (root / rel).read_bytes())
    return buffer.getvalue()
