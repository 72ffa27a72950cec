# ruff: noqa: ASYNC109 - httpcore's stream/backend interface takes timeouts as arguments
"""httpx transport whose TLS is :mod:`qkd_macsec.hybrid_tls` (X25519MLKEM768 on this runtime).

httpcore opens TCP with its own backend and then asks the stream to ``start_tls``; the backend
here wraps those TCP streams so that step runs the pyOpenSSL engine instead of :mod:`ssl`.
The :class:`ssl.SSLContext` httpcore passes in is not used: the pyOpenSSL context built from the
same :class:`~qkd_macsec.etsi014.tls.TlsIdentity` holds the client chain and the trust anchors.
After the handshake the host name is verified, then ``on_handshake`` sees the posture and may
refuse it (raising) before a single request byte, so before any key, is sent.
"""

from __future__ import annotations

import ssl
import typing
from collections.abc import Iterable

import httpcore
import httpx
from OpenSSL import SSL

from qkd_macsec.hybrid_tls import (
    HandshakeHook,
    TlsEngine,
    TlsInfo,
    settle_handshake,
    tls_posture,
)
from qkd_macsec.hybrid_tls.stream_steps import (
    close_steps,
    handshake_steps,
    read_steps,
    run_async,
    write_steps,
)

__all__ = [
    "HandshakeHook",
    "HybridTlsBackend",
    "HybridTlsStream",
    "HybridTlsTransport",
    "tls_posture",
]


class HybridTlsStream(httpcore.AsyncNetworkStream):
    """Application data over one TCP stream through a :class:`TlsEngine` (the steps of
    :mod:`qkd_macsec.hybrid_tls.stream_steps`, awaited; the NX-API driver runs the same steps
    synchronously)."""

    def __init__(self, raw: httpcore.AsyncNetworkStream, engine: TlsEngine) -> None:
        self._raw = raw
        self._engine = engine
        self._info = TlsInfo(None, None, None, None, None)
        self._eof = False

    @property
    def info(self) -> TlsInfo:
        return self._info

    async def handshake(self, timeout: float | None) -> None:
        await run_async(handshake_steps(self._engine), self._raw, timeout)
        self._info = self._engine.info()

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._eof:
            return b""
        data = await run_async(read_steps(self._engine, max_bytes), self._raw, timeout)
        if data is None:
            self._eof = True
            return b""
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await run_async(write_steps(self._engine, buffer), self._raw, timeout)

    async def aclose(self) -> None:
        await run_async(close_steps(self._engine), self._raw, 0.5)
        await self._raw.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("TLS inside TLS (an HTTPS proxy) is not supported")

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "ssl_object":
            return self._info
        return self._raw.get_extra_info(info)


class _TcpStream(httpcore.AsyncNetworkStream):
    """httpcore's TCP stream, with ``start_tls`` running the hybrid engine."""

    def __init__(self, raw: httpcore.AsyncNetworkStream, backend: HybridTlsBackend) -> None:
        self._raw = raw
        self._backend = backend

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._raw.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._raw.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._raw.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        backend = self._backend
        engine = TlsEngine(backend.context, server_side=False, server_hostname=server_hostname)
        stream = HybridTlsStream(self._raw, engine)
        try:
            await stream.handshake(timeout)
            peer = backend.peer_label or f"{server_hostname}:{self._port()}"
            try:
                settle_handshake(
                    engine, verify=backend.verify, peer=peer, on_handshake=backend.on_handshake
                )
            except ssl.SSLError as exc:
                raise httpcore.ConnectError(str(exc)) from exc
        except BaseException:
            await stream.aclose()
            raise
        return stream

    def get_extra_info(self, info: str) -> typing.Any:
        return self._raw.get_extra_info(info)

    def _port(self) -> str:
        peer = self._raw.get_extra_info("server_addr")
        return str(peer[1]) if isinstance(peer, tuple) and len(peer) > 1 else "?"


class HybridTlsBackend(httpcore.AsyncNetworkBackend):
    """TCP from httpcore's default backend, TLS from :mod:`qkd_macsec.hybrid_tls`."""

    def __init__(
        self,
        context: SSL.Context,
        *,
        verify: bool,
        on_handshake: HandshakeHook | None = None,
        peer_label: str | None = None,
    ) -> None:
        self.context = context
        self.verify = verify
        self.on_handshake = on_handshake
        self.peer_label = peer_label
        self._tcp = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raw = await self._tcp.connect_tcp(host, port, timeout, local_address, socket_options)
        return _TcpStream(raw, self)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raw = await self._tcp.connect_unix_socket(path, timeout, socket_options)
        return _TcpStream(raw, self)

    async def sleep(self, seconds: float) -> None:
        await self._tcp.sleep(seconds)


class HybridTlsTransport(httpx.AsyncHTTPTransport):
    """:class:`httpx.AsyncHTTPTransport` (its request/response and error mapping) over a
    connection pool whose network backend is :class:`HybridTlsBackend`.

    httpx 0.28 takes no network backend, so the pool it built is replaced by one configured the
    same way plus the backend (``tests/unit/etsi014/test_hybrid_transport.py`` fails if the
    attribute this relies on goes away).
    """

    def __init__(
        self, backend: HybridTlsBackend, *, limits: httpx.Limits, http2: bool = False
    ) -> None:
        super().__init__(verify=False, limits=limits, http2=http2, trust_env=False)
        # httpcore sets ALPN on this context and hands it to start_tls, which ignores it; given
        # once here so httpcore does not build a default context per connection.
        unused = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=unused,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=http2,
            network_backend=backend,
        )
