"""The project installs as one import package, ``fljob``, from a wheel into a fresh venv."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def _source_copy(dest: Path) -> Path:
    """The files git would ship (tracked, or new and not ignored), without build leftovers:
    setuptools reuses a ``build/`` folder, which would smuggle deleted files into the wheel."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, listed):
        source = REPO_ROOT / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    source = _source_copy(tmp_path_factory.mktemp("src"))
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=source,
        check=True,
        capture_output=True,
        text=True,
    )
    (whl,) = out.glob("fljob-*.whl")
    return whl


def test_wheel_holds_only_the_fljob_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_levels = {n.split("/")[0] for n in names if not n.startswith("fljob-")}
    assert top_levels == {"fljob"}
    for module in (
        "fljob/compiler/__init__.py",
        "fljob/runtime/__init__.py",
        "fljob/cli/main.py",
        "fljob/schemas/meta.schema.json",
        "fljob/templates/sag_pt/info.conf",
        "fljob/templates/_scaffolds/pt_cnn/train.py",
    ):
        assert module in names


def test_wheel_runs_help_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    target = (
        venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    # Dependencies come from this interpreter's site-packages, added as a plain path so
    # that the editable install of the working tree stays out of the fresh venv.
    deps = sysconfig.get_paths()["purelib"]
    (target / "deps.pth").write_text(deps + "\n")
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "fljob", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "compile" in result.stdout
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import fljob.compiler; print(fljob.compiler.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert str(target) in where.stdout
    # Package data (templates, schemas, grammars) works from the installed wheel.
    python = str(venv / "bin" / "python")
    for args in (
        ["create", "-j", "job", "-w", "sag_pt"],
        ["lint", "job"],
        ["compile", "-j", "job", "-o", "bundle"],
    ):
        step = subprocess.run(
            [python, "-m", "fljob", *args], capture_output=True, text=True, cwd=tmp_path
        )
        assert step.returncode == 0, (args, step.stderr)
    assert (tmp_path / "bundle" / "app" / "custom" / "train.py").is_file()
