"""The safe-component policy on plain config dicts (as a site sees a bundle)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from fljob.errors import UnsafeJobError, UsageError
from fljob.safety import (
    SafetyFinding,
    check_configs,
    default_policy,
    enforce,
    load_policy,
    policy_from_dict,
)

KEY = "app/config/config_fed_client"


def launcher(script: str, path: str = "fljob.runtime.launchers.SubprocessLauncher") -> dict:
    return {"components": [{"id": "launcher", "path": path, "args": {"script": script}}]}


@pytest.mark.parametrize(
    ("script", "codes"),
    [
        ("python3 -u custom/train.py --lr 0.1", []),
        ("python3 custom/train.py {$EXTRA_ARGS:-}", []),  # deploy-time env reference
        ("python3 -m my_pkg.train --data /data/cifar", []),  # a module; data paths are fine
        ("python3 custom/train.py; rm -rf ~", ["FLJ503"]),
        ("python3 custom/train.py | tee out", ["FLJ503"]),
        ("python3 custom/train.py > out.txt", ["FLJ503"]),
        ("python3 `cat x`", ["FLJ503"]),
        ("python3 $HOME/train.py", ["FLJ503"]),
        ("python3 /opt/train.py", ["FLJ504"]),
        ("/usr/local/bin/train", ["FLJ504"]),
        ("python3 custom/../../../x.py", ["FLJ505"]),
        ("python3 ../x.py", ["FLJ505"]),
        ("python3 custom/../train.py", []),  # still inside the app folder
        ("python3 /tmp/x.py && curl evil", ["FLJ503", "FLJ504"]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_launcher_commands(script: str, codes: list[str]) -> None:
    found = check_configs({KEY: launcher(script)}, policy=default_policy())
    assert sorted(f.code for f in found) == codes
    assert all(f.config == KEY and f.key_path == ("components", 0, "args", "script") for f in found)


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("os.system", "FLJ501"),
        ("subprocess.Popen", "FLJ501"),
        ("builtins.eval", "FLJ501"),
        ("fljob.runtime.workflows.FedAvg", None),
        ("nvflare.app_common.workflows.scatter_and_gather.ScatterAndGather", None),
    ],
)
def test_default_deny_list(path: str, code: str | None) -> None:
    found = check_configs({KEY: {"components": [{"id": "c", "path": path}]}})
    assert [f.code for f in found] == ([code] if code else [])


def test_nested_class_specs_are_checked() -> None:
    """FLARE builds {path, args} objects nested in args too: they are components."""
    config = {
        "components": [
            {
                "id": "p",
                "path": "fljob.runtime.persistors.TorchModelPersistor",
                "args": {"model": {"path": "os.system", "args": {"command": "x"}}},
            }
        ]
    }
    found = check_configs({KEY: config})
    assert [(f.code, f.key_path) for f in found] == [("FLJ501", ("components", 0, "args", "model"))]


def test_allow_list() -> None:
    policy = policy_from_dict({"allow": ["fljob.runtime.*"]})
    config = {
        "workflows": [
            {"id": "a", "path": "fljob.runtime.workflows.FedAvg"},
            {"id": "b", "path": "nvflare.app_common.workflows.cyclic_ctl.CyclicController"},
        ]
    }
    assert [f.code for f in check_configs({KEY: config}, policy=policy)] == ["FLJ502"]


def test_regex_argument_rule_with_message() -> None:
    policy = policy_from_dict(
        {
            "argument_rules": [
                {
                    "components": ["*"],
                    "args": ["script"],
                    "forbid": ["curl|wget"],
                    "message": "no downloads",
                }
            ]
        }
    )
    found = check_configs({KEY: launcher("curl http://x")}, policy=policy)
    assert [(f.code, f.message) for f in found] == [("FLJ506", "no downloads")]


def test_enforce_lists_every_finding_and_the_trust_grant() -> None:
    configs = {
        KEY: launcher("python3 /tmp/a.py; ls"),
        "app/config/config_fed_server": {"components": [{"id": "x", "path": "os.system"}]},
    }
    with pytest.raises(UnsafeJobError) as info:
        enforce(configs)
    codes = sorted(d.code for d in info.value.diagnostics())
    assert codes == ["FLJ501", "FLJ503", "FLJ504"]
    assert (
        "3 feature(s)" in info.value.message and "policy 'default' (built-in)" in info.value.message
    )
    assert "--policy FILE" in info.value.message
    assert all(d.hint for d in info.value.diagnostics())


def test_enforce_passes_a_safe_job(tmp_path: Path) -> None:
    enforce({KEY: launcher("python3 custom/train.py")}, job_root=tmp_path)


def test_symlink_escape_found_on_disk(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s")
    custom = tmp_path / "job" / "app" / "custom"
    custom.mkdir(parents=True)
    (custom / "link").symlink_to(tmp_path / "secret")
    found = check_configs({KEY: {}}, job_root=tmp_path / "job")
    assert [(f.code, Path(f.file).name) for f in found] == [("FLJ505", "link")]
    relaxed = policy_from_dict({"confine_custom_files": False})
    assert check_configs({KEY: {}}, job_root=tmp_path / "job", policy=relaxed) == []


CHECKER = """
from fljob.errors import Diagnostic, UnsafeJobError
from fljob.safety import SafetyFinding

