"""The bundle format: deterministic output, verification, safe unpacking."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from fljob.bundle import (
    MANIFEST_NAME,
    BundleWriter,
    open_bundle,
    pack_bundle,
    unpack_bundle,
)
from fljob.errors import BundleError

MANIFEST = {"format": "fljob-bundle/1", "fljob_version": "test", "job_name": "j"}


def make_writer(tmp_path: Path) -> BundleWriter:
    source = tmp_path / "train.py"
    source.write_text("print('hi')\n")
    writer = BundleWriter()
    writer.add_json("meta.json", {"name": "j", "deploy_map": {"app": ["@ALL"]}})
    writer.add_json("app/config/config_fed_client.json", {"format_version": 2})
    writer.add_file("app/custom/train.py", source)
    return writer


@pytest.mark.parametrize("as_zip", [False, True], ids=["dir", "zip"])
def test_same_input_gives_identical_bytes(tmp_path: Path, as_zip: bool) -> None:
    first = make_writer(tmp_path).write(tmp_path / "a", MANIFEST, as_zip=as_zip, force=False)
    second = make_writer(tmp_path).write(tmp_path / "b", MANIFEST, as_zip=as_zip, force=False)
    if as_zip:
        assert first.read_bytes() == second.read_bytes()
    else:
        files_a = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
        files_b = sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
        assert files_a == files_b
        for rel in files_a:
            assert (first / rel).read_bytes() == (second / rel).read_bytes()


def test_manifest_lists_every_file_with_hash_and_size(tmp_path: Path) -> None:
    out = make_writer(tmp_path).write(tmp_path / "b", MANIFEST, as_zip=False, force=False)
    bundle = open_bundle(out)
    assert set(bundle.manifest["files"]) == {
        "meta.json",
        "app/config/config_fed_client.json",
        "app/custom/train.py",
    }
    assert bundle.manifest["files"]["app/custom/train.py"]["size"] == len("print('hi')\n")
    bundle.verify()
    assert bundle.apps == ["app"]
    assert bundle.config("app", "config_fed_client") == {"format_version": 2}
    assert bundle.config("app", "config_fed_server") is None


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (
            lambda root: (root / "app/custom/train.py").write_text("print('evil')\n"),
            "app/custom/train.py has",
        ),
        (lambda root: (root / "app/custom/train.py").unlink(), "app/custom/train.py is missing"),
        (
            lambda root: (root / "app/custom/extra.py").write_text("x=1\n"),
            "app/custom/extra.py is not listed",
        ),
    ],
    ids=["changed", "missing", "extra"],
)
def test_verify_names_each_mismatch(tmp_path: Path, tamper, expected: str) -> None:
    out = make_writer(tmp_path).write(tmp_path / "b", MANIFEST, as_zip=False, force=False)
    tamper(out)
    with pytest.raises(BundleError, match=expected):
        open_bundle(out).verify()


def test_existing_output_is_refused_and_untouched(tmp_path: Path) -> None:
    out = tmp_path / "b"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(BundleError, match="output exists"):
        make_writer(tmp_path).write(out, MANIFEST, as_zip=False, force=False)
    assert (out / "keep.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".b")] == []


def test_force_replaces_output(tmp_path: Path) -> None:
    out = tmp_path / "b"
    out.mkdir()
    (out / "old.txt").write_text("old")
    make_writer(tmp_path).write(out, MANIFEST, as_zip=False, force=True)
    assert not (out / "old.txt").exists()
    open_bundle(out).verify()


def test_pack_and_unpack_round_trip(tmp_path: Path) -> None:
    out = make_writer(tmp_path).write(tmp_path / "b", MANIFEST, as_zip=False, force=False)
    data = pack_bundle(out)
    assert data == pack_bundle(out)
    bundle = unpack_bundle(data, tmp_path / "unpacked")
    assert bundle.config("app", "config_fed_client") == {"format_version": 2}


def _zip_with(name: str, *, symlink: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "x")
        zf.writestr(MANIFEST_NAME, "{}")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_zip_with("../escape.txt"), "unsafe path"),
        (_zip_with("/etc/passwd"), "unsafe path"),
        (_zip_with("app/link", symlink=True), "symlink"),
    ],
    ids=["dotdot", "absolute", "symlink"],
)
def test_unpack_refuses_unsafe_archives(tmp_path: Path, data: bytes, expected: str) -> None:
    with pytest.raises(BundleError, match=expected):
        unpack_bundle(data, tmp_path / "dest")
    assert not (tmp_path / "escape.txt").exists()


def test_unsafe_names_are_refused_when_writing() -> None:
    with pytest.raises(BundleError, match="unsafe path"):
        BundleWriter().add_bytes("../x", b"")
