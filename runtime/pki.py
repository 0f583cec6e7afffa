"""Provisioning: a project CA and one certificate per participant (server, sites, admins).

Layout of ``out_dir``::

    project.json              project name and participants {name: {role, org}}
    ca/ca.crt  ca/ca.key      the project CA (key 0600; kept so re-provisioning can add)
    <name>/ca.crt             one startup kit per participant: the CA certificate,
    <name>/<name>.crt         its certificate (CN = name, OU = role, O = organisation)
    <name>/<name>.key         and its key (0600)

Keys are EC P-256: generating one takes well under a millisecond (an RSA-2048 key takes
tens to hundreds of milliseconds), TLS handshakes are cheaper, and gRPC's BoringSSL
supports them everywhere. The server certificate's SANs name the server participant,
``localhost``, ``127.0.0.1`` and ``host``; clients verify it as the participant name.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fljob.errors import UsageError
from fljob.runtime.transport.tls import TlsIdentity

ROLES = ("server", "site", "admin")
_VALID_DAYS = 3650
_NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@")


class PkiError(UsageError):
    """Provisioning was asked something inconsistent (unknown name, role clash)."""

    code = "FLJ725"


@dataclass(frozen=True, slots=True)
class Participant:
    name: str
    role: str  #: "server" | "site" | "admin"
    org: str


@dataclass(frozen=True, slots=True)
class Pki:
    """A provisioned project: its folder and participants."""

    root: Path
    project: str
    participants: dict[str, Participant]

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca" / "ca.crt"

    def kit_dir(self, name: str) -> Path:
        """The startup kit folder of participant ``name``."""
        self._known(name)
        return self.root / name

    def identity(self, name: str) -> TlsIdentity:
        """The TLS identity of participant ``name``.

        >>> pki.identity("site-1").cert  # out_dir/site-1/site-1.crt
        """
        kit = self.kit_dir(name)
        return TlsIdentity(kit / "ca.crt", kit / f"{name}.crt", kit / f"{name}.key")

    def names(self, role: str | None = None) -> list[str]:
        return [n for n, p in self.participants.items() if role is None or p.role == role]

    def _known(self, name: str) -> None:
        if name not in self.participants:
            raise PkiError(
                f"no participant {name!r} in project {self.project!r}",
                path=str(self.root),
                hint=f"known: {', '.join(sorted(self.participants))}",
            )

    @classmethod
    def load(cls, out_dir: Path) -> Pki:
        """Read a provisioned folder."""
        root = Path(out_dir)
        try:
            doc = json.loads((root / "project.json").read_text(encoding="utf-8"))
            parts = {
                name: Participant(name, p["role"], p["org"])
                for name, p in doc["participants"].items()
            }
            return cls(root, doc["project"], parts)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PkiError(
                f"{root} is not a provisioned project folder: {exc}",
                path=str(root / "project.json"),
                hint="create it with fljob.runtime.pki.provision (or `fljob provision`)",
            ) from None


def load_identity(kit_dir: Path) -> TlsIdentity:
    """The identity in one participant's startup kit folder (``<name>/<name>.crt`` ...)."""
    kit = Path(kit_dir)
    certs = [p for p in kit.glob("*.crt") if p.name != "ca.crt"]
    if len(certs) != 1:
        raise PkiError(
            f"{kit} should hold exactly one participant certificate besides ca.crt, "
            f"found {len(certs)}",
            path=str(kit),
        )
    return TlsIdentity(kit / "ca.crt", certs[0], certs[0].with_suffix(".key"))


