"""Fixtures for the transport tests: one provisioned project, servers and clients on
127.0.0.1 with OS-assigned ports, all stopped at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from fljob.runtime import pki as pki_module
from fljob.runtime.transport import Handler, RpcClient, RpcServer


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> pki_module.Pki:
    return pki_module.provision(
        tmp_path_factory.mktemp("pki"),
        project="transport-tests",
        sites=["site-1", "site-2"],
        admins=["admin@example.org"],
    )


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> pki_module.Pki:
    """A second project with its own CA: its certificates must be refused."""
    return pki_module.provision(
        tmp_path_factory.mktemp("other-pki"), project="intruders", sites=["site-1"]
    )


@pytest.fixture
def serve(pki) -> Iterator[Callable[..., tuple[RpcServer, str]]]:
    """``serve(handlers, **options) -> (server, "127.0.0.1:PORT")`` with mutual TLS."""
    servers: list[RpcServer] = []

    def start(handlers: Mapping[str, Handler], **options) -> tuple[RpcServer, str]:
        server = RpcServer("127.0.0.1:0", pki.identity("server"), handlers, **options)
        port = server.start()
        servers.append(server)
        return server, f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(0)


@pytest.fixture
def connect(pki) -> Iterator[Callable[..., RpcClient]]:
    """``connect(address, name="site-1", **options) -> RpcClient``."""
    clients: list[RpcClient] = []

    def make(address: str, name: str = "site-1", **options) -> RpcClient:
        client = RpcClient(address, pki.identity(name), **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A private directory with a short path (unix socket paths are limited to ~100 bytes)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="fljob-t-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
