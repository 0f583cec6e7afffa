"""``fljob provision``: project-file diagnostics, startup kits, re-provisioning."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

PROJECT = """
name: demo
server:
  host: 127.0.0.1
  port: 8102
sites:
  - name: site-1
    org: hospital-a
    resources: {num_of_gpus: 2}
  - name: site-2
    org: hospital-b
    policy:
      accept: {roles: [lead]}
admins:
  - {name: admin@a.org, org: hospital-a, role: project_admin}
  - {name: bob@b.org, org: hospital-b, role: member}
"""


@pytest.fixture
def kits(tmp_path: Path, cli) -> Path:
    (tmp_path / "project.yml").write_text(PROJECT)
    result = cli("provision", "-p", tmp_path / "project.yml", "-o", tmp_path / "kits")
    assert result.exit_code == 0, result.stderr
    return tmp_path / "kits"


def subject(cert: Path, oid) -> str:
    return (
        x509.load_pem_x509_certificate(cert.read_bytes())
        .subject.get_attributes_for_oid(oid)[0]
        .value
    )


@pytest.mark.parametrize(
    "name, kind, org",
    [
        ("server", "server", "demo"),
        ("site-1", "site", "hospital-a"),
        ("site-2", "site", "hospital-b"),
        ("admin@a.org", "admin", "hospital-a"),
        ("bob@b.org", "admin", "hospital-b"),
    ],
)
def test_each_participant_gets_a_kit(kits: Path, name, kind, org) -> None:
    kit = kits / name
    cert = kit / f"{name}.crt"
    assert subject(cert, NameOID.COMMON_NAME) == name
    assert subject(cert, NameOID.ORGANIZATIONAL_UNIT_NAME) == kind
    assert subject(cert, NameOID.ORGANIZATION_NAME) == org
    assert (kit / f"{name}.key").stat().st_mode & 0o077 == 0
    assert (kit / "ca.crt").read_bytes() == (kits / "ca" / "ca.crt").read_bytes()
    config = json.loads((kit / "fljob.json").read_text())
    assert config["kind"] == kind and config["server"] == "127.0.0.1:8102"
    assert (kit / "start.sh").exists() == (kind != "admin")


def test_kit_contents(kits: Path) -> None:
    assert json.loads((kits / "admin@a.org" / "fljob.json").read_text())["role"] == "project_admin"
    assert json.loads((kits / "site-1" / "fljob.json").read_text())["resources"] == {
        "num_of_gpus": 2
    }
    roster = json.loads((kits / "server" / "participants.json").read_text())
    assert roster["admins"]["bob@b.org"] == {"org": "hospital-b", "role": "member"}
    assert roster["sites"]["site-1"]["resources"] == {"num_of_gpus": 2}
    assert json.loads((kits / "site-2" / "site_policy.json").read_text()) == {
        "accept": {"roles": ["lead"]}
    }
    assert not (kits / "site-1" / "site_policy.json").exists()
    assert "org_admin" in json.loads((kits / "server" / "authorization.json").read_text())["roles"]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("server", "server --kit {kit} -w {kit}/workspace --host 127.0.0.1 --port 8102"),
        ("site-1", "site --kit {kit} -w {kit}/workspace --server 127.0.0.1:8102 --name site-1"),
    ],
)
def test_start_script_runs_fljob_with_the_kit(kits: Path, name, expected) -> None:
    kit = (kits / name).resolve()
    out = subprocess.run(
        ["sh", str(kit / "start.sh"), "--log-file", "x.log"],
        env={"FLJOB": "echo", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == expected.format(kit=kit) + " --log-file x.log"


def test_reprovisioning_adds_a_site_and_keeps_every_certificate(kits: Path, cli) -> None:
    before = {p: p.read_bytes() for p in kits.rglob("*.crt")} | {
        p: p.read_bytes() for p in kits.rglob("*.key")
    }
    project = kits.parent / "project.yml"
    project.write_text(PROJECT.replace("admins:", "  - {name: site-3, org: hospital-c}\nadmins:"))
    result = cli("provision", "-p", project, "-o", kits, "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["created"] == ["site-3"]
    assert "site-1" in report["kept"] and report["orphaned"] == []
    assert all(path.read_bytes() == data for path, data in before.items())
    assert (kits / "site-3" / "site-3.crt").exists()
    roster = json.loads((kits / "server" / "participants.json").read_text())
    assert "site-3" in roster["sites"]


def test_new_and_old_kits_talk_mutual_tls(kits: Path) -> None:
    import yaml

    from fljob.runtime.pki import load_identity
    from fljob.runtime.provision import parse_project, provision_project
    from fljob.runtime.transport import Message, RpcClient, RpcServer

    data = yaml.safe_load(PROJECT)
    data["sites"].append({"name": "site-3", "org": "hospital-c"})
    provision_project(parse_project(data), kits)
    server = RpcServer(
        "127.0.0.1:0",
        load_identity(kits / "server"),
        {"who": lambda ctx, msg: Message({"peer": ctx.peer, "role": ctx.peer_role})},
    )
    port = server.start()
    try:
        for name, role in (("site-1", "site"), ("site-3", "site"), ("admin@a.org", "admin")):
            with RpcClient(f"127.0.0.1:{port}", load_identity(kits / name)) as client:
                assert client.call("who", Message({}), timeout=10).headers == {
                    "peer": name,
                    "role": role,
                }
    finally:
        server.stop()


def test_changing_an_org_is_refused_until_the_kit_is_deleted(kits: Path, cli) -> None:
    project = kits.parent / "project.yml"
    project.write_text(
        PROJECT.replace("org: hospital-b\n    policy", "org: hospital-z\n    policy")
    )
    refused = cli("provision", "-p", project, "-o", kits)
    assert refused.exit_code == 1
    assert (
        "FLJ711 error: site-2 is already provisioned as site of organisation 'hospital-b'"
        in refused.stderr
    )
    import shutil

    shutil.rmtree(kits / "site-2")
    again = cli("provision", "-p", project, "-o", kits)
    assert again.exit_code == 0, again.stderr
    assert subject(kits / "site-2" / "site-2.crt", NameOID.ORGANIZATION_NAME) == "hospital-z"


def test_other_project_in_the_folder_is_refused(kits: Path, cli) -> None:
    project = kits.parent / "other.yml"
    project.write_text(PROJECT.replace("name: demo", "name: other"))
    refused = cli("provision", "-p", project, "-o", kits)
    assert refused.exit_code == 1 and "holds project 'demo', not 'other'" in refused.stderr


BAD = [
    # id, replace (old, new) in PROJECT, expected "line:col: ... message [key path]"
    (
        "missing-port",
        ("  port: 8102\n", ""),
        "4:3: FLJ710 error: missing required key 'port' [server]",
    ),
    (
        "port-range",
        ("port: 8102", "port: 99999"),
        "5:9: FLJ710 error: port must be an integer 1-65535, found 99999 [server.port]",
    ),
    ("typo-key", ("  host:", "  hots:"), "4:9: FLJ710 error: unknown key 'hots' [server.hots]"),
    (
        "org-type",
        ("org: hospital-a\n    res", "org: 7\n    res"),
        "8:10: FLJ710 error: org must be a non-empty string, found a number [sites[0].org]",
    ),
    (
        "bad-name",
        ("name: site-1", "name: site/1"),
        "7:11: FLJ710 error: site name 'site/1' cannot name a participant [sites[0].name]",
    ),
    (
        "duplicate",
        ("name: site-2", "name: site-1"),
        "10:11: FLJ710 error: 'site-1' is already a participant (sites[0].name) [sites[1].name]",
    ),
    (
        "negative-resource",
        ("num_of_gpus: 2", "num_of_gpus: -2"),
        "9:30: FLJ710 error: a resource must be a number >= 0, a string or a boolean, found -2 "
        "[sites[0].resources.num_of_gpus]",
    ),
    (
        "bad-role",
        ("role: member", "role: membr"),
        "16:46: FLJ710 error: unknown admin role 'membr' [admins[1].role]",
    ),
    (
        "bad-site-policy",
        ("roles: [lead]", "roles: [boss]"),
        "13:7: FLJ710 error: unknown role 'boss' [sites[1].policy.accept.roles]",
    ),
    (
        "sites-not-list",
        ("sites:\n", "sites: 3\nxsites:\n"),
        "6:8: FLJ710 error: sites must be a list, found a number [sites]",
    ),
]


@pytest.mark.parametrize("edit, expected", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_project_file_errors_are_located(tmp_path: Path, cli, edit, expected) -> None:
    text = PROJECT.replace(*edit)
    assert text != PROJECT
    (tmp_path / "project.yml").write_text(text)
    result = cli("provision", "-p", tmp_path / "project.yml", "-o", tmp_path / "kits")
    assert result.exit_code == 1
    assert f"project.yml:{expected}" in result.stderr, result.stderr
    assert not (tmp_path / "kits").exists()


def test_every_problem_is_reported_at_once(tmp_path: Path, cli) -> None:
    text = PROJECT.replace("port: 8102", "port: x").replace("role: member", "role: boss")
    (tmp_path / "project.yml").write_text(text)
    result = cli("provision", "-p", tmp_path / "project.yml", "-o", tmp_path / "kits")
    assert result.stderr.count("FLJ710") == 2


FLARE_PROJECT = """
api_version: 3
name: example_project
description: NVIDIA FLARE sample project yaml file

