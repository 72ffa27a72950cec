"""A synchronous httpx transport whose TLS is :mod:`qkd_macsec.hybrid_tls` (X25519MLKEM768 first,
the classical groups as fallback, TLS >= 1.2), for clients that run in a thread (the NX-API
driver).

The same design as the ETSI 014 client's async transport (``etsi014/hybrid_transport.py``),
sharing its stream logic (:mod:`.stream_steps`): httpcore opens TCP with its own (sync)
backend, and the ``start_tls`` step runs the sans-IO :class:`~qkd_macsec.hybrid_tls.TlsEngine`
instead of :mod:`ssl`; after the handshake :func:`~qkd_macsec.hybrid_tls.settle_handshake`
checks the host name and hands the posture to ``on_handshake``, which may refuse it (raising)
before one request byte is sent.
"""

from __future__ import annotations

import ssl
import typing
from collections.abc import Iterable

import httpcore
import httpx
from OpenSSL import SSL

from qkd_macsec.hybrid_tls.engine import TlsEngine
from qkd_macsec.hybrid_tls.posture import HandshakeHook, settle_handshake
from qkd_macsec.hybrid_tls.stream_steps import (
    close_steps,
    handshake_steps,
    read_steps,
    run_sync,
    write_steps,
)

__all__ = ["SyncHybridTlsBackend", "SyncHybridTlsTransport"]


class _TlsStream(httpcore.NetworkStream):
    """Application data over one TCP stream through a :class:`TlsEngine` (the steps of
    :mod:`.stream_steps`, run synchronously)."""

    def __init__(self, raw: httpcore.NetworkStream, engine: TlsEngine) -> None:
        self._raw = raw
        self._engine = engine
        self._eof = False

    def handshake(self, timeout: float | None) -> None:
        run_sync(handshake_steps(self._engine), self._raw, timeout)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._eof:
            return b""
        data = run_sync(read_steps(self._engine, max_bytes), self._raw, timeout)
        if data is None:
            self._eof = True
            return b""
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        run_sync(write_steps(self._engine, buffer), self._raw, timeout)

    def close(self) -> None:
        run_sync(close_steps(self._engine), self._raw, 0.5)
        self._raw.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("TLS inside TLS (an HTTPS proxy) is not supported")

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "ssl_object":
            return self._engine.info()
        return self._raw.get_extra_info(info)


class _TcpStream(httpcore.NetworkStream):
    """httpcore's TCP stream, with ``start_tls`` running the hybrid engine."""

    def __init__(self, raw: httpcore.NetworkStream, backend: SyncHybridTlsBackend) -> None:
        self._raw = raw
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._raw.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._raw.write(buffer, timeout)

    def close(self) -> None:
        self._raw.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        backend = self._backend
        engine = TlsEngine(backend.context, server_side=False, server_hostname=server_hostname)
        stream = _TlsStream(self._raw, engine)
        try:
            stream.handshake(timeout)
            try:
                settle_handshake(
                    engine,
                    verify=True,
                    peer=backend.peer_label,
                    on_handshake=backend.on_handshake,
                )
            except ssl.SSLError as exc:
                raise httpcore.ConnectError(str(exc)) from exc
        except BaseException:
            stream.close()
            raise
        return stream

    def get_extra_info(self, info: str) -> typing.Any:
        return self._raw.get_extra_info(info)


class SyncHybridTlsBackend(httpcore.NetworkBackend):
    """TCP from httpcore's sync backend, TLS from :mod:`qkd_macsec.hybrid_tls`, the server
    always verified (chain by the ``context``, host name after the handshake)."""

    def __init__(
        self, context: SSL.Context, *, peer_label: str, on_handshake: HandshakeHook | None = None
    ) -> None:
        self.context = context
        self.peer_label = peer_label
        self.on_handshake = on_handshake
        self._tcp = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raw = self._tcp.connect_tcp(host, port, timeout, local_address, socket_options)
        return _TcpStream(raw, self)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raw = self._tcp.connect_unix_socket(path, timeout, socket_options)
        return _TcpStream(raw, self)

    def sleep(self, seconds: float) -> None:
        self._tcp.sleep(seconds)


class SyncHybridTlsTransport(httpx.HTTPTransport):
    """:class:`httpx.HTTPTransport` (its request/response and error mapping) over a pool whose
    network backend is :class:`SyncHybridTlsBackend` (httpx 0.28 takes no network backend, so
    the pool it built is replaced, as the async transport does)."""

    def __init__(self, backend: SyncHybridTlsBackend, *, limits: httpx.Limits) -> None:
        super().__init__(verify=False, limits=limits, trust_env=False)
        # httpcore sets ALPN on this context and hands it to start_tls, which ignores it.
        unused = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._pool = httpcore.ConnectionPool(
            ssl_context=unused,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=backend,
        )
