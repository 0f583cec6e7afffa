"""Provisioning: layout, certificate fields, key permissions, re-provisioning."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fljob.runtime.pki import Pki, PkiError, load_identity, provision


def cert(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def field(c: x509.Certificate, oid) -> str:
    return c.subject.get_attributes_for_oid(oid)[0].value


@pytest.fixture
def project(tmp_path) -> Pki:
    return provision(
        tmp_path / "pki",
        project="demo",
        sites=["site-1", "site-2"],
        admins=["admin@demo"],
        host="fl.example.org",
    )


@pytest.mark.parametrize(
    ("name", "role"),
    [("server", "server"), ("site-1", "site"), ("site-2", "site"), ("admin@demo", "admin")],
)
def test_each_participant_has_a_kit_with_its_name_and_role(project, name, role):
    ident = project.identity(name)
    c = cert(ident.cert)
    assert field(c, NameOID.COMMON_NAME) == name
    assert field(c, NameOID.ORGANIZATIONAL_UNIT_NAME) == role
    assert field(c, NameOID.ORGANIZATION_NAME) == "demo"
    assert isinstance(c.public_key(), ec.EllipticCurvePublicKey)
    c.verify_directly_issued_by(cert(project.ca_cert))
    assert ident.key.stat().st_mode & 0o777 == 0o600
    assert ident.ca_cert.read_bytes() == project.ca_cert.read_bytes()
    assert load_identity(project.kit_dir(name)) == ident


def test_server_certificate_names_its_hosts(project):
    sans = (
        cert(project.identity("server").cert)
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value
    )
    assert set(sans.get_values_for_type(x509.DNSName)) == {"server", "localhost", "fl.example.org"}
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]


def test_ca_key_is_private(project):
    assert (project.root / "ca" / "ca.key").stat().st_mode & 0o777 == 0o600


def test_load_reads_what_provision_wrote(project):
    loaded = Pki.load(project.root)
    assert loaded == project
    assert loaded.names("site") == ["site-1", "site-2"]


def test_reprovisioning_adds_without_touching_others(project):
    before = {n: project.identity(n).cert.read_bytes() for n in project.names()}
    ca_before = project.ca_cert.read_bytes()
    again = provision(
        project.root, project="demo", sites=["site-1", "site-2", "site-3"], admins=["admin@demo"]
    )
    assert again.names("site") == ["site-1", "site-2", "site-3"]
    assert again.ca_cert.read_bytes() == ca_before
    assert {n: again.identity(n).cert.read_bytes() for n in before} == before
    cert(again.identity("site-3").cert).verify_directly_issued_by(cert(again.ca_cert))


BAD = {
    "other-project": (dict(project="other", sites=["site-1"]), "belongs to project 'demo'"),
    "role-clash": (
        dict(project="demo", sites=["admin@demo"]),
        "already provisioned as admin, not site",
    ),
    "duplicate": (dict(project="demo", sites=["a", "a"]), "listed twice"),
    "bad-name": (dict(project="demo", sites=["../evil"]), "not usable as a participant name"),
    "reserved-name": (dict(project="demo", sites=["ca"]), "not usable as a participant name"),
}


@pytest.mark.parametrize(("kwargs", "message"), BAD.values(), ids=BAD.keys())
def test_inconsistent_requests_are_refused(project, kwargs, message):
    with pytest.raises(PkiError, match=message):
        provision(project.root, **kwargs)


def test_unknown_participant_lists_the_known_ones(project):
    with pytest.raises(PkiError, match="no participant 'site-9'") as info:
        project.identity("site-9")
    assert "site-1" in info.value.hint


def test_loading_a_folder_that_is_not_provisioned(tmp_path):
    with pytest.raises(PkiError, match="not a provisioned project folder"):
        Pki.load(tmp_path)
