# ruff: noqa: E501  (config texts: the catalogue asserts exact columns on long lines)
"""The catalogue of bad jobs: each case names the codes and exact locations lint reports.

Every case is a variant of the valid job in ``jobs.py``; the expected findings are the
complete set (code, file, line, column), so a missing or an extra finding fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fljob.compiler.lint import lint_job
from tests.lint.jobs import CLIENT, CLIENT_FILE, SERVER, SERVER_FILE, job_files, write

M, S, C = "meta.conf", SERVER_FILE, CLIENT_FILE

CASES = [
    # --- meta and deploy map (FLJ3xx) ---------------------------------------------------
    (
        "meta-unknown-key",
        {"meta": 'name = "j"\nmin_clinets = 1\ndeploy_map { app = ["@ALL"] }\n'},
        [("FLJ301", M, 2, 1)],
    ),
    (
        "meta-wrong-type",
        {"meta": 'name = "j"\nmin_clients = "two"\ndeploy_map { app = ["@ALL"] }\n'},
        [("FLJ302", M, 2, 15)],
    ),
    ("empty-deploy-map", {"meta": 'name = "j"\ndeploy_map {}\n'}, [("FLJ310", M, 2, 12)]),
    ("no-deploy-map", {"meta": 'name = "j"\n'}, [("FLJ310", M, 1, 1)]),
    (
        "all-not-alone",
        {"meta": 'name = "j"\ndeploy_map { app = ["@ALL", "site-1"] }\n'},
        [("FLJ311", M, 2, 20)],
    ),
    (
        "no-server",
        {"meta": 'name = "j"\ndeploy_map { app = ["site-1"] }\n'},
        [("FLJ312", M, 2, 12)],
    ),
    (
        "site-in-two-apps",
        {
            "meta": 'name = "j"\ndeploy_map {\n  app = ["server", "site-1"]\n  app2 = ["site-1"]\n}\n',
            "app2__config__config_fed_client.conf": CLIENT,
        },
        [("FLJ313", M, 4, 11)],
    ),
    (
        "unknown-app",
        {"meta": 'name = "j"\ndeploy_map { apps = ["@ALL"] }\n'},
        [("FLJ314", M, 2, 14), ("FLJ321", M, 2, 12)],
    ),
    ("missing-server-config", {"server": None}, [("FLJ315", M, 3, 14)]),
    ("missing-client-config", {"client": None}, [("FLJ316", M, 3, 14)]),
    (
        "min-clients-zero",
        {"meta": 'name = "j"\nmin_clients = 0\ndeploy_map { app = ["@ALL"] }\n'},
        [("FLJ317", M, 2, 15)],
    ),
    (
        "min-clients-too-large",
        {"meta": 'name = "j"\nmin_clients = 2\ndeploy_map { app = ["server", "site-1"] }\n'},
        [("FLJ318", M, 2, 15)],
    ),
    (
        "mandatory-not-deployed",
        {
            "meta": 'name = "j"\nmandatory_clients = ["site-2"]\n'
            'deploy_map { app = ["server", "site-1"] }\n'
        },
        [("FLJ319", M, 2, 22)],
    ),
    (
        "bad-resource-spec",
        {"meta": 'name = "j"\nresource_spec { site-1 = 2 }\ndeploy_map { app = ["@ALL"] }\n'},
        [("FLJ320", M, 2, 26)],
    ),
    (
        "meta-all-at-once",
        {
            "meta": 'name = "j"\nmin_clinets = 2\nmin_clients = 0\n'
            'deploy_map { app = ["@ALL", "x"], nope = ["s"] }\n'
        },
        [
            ("FLJ301", M, 2, 1),
            ("FLJ317", M, 3, 15),
            ("FLJ311", M, 4, 20),
            ("FLJ311", M, 4, 14),
            ("FLJ314", M, 4, 35),
        ],
    ),
    (
        "meta-json-unknown-key",
        {
            "meta": None,
            "meta.json": '{\n  "name": "j",\n  "min_clinets": 1,\n'
            '  "deploy_map": {"app": ["@ALL"]}\n}\n',
        },
        [("FLJ301", "meta.json", 3, 3)],
    ),
    (
        "meta-yaml-empty-map",
        {"meta": None, "meta.yml": "name: j\ndeploy_map: {}\n"},
        [("FLJ310", "meta.yml", 2, 13)],
    ),
    # --- schemas of configs -------------------------------------------------------------
    (
        "component-without-path",
        {"server": SERVER.replace('path = "fljob.runtime.workflows.FedAvg", ', "")},
        [("FLJ303", S, 3, 3)],
    ),
    (
        "format-version",
        {"server": SERVER.replace("format_version = 2", "format_version = 1")},
        [("FLJ304", S, 1, 18)],
    ),
    (
        "arg-instead-of-args",
        {"server": SERVER.replace("args { num_rounds", "arg { num_rounds")},
        [("FLJ301", S, 3, 61)],
    ),
    (
        "misspelled-section",
        {"client": CLIENT.replace("components = [", "component = [")},
        [("FLJ305", C, 5, 1), ("FLJ211", C, 5, 1), ("FLJ406", C, 3, 105)],
    ),
    # --- components (FLJ4xx) ------------------------------------------------------------
    ("unknown-component", {"server": SERVER.replace("FedAvg", "FedAvgg")}, [("FLJ401", S, 3, 27)]),
    (
        "unknown-argument",
        {"server": SERVER.replace("num_rounds = 2", "num_round = 2")},
        [("FLJ402", S, 3, 68)],
    ),
    (
        "wrong-argument-type",
        {"server": SERVER.replace("num_rounds = 2", 'num_rounds = "two"')},
        [("FLJ403", S, 3, 81)],
    ),
    (
        "missing-argument",
        {"client": CLIENT.replace('args { script = "python3 -u custom/train.py" }', "args {}")},
        [("FLJ404", C, 6, 80)],
    ),
    (
        "duplicate-id",
        {"server": SERVER.replace('id = "fedavg"', 'id = "persistor"')},
        [("FLJ405", S, 6, 10), ("FLJ409", S, 3, 3)],
    ),
    (
        "dangling-reference",
        {"client": CLIENT.replace('launcher_id = "launcher"', 'launcher_id = "launcher2"')},
        [("FLJ406", C, 3, 105)],
    ),
    (
        "invalid-argument-value",
        {
            "client": CLIENT.replace(
                'launcher_id = "launcher"',
                'launcher_id = "launcher", params_transfer_type = "PARTIAL"',
            )
        },
        [("FLJ407", C, 3, 140)],
    ),
    (
        "component-in-wrong-place",
        {
            "client": CLIENT.replace(
                "fljob.runtime.executors.ScriptExecutor", "fljob.runtime.workflows.FedAvg"
            ).replace('args { launcher_id = "launcher" }', "args {}")
        },
        [("FLJ408", C, 3, 33), ("FLJ406", C, 3, 33)],
    ),
    (
        "reference-to-wrong-kind",
        {
            "server": SERVER.replace(
                "args { num_rounds = 2 }", 'args { persistor_id = "fedavg2" }'
            ).replace(
                "components = [",
                'components = [\n  { id = "fedavg2", path = "fljob.runtime.workflows.Cyclic" }',
            )
        },
        [("FLJ409", S, 3, 83), ("FLJ408", S, 6, 3)],
    ),
    (
        "flare-dangling-pipe",
        {
            "client": """\
