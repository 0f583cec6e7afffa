"""The template commands through the CLI: in-process (``cli``) and as real processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.templates.test_library import BUILTINS

ENV = {"FLJOB_TEMPLATES": "", "XDG_CONFIG_HOME": "/nonexistent"}


def test_list_templates_json_and_text(cli) -> None:
    result = cli("list_templates", "--format", "json", env=ENV)
    assert result.exit_code == 0, result
    items = json.loads(result.stdout)
    assert [i["name"] for i in items] == BUILTINS
    sag = next(i for i in items if i["name"] == "sag_pt")
    assert sag["source"] == "built-in" and sag["version"] == "1.0.0"
    assert sag["description"].endswith("CIFAR-10-shaped data")  # never truncated
    assert sag["scaffolds"] == ["pt_cnn"]
    assert next(i for i in items if i["name"] == "sag_np")["scaffolds"] == []
    text = cli("list-templates", env=ENV)
    assert text.exit_code == 0 and text.stdout.splitlines()[0].split() == [
        "name",
        "description",
        "controller",
        "execution",
        "api",
        "version",
        "source",
    ]
    assert all(len(line) <= 160 for line in text.stdout.splitlines())
    assert "CIFAR-10-shaped" in text.stdout  # wrapped, not cut


def test_list_templates_shows_sources_and_shadowing(cli, library: Path, tree) -> None:
    (library / "sag_pt").mkdir()
    for item in (library / "tiny").iterdir():
        if item.is_file():
            (library / "sag_pt" / item.name).write_text(item.read_text())
    result = cli("list_templates", "-d", library, "--format", "json", env=ENV)
    items = {i["name"]: i for i in json.loads(result.stdout)}
    assert items["sag_pt"]["source"] == f"-d {library}"
    assert items["sag_pt"]["shadows"] == ["built-in"]
    assert items["sag_flare"]["version"] is None
    text = cli("list_templates", "-d", library, env=ENV)
    assert f"sag_pt from -d {library} hides the one in built-in" in text.stderr


CREATE_ERRORS = [
    # (id, template, extra args, expected message parts)
    (
        "unknown-template",
        "sag_pyt",
        [],
        ["FLJ601", "unknown template 'sag_pyt'", "did you mean 'sag_pt'?"],
    ),
    (
        "unknown-key",
        "sag_pt",
        ["-f", "config_fed_server.conf", "num_round=3"],
        ["FLJ623", "unknown key 'num_round'", "did you mean 'num_rounds'?"],
    ),
    (
        "ambiguous-leaf",
        "sag_cse_pt",
        ["-f", "config_fed_server.conf", "persistor_id=p"],
        ["FLJ624", "workflows[0].args.persistor_id, workflows[1].args.persistor_id"],
    ),
    (
        "bad-type",
        "sag_pt",
        ["-f", "config_fed_server.conf", "num_rounds=many"],
        ["FLJ625", "num_rounds (int): expected an int, got 'many'"],
    ),
    (
        "out-of-bounds",
        "sag_pt",
        ["-f", "config_fed_server.conf", "num_rounds=0"],
        ["FLJ625", "0 is below the minimum 1"],
    ),
    (
        "bad-choice",
        "sag_pt",
        ["-f", "config_fed_client.conf", "params_transfer_type=HALF"],
        ["FLJ625", 'not one of the choices: "FULL", "DIFF"'],
    ),
    (
        "unknown-file",
        "sag_pt",
        ["-f", "config_fed_clinet.conf", "a=1"],
        ["FLJ622", "did you mean 'app/config/config_fed_client.conf'?"],
    ),
    (
        "no-equals",
        "sag_pt",
        ["-f", "config_fed_server.conf", "num_rounds"],
        ["FLJ621", "expected KEY=VALUE"],
    ),
    ("stray-argument", "sag_pt", ["num_rounds=3"], ["FLJ621", "unexpected argument"]),
    (
        "missing-script-dir",
        "sag_pt",
        ["-sd", "/nonexistent/src"],
        ["FLJ632", "script folder /nonexistent/src does not exist"],
    ),
]


@pytest.mark.parametrize(
    ("template", "args", "parts"), [c[1:] for c in CREATE_ERRORS], ids=[c[0] for c in CREATE_ERRORS]
)
def test_create_errors_exit_2_with_clear_messages(
    cli, tmp_path: Path, template, args, parts
) -> None:
    result = cli("create", "-j", tmp_path / "job", "-w", template, *args, env=ENV)
    assert result.exit_code == 2, result
    for part in parts:
        assert part in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "job").exists()


def test_create_existing_folder_and_force(cli, tmp_path: Path) -> None:
    job = tmp_path / "job"
    assert cli("create", "-j", job, "-w", "sag_np", env=ENV).exit_code == 0
    (job / "README.md").write_text("mine")
    again = cli("create", "-j", job, "-w", "sag_np", env=ENV)
    assert again.exit_code == 2 and "FLJ631" in again.stderr and "--force" in again.stderr
    forced = cli(
        "create",
        "-j",
        job,
        "-w",
        "sag_np",
        "--force",
        "-f",
        "config_fed_server.conf",
        "num_rounds=4",
        env=ENV,
    )
    assert forced.exit_code == 0, forced
    assert (job / "README.md").read_text() == "mine"
    assert "num_rounds = 4" in (job / "app/config/config_fed_server.conf").read_text()


def test_create_then_show_variables(cli, tmp_path: Path) -> None:
    job = tmp_path / "job"
    created = cli(
        "create",
        "-j",
        job,
        "-w",
        "sag_pt",
        "-f",
        "config_fed_server.conf",
        "num_rounds=7",
        "-f",
        "config_fed_client.conf",
        "app_config=--epochs 2",
        env=ENV,
    )
    assert created.exit_code == 0, created
    assert "app/config/config_fed_server.conf: num_rounds = 7" in created.stdout
    shown = cli("show-variables", "-j", job, "--format", "json", env=ENV)
    assert shown.exit_code == 0, shown
    rows = {(r["file"], r["key"]): r for r in json.loads(shown.stdout)}
    rounds = rows[("app/config/config_fed_server.conf", "num_rounds")]
    assert (rounds["value"], rounds["type"], rounds["variable"]) == (7, "int", "num_rounds")
    assert rounds["description"] == "Number of FedAvg rounds."
    script = rows[("app/config/config_fed_client.conf", "components[0].args.script")]
    assert script["value"] == "python3 -u custom/{app_script} {app_config}"
    assert script["component"] == "fljob.runtime.launchers.SubprocessLauncher"
    via_ref = rows[("app/config/config_fed_server.conf", "workflows[0].args.num_rounds")]
    assert (via_ref["value"], via_ref["type"]) == ("{num_rounds}", "int")
    assert rows[("meta.conf", "name")]["value"] == "job"
    text = cli("show_variables", "-j", job, env=ENV)
    assert text.exit_code == 0 and "Number of FedAvg rounds." in text.stdout


def test_show_variables_missing_folder(cli, tmp_path: Path) -> None:
    result = cli("show_variables", "-j", tmp_path / "nope", env=ENV)
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_template_lint_command(cli, library: Path) -> None:
    clean = cli("template", "lint", library / "tiny", env=ENV)
    assert clean.exit_code == 0, clean
    (library / "tiny" / "info.md").unlink()
    warned = cli("template", "lint", library / "tiny", "--format", "json", env=ENV)
    assert warned.exit_code == 0 and json.loads(warned.stdout)[0]["code"] == "FLJ613"
    strict = cli("template", "lint", library / "tiny", "--strict", env=ENV)
    assert strict.exit_code == 1 and "FLJ613 error" in strict.stdout


def test_flare_template_round_trip(cli, library: Path, tmp_path: Path) -> None:
    """A FLARE 2.4 template folder: create (meta.json kept), show_variables, compile."""
    job = tmp_path / "flare_job"
    created = cli(
        "create",
        "-j",
        job,
        "-w",
        "sag_flare",
        "-d",
        library,
        "-f",
        "config_fed_server.conf",
        "num_rounds=4",
        "-f",
        "config_fed_client.conf",
        "app_script=train.py",
        "app_config=--lr 0.1",
        env=ENV,
    )
    assert created.exit_code == 0, created
    assert json.loads((job / "meta.json").read_text())["name"] == "flare_job"
    server = (job / "app/config/config_fed_server.conf").read_text()
    assert "  # the number of rounds\n  num_rounds = 4\n" in server
    shown = json.loads(cli("show_variables", "-j", job, "--format", "json", env=ENV).stdout)
    keys = {(r["file"], r["key"]): r for r in shown}
    assert keys[("app/config/config_fed_client.conf", "app_config")]["value"] == "--lr 0.1"
    assert (
        keys[("app/config/config_fed_client.conf", "components[0].args.script")]["component"]
        == "fljob.runtime.launchers.SubprocessLauncher"
    )
    compiled = cli("compile", "-j", job, "-o", tmp_path / "bundle", env=ENV)
    if compiled.exit_code == 2 and "No such command" in compiled.stderr:
        pytest.skip("fljob compile is not there yet")
    assert compiled.exit_code == 0, compiled
    bundle = tmp_path / "bundle"
    server_json = json.loads((bundle / "app/config/config_fed_server.json").read_text())
    assert server_json["workflows"][0]["args"]["num_rounds"] == 4
    client_json = json.loads((bundle / "app/config/config_fed_client.json").read_text())
    assert client_json["components"][0]["args"]["script"] == "python3 custom/train.py --lr 0.1"
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    assert manifest["template"]["name"] == "sag_flare"
    assert manifest["template"]["hash"].startswith("sha256:")


@pytest.mark.parametrize(
    ("args", "code", "parts"),
    [
        (["create", "-j", "{tmp}/job", "-w", "sag_pyt"], 2, ["did you mean 'sag_pt'?"]),
        (
            [
                "create",
                "-j",
                "{tmp}/job",
                "-w",
                "sag_pt",
                "-f",
                "config_fed_server.conf",
                "min_client=1",
            ],
            2,
            ["did you mean 'min_clients'?"],
        ),
        (["show_variables", "-j", "{tmp}/none"], 2, ["does not exist"]),
        (["create", "-j", "{tmp}/job", "-w", "sag_np"], 0, []),
    ],
    ids=["unknown-template", "unknown-key", "missing-job", "ok"],
)
def test_real_process_exit_codes(cli_process, tmp_path: Path, args, code, parts) -> None:
    result = cli_process(*[a.format(tmp=tmp_path) for a in args], env=ENV)
    assert result.exit_code == code, result
    for part in parts:
        assert part in result.stderr
    assert "Traceback" not in result.stderr


HEAVY = ("jinja2", "pyhocon", "jsonschema", "lark", "torch", "grpc", "numpy")
PROBE = """
import sys
from fljob.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    assert exc.code == 0, exc.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
print("HEAVY:" + ",".join(heavy))
"""


@pytest.mark.parametrize("command", ["list_templates", "create", "show_variables"])
def test_commands_import_no_heavy_dependency(tmp_path: Path, command: str) -> None:
    import subprocess
    import sys

    job = tmp_path / "job"
    args = {
        "list_templates": ["list_templates"],
        "create": [
            "create",
            "-j",
            str(job),
            "-w",
            "sag_pt",
            "-f",
            "config_fed_server.conf",
            "num_rounds=3",
        ],
        "show_variables": ["show_variables", "-j", str(tmp_path / "shown")],
    }[command]
    if command == "show_variables":
        subprocess.run(
            [
                sys.executable,
                "-m",
                "fljob",
                "create",
                "-j",
                str(tmp_path / "shown"),
                "-w",
                "sag_np",
            ],
            check=True,
            capture_output=True,
        )
    code = f"HEAVY = {HEAVY!r}\n" + PROBE
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY:", result.stdout


def test_list_templates_reports_a_broken_template_and_lists_the_rest(cli, library: Path) -> None:
    (library / "tiny" / "info.conf").write_text("{ description = [1] }\n")
    result = cli("list_templates", "-d", library, "--format", "json", env=ENV)
    assert result.exit_code == 1
    assert "FLJ602" in result.stderr and "'description' must be a string" in result.stderr
    names = [i["name"] for i in json.loads(result.stdout)]
    assert "sag_flare" in names and "tiny" not in names


def test_show_variables_on_a_plain_job_folder(cli, tree) -> None:
    job = (
        tree(
            {
                "job/meta.yml": "name: job\ndeploy_map:\n  app: ['@ALL']\n",
                "job/app/config/config_fed_client.json": (
                    '{"format_version": 2, "lr": 0.1, "executors": [{"tasks": ["train"], '
                    '"executor": {"path": "fljob.runtime.executors.ScriptExecutor", '
                    '"args": {"launcher_id": "l"}}}]}'
                ),
            }
        )
        / "job"
    )
    rows = json.loads(cli("show_variables", "-j", job, "--format", "json", env=ENV).stdout)
    assert [(r["file"], r["key"], r["value"], r["type"], r["component"]) for r in rows] == [
        ("meta.yml", "name", "job", "str", None),
        ("meta.yml", "deploy_map.app", ["@ALL"], "list", None),
        ("app/config/config_fed_client.json", "lr", 0.1, "float", None),
        ("app/config/config_fed_client.json", "executors[0].tasks", ["train"], "list", None),
        (
            "app/config/config_fed_client.json",
            "executors[0].executor.args.launcher_id",
            "l",
            "str",
            "fljob.runtime.executors.ScriptExecutor",
        ),
    ]
    assert all(r["variable"] is None and r["description"] is None for r in rows)
