"""A synchronous httpx transport whose TLS is :mod:`qkd_macsec.hybrid_tls` (X25519MLKEM768 first,
the classical groups as fallback, TLS >= 1.2), for clients that run in a thread (the NX-API
driver).

The same design as the ETSI 014 client's async transport (``etsi014/hybrid_transport.py``):
httpcore opens TCP with its own (sync) backend, and the ``start_tls`` step runs the sans-IO
:class:`~qkd_macsec.hybrid_tls.TlsEngine` instead of :mod:`ssl`; after the handshake
:func:`~qkd_macsec.hybrid_tls.settle_handshake` checks the host name and hands the posture to
``on_handshake``, which may refuse it (raising) before one request byte is sent.
"""

from __future__ import annotations

import ssl
import typing
from collections.abc import Iterable

import httpcore
import httpx
from OpenSSL import SSL

from qkd_macsec.hybrid_tls.engine import TlsEngine, TlsHandshakeError
from qkd_macsec.hybrid_tls.posture import HandshakeHook, settle_handshake

__all__ = ["SyncHybridTlsBackend", "SyncHybridTlsTransport"]

_READ_CHUNK = 65536


class _TlsStream(httpcore.NetworkStream):
    """Application data over one TCP stream through a :class:`TlsEngine`."""

    def __init__(self, raw: httpcore.NetworkStream, engine: TlsEngine) -> None:
        self._raw = raw
        self._engine = engine
        self._eof = False

    def handshake(self, timeout: float | None) -> None:
        engine = self._engine
        while True:
            try:
                done = engine.handshake()
            except TlsHandshakeError as exc:
                self._flush(timeout, quiet=True)  # the alert tells the server why
                raise httpcore.ConnectError(str(exc)) from exc
            self._flush(timeout)
            if done:
                return
            data = self._raw.read(_READ_CHUNK, timeout)
            if not data:
                raise httpcore.ConnectError("the server closed the connection during the handshake")
            engine.receive(data)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        while not self._eof:
            try:
                data = self._engine.read(max_bytes)
            except TlsHandshakeError as exc:
                raise httpcore.ReadError(str(exc)) from exc
            if data is None:
                self._eof = True
                break
            if data:
                return data
            self._flush(timeout)
            raw = self._raw.read(_READ_CHUNK, timeout)
            if not raw:
                self._eof = True
                break
            self._engine.receive(raw)
        return b""

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            self._engine.write(buffer)
        except TlsHandshakeError as exc:
            raise httpcore.WriteError(str(exc)) from exc
        self._flush(timeout)

    def close(self) -> None:
        self._engine.close_notify()
        self._flush(0.5, quiet=True)
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

    def _flush(self, timeout: float | None, *, quiet: bool = False) -> None:
        data = self._engine.outgoing()
        if not data:
            return
        try:
            self._raw.write(data, timeout)
        except (httpcore.NetworkError, httpcore.TimeoutException, OSError):
            if not quiet:
                raise


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