def provision(
    out_dir: Path,
    *,
    project: str,
    server: str = "server",
    sites: Iterable[str] = (),
    admins: Iterable[str] = (),
    host: str = "127.0.0.1",
    org: str | None = None,
) -> Pki:
    """Create (or extend) the PKI of ``project`` in ``out_dir``; returns it.

    Re-provisioning an existing folder keeps its CA and every certificate already issued,
    and issues certificates only for new participants, so running sites stay valid.

    >>> pki = provision(tmp / "pki", project="demo", sites=["site-1", "site-2"],
    ...                 admins=["admin@demo"])
    >>> pki.identity("site-1")
    """
    root = Path(out_dir)
    wanted = [(server, "server"), *((s, "site") for s in sites), *((a, "admin") for a in admins)]
    _check_names(wanted, root)
    existing = Pki.load(root) if (root / "project.json").exists() else None
    if existing is not None and existing.project != project:
        raise PkiError(
            f"{root} belongs to project {existing.project!r}, not {project!r}",
            path=str(root / "project.json"),
        )
    parts = dict(existing.participants) if existing else {}
    for name, role in wanted:
        if name in parts and parts[name].role != role:
            raise PkiError(
                f"participant {name!r} is already provisioned as {parts[name].role}, not {role}",
                path=str(root / "project.json"),
            )
    ca_key, ca_cert = _load_or_make_ca(root, project)
    for name, role in wanted:
        if name in parts and (root / name / f"{name}.crt").exists():
            continue
        parts[name] = Participant(name, role, org or project)
        hosts = [name, "localhost", "127.0.0.1", host] if role == "server" else []
        _issue(root / name, parts[name], ca_key, ca_cert, hosts)
    pki = Pki(root, project, dict(sorted(parts.items())))
    write_text_file(root / "project.json", json.dumps(_project_doc(pki), indent=2) + "\n", 0o644)
    return pki


def _check_names(wanted: list[tuple[str, str]], root: Path) -> None:
    seen: set[str] = set()
    for name, role in wanted:
        if not name or not set(name) <= _NAME_OK or name in ("ca", ".", ".."):
            raise PkiError(
                f"{role} name {name!r} is not usable as a participant name",
                path=str(root),
                hint="use letters, digits and - _ . @ (e.g. site-1, admin@org)",
            )
        if name in seen:
            raise PkiError(f"participant {name!r} is listed twice", path=str(root))
        seen.add(name)


def _project_doc(pki: Pki) -> dict[str, Any]:
    return {
        "project": pki.project,
        "participants": {n: {"role": p.role, "org": p.org} for n, p in pki.participants.items()},
    }


def _load_or_make_ca(root: Path, project: str) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key_path, cert_path = root / "ca" / "ca.key", root / "ca" / "ca.crt"
    if key_path.exists() and cert_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        return key, x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{project} CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, project),
        ]
    )
    cert = (
        _builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, _sha256())
    )
    _write_key(key_path, key)
    write_text_file(cert_path, cert.public_bytes(serialization.Encoding.PEM).decode(), 0o644)
    return key, cert


def _issue(kit: Path, who: Participant, ca_key: Any, ca_cert: Any, hosts: list[str]) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, who.name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, who.role),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, who.org),
        ]
    )
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if who.role == "server":
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        _builder(subject, ca_cert.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName(_sans(hosts)), False)
    cert = builder.sign(ca_key, _sha256())
    pem = serialization.Encoding.PEM
    _write_key(kit / f"{who.name}.key", key)
    write_text_file(kit / f"{who.name}.crt", cert.public_bytes(pem).decode(), 0o644)
    write_text_file(kit / "ca.crt", ca_cert.public_bytes(pem).decode(), 0o644)


def _sans(hosts: list[str]) -> list[Any]:
    from cryptography import x509

    out: list[Any] = []
    for host in dict.fromkeys(hosts):
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            out.append(x509.DNSName(host))
    return out


def _builder(subject: Any, issuer: Any, public_key: Any) -> Any:
    from cryptography import x509

    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate small clock skew
        .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
    )


def _key_usage(*, ca: bool) -> Any:
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not ca,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def _write_key(path: Path, key: Any) -> None:
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_text_file(path, pem.decode(), 0o600)


def write_text_file(path: Path, text: str, mode: int) -> None:
    """Write atomically with ``mode`` set before any byte lands (keys are never readable
    by others, not even for a moment). Startup kits use it for every file they write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)
