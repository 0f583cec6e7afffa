"""Shared scaffolds: ``_scaffolds/<name>/`` in a library, named by a template's info.conf."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fljob.compiler.lint import lint_paths
from fljob.compiler.templates.create import create_job
from fljob.compiler.templates.layout import template_hash
from fljob.compiler.templates.library import TemplateLibrary
from fljob.compiler.templates.lint import lint_template
from fljob.errors import ExitCode, TemplateError
from fljob.templates import BUILTIN_DIR
from tests.templates.conftest import FLJOB_TEMPLATE, prefixed

PT_TEMPLATES = [
    "cyclic_cc_pt",
    "cyclic_pt",
    "sag_cse_pt",
    "sag_pt",
    "sag_pt_deploy_map",
    "swarm_cse_pt",
]
SCAFFOLDS = {
    "lib/_scaffolds/base/train.py": "print('base train')\n",
    "lib/_scaffolds/base/util.py": "UTIL = 1\n",
    "lib/_scaffolds/base/pkg/__init__.py": "",
    "lib/_scaffolds/extra/util.py": "UTIL = 2\n",
    "lib/_scaffolds/extra/settings.py.j2": "ROUNDS = {{ num_rounds }}\nJOB = '{{ job_name }}'\n",
}


def info_with_scaffold(value: str) -> str:
    """The test template's info.conf with ``scaffold = <value>`` (HOCON text)."""
    return FLJOB_TEMPLATE["info.conf"].replace(
        'version = "2.1"', f'version = "2.1"\n          scaffold = {value}'
    )


def make_library(tree, scaffold: str, extra: dict[str, str] | None = None) -> Path:
    """A library with template ``t`` (its own custom/train.py removed) and SCAFFOLDS."""
    files = {k: v for k, v in FLJOB_TEMPLATE.items() if k != "custom/train.py"}
    files["info.conf"] = info_with_scaffold(scaffold)
    return tree({**prefixed("lib/t", files), **SCAFFOLDS, **(extra or {})}) / "lib"


def find(library: Path, name: str = "t"):
    return TemplateLibrary.discover([library], environ={}).find(name)


def custom_files(job: Path, app: str = "app") -> dict[str, str]:
    custom = job / app / "custom"
    return {
        p.relative_to(custom).as_posix(): p.read_text()
        for p in sorted(custom.rglob("*"))
        if p.is_file()
    }


CREATE_CASES = [
    (
        "one-scaffold",
        '"base"',
        {},
        {"train.py": "print('base train')\n", "util.py": "UTIL = 1\n", "pkg/__init__.py": ""},
    ),
    (
        "later-scaffold-wins-and-j2-renders",
        '["base", "extra"]',
        {},
        {
            "train.py": "print('base train')\n",
            "util.py": "UTIL = 2\n",
            "pkg/__init__.py": "",
            "settings.py": "ROUNDS = 5\nJOB = 'job'\n",
        },
    ),
    (
        "template-custom-overrides-scaffold",
        '["base", "extra"]',
        {"lib/t/custom/util.py": "UTIL = 'own'\n", "lib/t/custom/own.py": "OWN = 1\n"},
        {
            "train.py": "print('base train')\n",
            "util.py": "UTIL = 'own'\n",
            "own.py": "OWN = 1\n",
            "pkg/__init__.py": "",
            "settings.py": "ROUNDS = 5\nJOB = 'job'\n",
        },
    ),
    (
        "plain-file-overrides-j2-scaffold",
        '"extra"',
        {"lib/t/custom/settings.py": "ROUNDS = 'fixed'\n"},
        {"util.py": "UTIL = 2\n", "settings.py": "ROUNDS = 'fixed'\n"},
    ),
    (
        "nested-scaffold-name",
        '"group/cnn"',
        {"lib/_scaffolds/group/cnn/net.py": "NET = 1\n"},
        {"net.py": "NET = 1\n"},
    ),
]