participants:
  - name: fl.example.com
    type: server
    org: nvidia
    fed_learn_port: 8002
    admin_port: 8003
  - name: site-1
    type: client
    org: nvidia
  - name: site-2
    type: client
    org: other
  - name: admin@nvidia.com
    type: admin
    org: nvidia
    role: project_admin

builders:
  - path: nvflare.lighter.impl.workspace.WorkspaceBuilder
    args:
      template_file: master_template.yml
"""


def test_flare_project_file_provisions(tmp_path: Path, cli) -> None:
    (tmp_path / "project.yml").write_text(FLARE_PROJECT)
    result = cli(
        "provision", "-p", tmp_path / "project.yml", "-o", tmp_path / "kits", "--format", "json"
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["server"] == "fl.example.com:8002"
    assert sorted(report["kits"]) == ["admin@nvidia.com", "server", "site-1", "site-2"]
    server = json.loads((tmp_path / "kits" / "server" / "fljob.json").read_text())
    assert (server["listen"], server["port"], server["org"]) == ("0.0.0.0", 8002, "nvidia")
    sans = (
        x509.load_pem_x509_certificate((tmp_path / "kits" / "server" / "server.crt").read_bytes())
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value
    )
    assert "fl.example.com" in sans.get_values_for_type(x509.DNSName)


FLARE_BAD = [
    (
        "overseer",
        ("type: client\n    org: other", "type: overseer\n    org: other"),
        "participant type 'overseer' is not supported [participants[2].type]",
        "fljob has no overseer",
    ),
    (
        "typo-type",
        ("type: client\n    org: other", "type: clinet\n    org: other"),
        "participant type 'clinet' is not supported [participants[2].type]",
        "did you mean 'client'?",
    ),
    (
        "two-servers",
        ("type: client\n    org: other", "type: server\n    org: other"),
        "a second server: fljob runs one server (no HA) [participants[2].type]",
        "",
    ),
    (
        "bad-role",
        ("role: project_admin", "role: admin"),
        "unknown admin role 'admin' [participants[3].role]",
        "",
    ),
]


@pytest.mark.parametrize(
    "edit, message, hint", [b[1:] for b in FLARE_BAD], ids=[b[0] for b in FLARE_BAD]
)
def test_flare_project_file_errors(tmp_path: Path, cli, edit, message, hint) -> None:
    (tmp_path / "project.yml").write_text(FLARE_PROJECT.replace(*edit))
    result = cli("provision", "-p", tmp_path / "project.yml", "-o", tmp_path / "kits")
    assert result.exit_code == 1
    assert message in result.stderr and hint in result.stderr, result.stderr
