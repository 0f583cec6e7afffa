"""``fljob lint``: exit codes, output formats, filters, discovery, parallel runs."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fljob.compiler.lint import discover, lint_paths
from tests.lint.jobs import SERVER, job_files, write

DATA = Path(__file__).parent / "data"
BAD_SERVER = SERVER.replace("num_rounds = 2", "num_round = 2")  # FLJ402 error
WARN_SERVER = SERVER.replace("FedAvg", "FedAvgg").replace(  # FLJ401 warning only
    "args { num_rounds = 2 }", "args {}"
)


@pytest.fixture
def jobs(tmp_path: Path) -> Path:
    """A tree: a clean job, a job with an error and a warning, a job with a warning only."""
    write(tmp_path / "tree" / "clean", job_files())
    write(
        tmp_path / "tree" / "nested" / "bad",
        job_files(
            server=BAD_SERVER.replace(
                "components = [", 'components = [\n  { id = "r", path = "my.Unknown" }'
            )
        ),
    )
    write(tmp_path / "tree" / "warn", job_files(server=WARN_SERVER))
    return tmp_path / "tree"


@pytest.mark.parametrize(
    ("target", "args", "code"),
    [
        ("clean", [], 0),
        ("nested/bad", [], 1),
        ("warn", [], 0),
        ("warn", ["--strict"], 1),
        ("nested/bad", ["--ignore", "FLJ4"], 0),
        ("nested/bad", ["--select", "FLJ401"], 0),
        ("nested/bad", ["--select", "FLJ402,FLJ401"], 1),
        ("missing", [], 2),
        ("clean", ["--select", "E501"], 2),
        ("clean", ["--format", "xml"], 2),
        ("", [], 1),
    ],
    ids=[
        "clean",
        "errors",
        "warnings-only",
        "strict",
        "ignore-prefix",
        "select-warning",
        "select-list",
        "no-such-path",
        "bad-code",
        "bad-format",
        "whole-tree",
    ],
)
def test_exit_codes(cli, jobs: Path, target: str, args: list[str], code: int) -> None:
    result = cli("lint", jobs / target if target else jobs, *args)
    assert result.exit_code == code, result


def test_no_targets_is_a_usage_error(cli, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = cli("lint", tmp_path / "empty")
    assert result.exit_code == 2 and "no job or template folder found" in result.stderr


def test_text_format(cli, jobs: Path) -> None:
    out = cli("lint", jobs / "nested" / "bad").stdout
    assert "config_fed_server.conf:3:68: FLJ402 error: FedAvg has no argument 'num_round'" in out
    assert "hint: did you mean 'num_rounds'?" in out
    assert re.search(
        r"^fljob lint: 1 error\(s\), 1 warning\(s\) in 1 target \(\d+\.\d\d s\)$", out, re.MULTILINE
    )


def test_json_format(cli, jobs: Path) -> None:
    doc = json.loads(cli("lint", jobs, "--format", "json").stdout)
    assert doc["format"] == "fljob-lint/1"
    assert doc["summary"] == {"targets": 3, "errors": 1, "warnings": 2, "infos": 0, "exit_code": 1}
    assert [t["kind"] for t in doc["targets"]] == ["job", "job", "job"]
    first = next(d for d in doc["diagnostics"] if d["code"] == "FLJ402")
    assert first["rule"] == "unknown-argument" and first["line"] == 3 and first["col"] == 68
    assert first["key_path"] == "workflows[0].args.num_round" and first["target"].endswith(
        "nested/bad"
    )


def test_sarif_format_is_valid_sarif_2_1_0(
    cli, jobs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jsonschema

    monkeypatch.chdir(jobs)
    doc = json.loads(cli("lint", ".", "--format", "sarif").stdout)
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(doc)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= {"FLJ301", "FLJ401", "FLJ402", "FLJ503"}
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {"FLJ402": "error", "FLJ401": "warning"}
    result = next(r for r in run["results"] if r["ruleId"] == "FLJ402")
    assert rules[result["ruleIndex"]]["id"] == "FLJ402"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {
        "uri": "nested/bad/app/config/config_fed_server.conf",
        "uriBaseId": "%SRCROOT%",
    }
    assert location["region"] == {"startLine": 3, "startColumn": 68}


def test_sarif_schema_rejects_broken_logs() -> None:
    """The vendored schema is not vacuous: it rejects a result without a message."""
    import jsonschema

    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    bad = {
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "a"}]}],
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(bad)


def test_github_format(cli, jobs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(jobs)
    lines = cli("lint", ".", "--format", "github").stdout.splitlines()
    error = next(line for line in lines if line.startswith("::error "))
    assert error.startswith(
        "::error file=nested/bad/app/config/config_fed_server.conf,line=3,col=68,"
        "title=FLJ402::FedAvg has no argument 'num_round'"
    )
    assert "%0Ahint: did you mean 'num_rounds'?" in error
    assert sum(line.startswith("::warning ") for line in lines) == 2


def test_junit_format(cli, jobs: Path) -> None:
    root = ET.fromstring(cli("lint", jobs, "--format", "junit").stdout)
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "3" and suite.get("failures") == "1"
    failed = [case for case in suite.iter("testcase") if case.find("failure") is not None]
    assert [case.get("name").endswith("nested/bad") for case in failed] == [True]
    assert failed[0].find("failure").get("type") == "FLJ402"


def test_output_file(cli, jobs: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = cli("lint", jobs / "clean", "--format", "json", "-o", out)
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(out.read_text())["summary"]["errors"] == 0


def test_policy_option(cli, jobs: Path, tmp_path: Path) -> None:
    policy = tmp_path / "site.yml"
    policy.write_text("name: strict-site\nallow: ['nvflare.*']\n")
    result = cli("lint", jobs / "clean", "--policy", policy)
    assert result.exit_code == 1 and "FLJ502" in result.stdout and "strict-site" in result.stdout
    policy.write_text("allow: 3\n")
    bad = cli("lint", jobs / "clean", "--policy", policy)
    assert bad.exit_code == 2 and "allow must be a list of strings" in bad.stderr


def test_discovery_of_files_and_templates(jobs: Path, tmp_path: Path) -> None:
    write(
        tmp_path / "lib" / "tpl", {"info.conf": 'description = "t"\n', "meta.conf": 'name = "t"\n'}
    )
    found = discover(
        [jobs, jobs / "clean" / "app" / "config" / "config_fed_server.conf", tmp_path / "lib"]
    )
    assert [(t.path.name, t.kind) for t in found] == [
        ("clean", "job"),
        ("bad", "job"),
        ("warn", "job"),
        ("tpl", "template"),
    ]
    assert discover([jobs / "warn" / "meta.conf"])[0].path == jobs / "warn"


def test_parallel_run_matches_serial(tmp_path: Path) -> None:
    for i in range(20):
        server = BAD_SERVER if i % 3 == 0 else SERVER
        write(tmp_path / f"job_{i:02d}", job_files(server=server))
    serial = lint_paths([tmp_path], workers=1)
    parallel = lint_paths([tmp_path], workers=2)
    assert parallel.results == serial.results
    assert sum(len(r.errors) for r in parallel.results) == 7


def test_cold_process_exit_code(cli_process, jobs: Path) -> None:
    result = cli_process("lint", jobs / "nested" / "bad", "--format", "json")
    assert result.exit_code == 1 and json.loads(result.stdout)["summary"]["errors"] == 1


def test_pre_commit_hooks_file() -> None:
    import yaml

    hooks = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml").read_text()
    )
    assert [h["id"] for h in hooks] == ["fljob-lint", "fljob-lint-strict"]
    pattern = re.compile(hooks[0]["files"])
    assert pattern.search("jobs/a/app/config/config_fed_client.conf")
    assert pattern.search("jobs/a/meta.yml") and pattern.search("templates/t/info.conf")
    assert not pattern.search("jobs/a/app/custom/train.py")
    assert all(h["entry"].startswith("fljob lint") and h["pass_filenames"] for h in hooks)