@pytest.mark.parametrize(
    ("scaffold", "extra", "expected"),
    [c[1:] for c in CREATE_CASES],
    ids=[c[0] for c in CREATE_CASES],
)
def test_create_copies_scaffolds_into_custom(tree, tmp_path, scaffold, extra, expected) -> None:
    library = make_library(tree, scaffold, extra)
    result = create_job(
        find(library),
        tmp_path / "job",
        override_args=["-f", "config_fed_server.conf", "num_rounds=5"],
    )
    assert custom_files(result.job_dir) == expected
    assert {f"app/custom/{rel}" for rel in expected} <= set(result.files)


def test_scaffold_reaches_every_app_and_app_custom_wins(tree, tmp_path: Path) -> None:
    files = {
        "info.conf": info_with_scaffold('"base"'),
        "info.md": "# apps\n",
        "meta.conf": '{ name = "apps", deploy_map { srv = ["server"], cli = ["@ALL"] } }\n',
        "srv/config_fed_server.conf": FLJOB_TEMPLATE["config_fed_server.conf"],
        "cli/config_fed_client.conf": FLJOB_TEMPLATE["config_fed_client.conf"],
        "cli/custom/train.py": "print('site train')\n",
        "custom/util.py": "UTIL = 'template'\n",
    }
    files["info.conf"] = files["info.conf"].replace(
        "config_fed_server.conf:", "srv/config_fed_server.conf:"
    )
    library = tree({**prefixed("lib/t", files), **SCAFFOLDS}) / "lib"
    job = create_job(find(library), tmp_path / "job").job_dir
    shared = {"util.py": "UTIL = 'template'\n", "pkg/__init__.py": ""}
    assert custom_files(job, "srv") == {**shared, "train.py": "print('base train')\n"}
    assert custom_files(job, "cli") == {**shared, "train.py": "print('site train')\n"}


def _escape_link(tree, library: Path) -> None:
    outside = tree({"outside/cnn/train.py": "print('stolen')\n"}) / "outside" / "cnn"
    os.symlink(outside, library / "_scaffolds" / "linked")


def _escape_file_link(tree, library: Path) -> None:
    secret = tree({"outside/secret.txt": "secret\n"}) / "outside" / "secret.txt"
    os.symlink(secret, library / "_scaffolds" / "base" / "secret.txt")


ERROR_CASES = [
    (
        "unknown-with-suggestion",
        '"bsae"',
        None,
        "FLJ606",
        "unknown scaffold 'bsae'",
        "did you mean 'base'?",
    ),
    (
        "unknown-in-list",
        '["base", "nope"]',
        None,
        "FLJ606",
        "unknown scaffold 'nope'",
        "scaffolds here: base, extra",
    ),
    ("a-file-is-not-a-scaffold", '"base/util.py"', None, "FLJ606", "unknown scaffold", ""),
    ("the-scaffold-folder-itself", '"."', None, "FLJ606", "unknown scaffold '.'", ""),
    ("parent-path", '"../t/custom"', None, "FLJ607", "leads outside the template library", ""),
    ("climbs-out", '"base/../../../etc"', None, "FLJ607", "leads outside", ""),
    ("absolute-path", '"/etc"', None, "FLJ607", "leads outside", ""),
    ("link-out-of-library", '"linked"', _escape_link, "FLJ607", "leads outside", ""),
    ("file-link-out-of-library", '"base"', _escape_file_link, "FLJ607", "links outside", ""),
    ("wrong-type", "3", None, "FLJ602", "must be a scaffold name or a list", ""),
    ("empty-name", '[""]', None, "FLJ602", "must be a scaffold name", ""),
    ("named-twice", '["base", "base"]', None, "FLJ602", "scaffold 'base' named twice", ""),
]


@pytest.mark.parametrize(
    ("scaffold", "prepare", "code", "message", "hint"),
    [c[1:] for c in ERROR_CASES],
    ids=[c[0] for c in ERROR_CASES],
)
def test_bad_scaffold_references(tree, tmp_path, scaffold, prepare, code, message, hint) -> None:
    library = make_library(tree, scaffold)
    if prepare is not None:
        prepare(tree, library)
    with pytest.raises(TemplateError) as caught:
        create_job(find(library), tmp_path / "job")
    (diagnostic,) = [d for d in caught.value.diagnostics() if d.code == code]
    assert message in diagnostic.message and hint in (diagnostic.hint or "")
    assert not (tmp_path / "job").exists()
    # template lint reports the same finding, located in info.conf (or at the file).
    found = [d for d in lint_template(library / "t") if d.code == code]
    assert found and message in found[0].message
    if code != "FLJ607" or prepare is None:
        assert found[0].file == str(library / "t" / "info.conf") and found[0].line is not None


