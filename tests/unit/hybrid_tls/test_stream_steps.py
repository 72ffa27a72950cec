"""The shared client stream logic (``hybrid_tls.stream_steps``) run synchronously against a
pyOpenSSL server engine behind a small in-memory TCP stand-in: handshake, a request and its
answer, close_notify, EOF, and which write failures are ignored."""

from __future__ import annotations

from pathlib import Path

import httpcore
import pytest

from qkd_macsec.hybrid_tls import TlsEngine, TlsFiles, anonymous_client_context, server_context
from qkd_macsec.hybrid_tls.stream_steps import (
    Send,
    close_steps,
    handshake_steps,
    read_steps,
    run_sync,
    write_steps,
)
from qkd_macsec.sim.nxos.server import NxosTls, make_tls


class Wire(httpcore.NetworkStream):
    """TCP to a server engine in memory; ``broken`` makes every write fail."""

    def __init__(self, server: TlsEngine) -> None:
        self.server = server
        self.pending = b""
        self.broken = False
        self.closed = False

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if self.broken:
            raise httpcore.WriteError("wire cut")
        self.server.receive(buffer)
        if not self.server.handshake_done:
            self.server.handshake()
        self.pending += self.server.outgoing()

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data, self.pending = self.pending[:max_bytes], self.pending[max_bytes:]
        return data

    def close(self) -> None:
        self.closed = True


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> NxosTls:
    return make_tls(tmp_path_factory.mktemp("tls"))


def connected(tls: NxosTls, ca: Path | None = None) -> tuple[TlsEngine, TlsEngine, Wire]:
    server = TlsEngine(
        server_context(TlsFiles(tls.cert, tls.key, None), client_certificates=False),
        server_side=True,
    )
    client = TlsEngine(
        anonymous_client_context(ca or tls.ca), server_side=False, server_hostname="localhost"
    )
    return client, server, Wire(server)


def test_a_request_and_its_answer_over_the_steps(tls: NxosTls) -> None:
    client, server, wire = connected(tls)
    run_sync(handshake_steps(client), wire, 1.0)
    assert client.handshake_done
    run_sync(write_steps(client, b"GET / HTTP/1.1\r\n\r\n"), wire, 1.0)
    assert server.read(1024) == b"GET / HTTP/1.1\r\n\r\n"
    server.write(b"HTTP/1.1 200 OK\r\n\r\n")
    wire.pending += server.outgoing()
    assert run_sync(read_steps(client, 1024), wire, 1.0) == b"HTTP/1.1 200 OK\r\n\r\n"
    server.close_notify()
    wire.pending += server.outgoing()
    assert run_sync(read_steps(client, 1024), wire, 1.0) is None  # close_notify


def test_eof_without_close_notify_ends_the_stream(tls: NxosTls) -> None:
    client, _, wire = connected(tls)
    run_sync(handshake_steps(client), wire, 1.0)
    assert run_sync(read_steps(client, 1024), wire, 1.0) is None


def test_a_refused_handshake_is_a_connect_error(tls: NxosTls, tmp_path: Path) -> None:
    client, _, wire = connected(tls, ca=make_tls(tmp_path / "other").ca)
    with pytest.raises(httpcore.ConnectError, match="certificate verify failed"):
        run_sync(handshake_steps(client), wire, 1.0)


def test_only_quiet_writes_may_fail(tls: NxosTls) -> None:
    client, _, wire = connected(tls)
    run_sync(handshake_steps(client), wire, 1.0)
    wire.broken = True
    run_sync(close_steps(client), wire, 1.0)  # the close alert: best effort
    client, _, wire = connected(tls)
    run_sync(handshake_steps(client), wire, 1.0)
    wire.broken = True
    with pytest.raises(httpcore.WriteError):
        run_sync(write_steps(client, b"data"), wire, 1.0)
    assert Send(b"x").quiet is False
