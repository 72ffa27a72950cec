"""The httpx transport that carries hybrid TLS: it must really use its own network backend."""

from __future__ import annotations

import httpcore
import httpx
import pytest

from qkd_macsec.etsi014.hybrid_transport import HybridTlsBackend, HybridTlsTransport
from qkd_macsec.etsi014.tls import TlsIdentity
from qkd_macsec.kme.example import write_example_network


def test_the_pool_httpx_uses_is_the_one_with_the_hybrid_backend(tmp_path: object) -> None:
    example = write_example_network(tmp_path)  # type: ignore[arg-type]
    files = example.saes["mx304-11"]
    identity = TlsIdentity(files.cert, files.key, example.ca_cert)
    backend = HybridTlsBackend(identity.hybrid_context(), verify=True)
    limits = httpx.Limits(max_connections=3, max_keepalive_connections=2)
    transport = HybridTlsTransport(backend, limits=limits)
    # httpx 0.28 sends every request through ``_pool``; if that ever changes, this fails
    # instead of the client silently falling back to classical TLS.
    pool = transport._pool
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    assert pool._network_backend is backend
    assert pool._max_connections == 3
    assert pool._max_keepalive_connections == 2


async def test_a_closed_port_is_a_connect_error_not_a_tls_one(tmp_path: object) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    example = write_example_network(tmp_path)  # type: ignore[arg-type]
    files = example.saes["mx304-11"]
    identity = TlsIdentity(files.cert, files.key, example.ca_cert)
    backend = HybridTlsBackend(identity.hybrid_context(), verify=True)
    transport = HybridTlsTransport(backend, limits=httpx.Limits(max_connections=1))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"https://127.0.0.1:{port}/")