def test_unknown_scaffold_on_the_command_line(cli, tree, tmp_path: Path) -> None:
    library = make_library(tree, '"bsae"')
    result = cli("create", "-j", tmp_path / "job", "-w", "t", "-d", library)
    assert result.exit_code == ExitCode.FINDINGS, result
    assert "FLJ606" in result.stderr and "did you mean 'base'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_hash_covers_scaffold_files(tree) -> None:
    library = make_library(tree, '["base", "extra"]')
    first = template_hash(find(library))
    assert template_hash(find(library)) == first
    (library / "_scaffolds/extra/util.py").write_text("UTIL = 3\n")
    changed = template_hash(find(library))
    assert changed != first
    (library / "_scaffolds/base/new.py").write_text("")
    assert template_hash(find(library)) not in (first, changed)
    order = (library / "t/info.conf").read_text().replace('["base", "extra"]', '["extra", "base"]')
    before = template_hash(find(library))
    (library / "t/info.conf").write_text(order)
    assert template_hash(find(library)) != before


def test_hash_ignores_scaffolds_a_template_does_not_name(tree) -> None:
    library = make_library(tree, '"base"')
    before = template_hash(find(library))
    (library / "_scaffolds/extra/util.py").write_text("UTIL = 99\n")
    (library / "_scaffolds/unused").mkdir()
    (library / "_scaffolds/unused/x.py").write_text("X = 1\n")
    assert template_hash(find(library)) == before
    (library / "_scaffolds/base/util.py").write_text("UTIL = 99\n")
    assert template_hash(find(library)) != before


def test_underscore_folders_are_never_templates(tree) -> None:
    library = make_library(tree, '"base"')
    # Even a folder that looks like a template is not one when its name starts with '_'.
    tree(prefixed("lib/_draft", FLJOB_TEMPLATE))
    names = list(TemplateLibrary.discover([library], environ={}).entries())
    assert "t" in names and not [n for n in names if n.startswith("_")]
    with pytest.raises(TemplateError, match="unknown template '_scaffolds'"):
        find(library, "_scaffolds")


def test_library_with_scaffolds_lints_clean(tree) -> None:
    library = make_library(tree, '["base", "extra"]')
    assert lint_template(library) == []
    report = lint_paths([library], strict=True)
    assert [r.target.path.name for r in report.results] == ["t"]
    assert report.exit_code == 0, [d.format() for d in report.diagnostics]


def test_bad_j2_in_scaffold_is_reported_at_the_scaffold_file(tree, tmp_path: Path) -> None:
    library = make_library(tree, '"extra"', {"lib/_scaffolds/extra/bad.py.j2": "X = {{ nope }}\n"})
    with pytest.raises(TemplateError) as caught:
        create_job(find(library), tmp_path / "job")
    (diagnostic,) = caught.value.diagnostics()
    assert diagnostic.file == str((library / "_scaffolds/extra/bad.py.j2").resolve())
    assert "'nope' is undefined" in diagnostic.message


@pytest.mark.parametrize("name", PT_TEMPLATES)
def test_builtin_pytorch_templates_share_the_pt_cnn_scaffold(tmp_path: Path, name: str) -> None:
    template = TemplateLibrary.discover(environ={}).find(name)
    assert [s.name for s in template.scaffolds] == ["pt_cnn"]
    assert not (template.root / "custom").exists()  # nothing left to drift apart
    job = create_job(template, tmp_path / "job").job_dir
    scaffold = BUILTIN_DIR / "_scaffolds" / "pt_cnn"
    expected = {p.name: p.read_text() for p in scaffold.glob("*.py")}
    assert sorted(expected) == ["data.py", "net.py", "train.py"]
    apps = [p.name for p in job.iterdir() if (p / "custom").is_dir()]
    assert apps
    for app in apps:
        assert custom_files(job, app) == expected