format_version = 2
executors = [
  {
    tasks = ["train"]
    executor {
      path = "nvflare.app_opt.pt.client_api_launcher_executor.PTClientAPILauncherExecutor"
      args { launcher_id = "launcher", pipe_id = "pipe2" }
    }
  }
]
components = [
  { id = "launcher", path = "nvflare.app_common.launchers.subprocess_launcher.SubprocessLauncher", args { script = "python3 custom/train.py" } }
  { id = "pipe", path = "nvflare.fuel.utils.pipe.cell_pipe.CellPipe", args { mode = "PASSIVE", site_name = "{SITE_NAME}", token = "{JOB_ID}", secure_mode = "{SECURE_MODE}" } }
]
"""
        },
        [("FLJ406", C, 7, 50)],
    ),
    # --- safety (FLJ5xx) ----------------------------------------------------------------
    (
        "denied-component",
        {
            "server": SERVER.replace(
                "components = [", 'components = [\n  { id = "x", path = "os.system" }'
            )
        },
        [("FLJ501", S, 6, 3), ("FLJ401", S, 6, 22)],
    ),
    (
        "shell-metacharacters",
        {"client": CLIENT.replace("custom/train.py", "custom/train.py | tee log")},
        [("FLJ503", C, 6, 91)],
    ),
    (
        "absolute-script-path",
        {"client": CLIENT.replace("custom/train.py", "/opt/train.py")},
        [("FLJ504", C, 6, 91)],
    ),
    (
        "path-escapes-with-dotdot",
        {"client": CLIENT.replace("custom/train.py", "custom/../../../outside.py")},
        [("FLJ505", C, 6, 91)],
    ),
    # --- passed through from the loader and resolver ----------------------------------------
    ("syntax-error", {"server": "format_version = 2\nworkflows = [\n"}, [("FLJ101", S, 3, 1)]),
    (
        "undefined-variable",
        {"server": SERVER.replace("num_rounds = 2", 'num_rounds = "{rounds}"')},
        [("FLJ201", S, 3, 81)],
    ),
    (
        "shadowed-config",
        {"app__config__config_fed_server.json": '{"workflows": []}'},
        [("FLJ103", S, None, None)],
    ),
    # --- suppression ----------------------------------------------------------------------
    (
        "suppressed-in-yaml",
        {
            "meta": None,
            "meta.yml": "name: j\nmin_clinets: 1  # fljob: ignore[FLJ301]\nmin_client: 2\n"
            "deploy_map: {app: ['@ALL']}\n",
        },
        [("FLJ301", "meta.yml", 3, 1)],
    ),
    (
        "suppression-names-other-code",
        {
            "meta": 'name = "j"\nmin_clinets = 1  # fljob: ignore[FLJ302]\ndeploy_map { app = ["@ALL"] }\n'
        },
        [("FLJ301", M, 2, 1)],
    ),
    (
        "suppressed-on-line",
        {
            "server": SERVER.replace("FedAvg", "FedAvgg").replace(
                "args { num_rounds = 2 } }", "args { num_rounds = 2 } }  # fljob: ignore[FLJ401]"
            )
        },
        [],
    ),
]


def _relative(diagnostic_file: str | None, root: Path) -> str | None:
    if diagnostic_file is None:
        return None
    return Path(os.path.relpath(diagnostic_file, root)).as_posix()


@pytest.mark.parametrize(("files", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_catalogue(tmp_path: Path, files: dict, expected: list) -> None:
    root = write(tmp_path / "job", job_files(**files))
    found = lint_job(root)
    got = sorted((d.code, _relative(d.file, root), d.line, d.col) for d in found)
    assert got == sorted(expected, key=lambda e: (e[0], e[1], e[2] or 0, e[3] or 0)), "\n".join(
        d.format() for d in found
    )


def test_valid_job_is_clean(tmp_path: Path) -> None:
    assert lint_job(write(tmp_path / "job", job_files())) == []


def test_symlink_out_of_the_job(tmp_path: Path) -> None:
    outside = tmp_path / "secret.py"
    outside.write_text("x = 1\n")
    root = write(tmp_path / "job", job_files())
    (root / "app" / "custom" / "helper.py").symlink_to(outside)
    found = lint_job(root)
    assert [(d.code, _relative(d.file, root)) for d in found] == [
        ("FLJ505", "app/custom/helper.py")
    ]
    assert str(outside) in found[0].message


def test_symlink_inside_the_job_is_fine(tmp_path: Path) -> None:
    root = write(tmp_path / "job", job_files())
    (root / "app" / "custom" / "alias.py").symlink_to(root / "app" / "custom" / "train.py")
    assert lint_job(root) == []


def test_custom_class_is_not_unknown(tmp_path: Path) -> None:
    """A class from the app's own custom/ folder is user code, not an unknown component."""
    server = SERVER.replace(
        "components = [", 'components = [\n  { id = "m", path = "mymod.Thing" }'
    )
    root = write(
        tmp_path / "job", job_files(server=server, app__custom__mymod__py="class Thing: ...\n")
    )
    assert [d.code for d in lint_job(root)] == ["FLJ401"]  # mymod__py is not a module file
    (root / "app" / "custom" / "mymod.py").write_text("class Thing: ...\n")
    assert lint_job(root) == []