def no_gpu(configs, *, job_root, policy):
    for key, config in configs.items():
        if config.get("use_gpu"):
            yield SafetyFinding("FLJ507", "this site has no GPU", key, ("use_gpu",))

def strict(configs, *, job_root, policy):
    raise UnsafeJobError([Diagnostic("FLJ507", "nothing is trusted here")])

def broken(configs, *, job_root, policy):
    raise RuntimeError("boom")
"""


@pytest.mark.parametrize(
    ("checker", "expected"),
    [
        ("site_checks:no_gpu", [("FLJ507", "this site has no GPU")]),
        ("site_checks.no_gpu", [("FLJ507", "this site has no GPU")]),
        ("site_checks:strict", [("FLJ507", "site_checks:strict: nothing is trusted here")]),
        (
            "site_checks:broken",
            [("FLJ508", "safety checker site_checks:broken crashed: RuntimeError: boom")],
        ),
        ("site_checks:missing", [("FLJ508", None)]),
        ("no_such_module:x", [("FLJ508", None)]),
    ],
    ids=["colon", "dotted", "raises-unsafe", "crashes", "missing-attr", "missing-module"],
)
def test_plugin_checkers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, checker: str, expected: list
) -> None:
    (tmp_path / "site_checks.py").write_text(CHECKER)
    monkeypatch.syspath_prepend(str(tmp_path))
    policy = policy_from_dict({"checkers": [checker], "entry_points": False})
    found = check_configs({KEY: {"use_gpu": True}}, policy=policy)
    assert [
        (f.code, f.message if e[1] else None) for f, e in zip(found, expected, strict=True)
    ] == expected


@pytest.mark.parametrize(
    ("text", "suffix", "error"),
    [
        ("allow: [1]", ".yml", "allow must be a list of strings"),
        ("nope: 1", ".yml", "unknown key(s) in safety policy: nope"),
        ("argument_rules: [{args: [script], forbid: ['(']}]", ".yml", "bad regex"),
        ("[1, 2]", ".yml", "must be an object"),
        ("{bad json", ".json", "not valid json"),
        ("confine_custom_files: 'yes'", ".yml", "must be true or false"),
    ],
)
def test_bad_policy_files(tmp_path: Path, text: str, suffix: str, error: str) -> None:
    path = tmp_path / f"policy{suffix}"
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        load_policy(path)
    assert error in info.value.message and info.value.path == str(path)


def test_policy_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    path.write_text(json.dumps({"name": "hospital-a", "deny": ["nvflare.*"]}))
    policy = load_policy(path)
    found = check_configs({KEY: {"workflows": [{"id": "w", "path": "nvflare.x.Y"}]}}, policy=policy)
    assert [f.code for f in found] == ["FLJ501"]
    assert "policy 'hospital-a'" in found[0].message


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read safety policy"):
        load_policy(tmp_path / "nope.yml")


def test_safety_imports_no_compiler_or_cli() -> None:
    import subprocess
    import sys

    code = textwrap.dedent("""
        import sys, fljob.safety
        bad = [m for m in sys.modules if m.startswith(("fljob.compiler", "fljob.cli", "click"))]
        print(bad)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_finding_is_plain_data() -> None:
    f = SafetyFinding("FLJ503", "m", KEY, ("a", 0))
    assert f.code == "FLJ503" and f.key_path == ("a", 0)
