"""A TLS layer on pyOpenSSL in front of uvicorn's HTTP protocol, so the KME negotiates the
hybrid X25519MLKEM768 group that this runtime's :mod:`ssl` (OpenSSL 3.0) cannot.

uvicorn then listens without TLS of its own and builds this protocol (``Config(http=...)``)
for each connection; it runs the handshake through :class:`~qkd_macsec.hybrid_tls.TlsEngine`
and only then connects the HTTP protocol, to a transport that encrypts what it writes. That
transport answers ``get_extra_info("ssl_object")`` with the connection's
:class:`~qkd_macsec.hybrid_tls.TlsInfo` (client certificate, version, group, cipher), which
:func:`.tls_protocol.tls_extension` turns into the ASGI ``tls`` extension as before.
A connection whose handshake has not finished within ``handshake_timeout_s`` is dropped.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, cast

from OpenSSL import SSL

from qkd_macsec.hybrid_tls import TlsEngine, TlsHandshakeError, TlsInfo
from qkd_macsec.obs.logging import get_logger

log = get_logger("kme")

_READ_CHUNK = 65536


class TlsFrontProtocol(asyncio.Protocol):
    """Built by uvicorn with the HTTP protocol's keyword arguments; :func:`tls_front` makes the
    subclass that names the HTTP protocol class, the context and the handshake timeout."""

    http_protocol: ClassVar[type[asyncio.Protocol]]
    context: ClassVar[SSL.Context]
    handshake_timeout_s: ClassVar[float] = 10.0

    def __init__(self, **http_kwargs: Any) -> None:
        self._http = self.http_protocol(**http_kwargs)
        self._raw: asyncio.Transport | None = None
        self._engine: TlsEngine | None = None
        self._tls: _TlsTransport | None = None
        self._timer: asyncio.TimerHandle | None = None

    # -- from the network ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._raw = cast(asyncio.Transport, transport)  # uvloop's is one without subclassing it
        self._engine = TlsEngine(self.context, server_side=True)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.handshake_timeout_s, self._handshake_too_slow)

    def data_received(self, data: bytes) -> None:
        engine, raw = self._engine, self._raw
        if engine is None or raw is None:
            return
        engine.receive(data)
        if self._tls is None:
            try:
                done = engine.handshake()
            except TlsHandshakeError as exc:
                # Dropped without sending the alert, as the runtime's ssl server does: httpx
                # over the runtime's ssl raises a bare ssl.SSLError for an alert read after its
                # TLS 1.3 handshake, but a TransportError for a dropped connection.
                log.info("TLS handshake refused from %s: %s", raw.get_extra_info("peername"), exc)
                raw.abort()
                return
            self._flush()
            if not done:
                return
            self._cancel_timer()
            self._tls = _TlsTransport(raw, engine, self.context)
            self._http.connection_made(self._tls)
        self._deliver()

    def eof_received(self) -> bool | None:
        if self._tls is not None:
            return self._http.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        if self._tls is not None:
            self._http.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._tls is not None:
            self._http.pause_writing()

    def resume_writing(self) -> None:
        if self._tls is not None:
            self._http.resume_writing()

    # -- internals -------------------------------------------------------------------------------

    def _deliver(self) -> None:
        """Hand every complete decrypted record to the HTTP protocol."""
        engine, raw = self._engine, self._raw
        assert engine is not None
        assert raw is not None
        while not raw.is_closing():
            try:
                data = engine.read(_READ_CHUNK)
            except TlsHandshakeError:
                raw.abort()
                return
            if data is None:  # close_notify from the client
                if not self._http.eof_received():
                    raw.close()
                break
            if not data:
                break
            self._http.data_received(data)
        self._flush()

    def _flush(self) -> None:
        if self._engine is not None and self._raw is not None and not self._raw.is_closing():
            out = self._engine.outgoing()
            if out:
                self._raw.write(out)

    def _handshake_too_slow(self) -> None:
        self._timer = None
        if self._tls is None and self._raw is not None and not self._raw.is_closing():
            self._raw.abort()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class _TlsTransport(asyncio.Transport):
    """What the HTTP protocol writes to: plaintext in, TLS records out on the TCP transport."""

    def __init__(self, raw: asyncio.Transport, engine: TlsEngine, context: SSL.Context) -> None:
        super().__init__()
        self._raw = raw
        self._engine = engine
        self._context = context
        self._info: TlsInfo = engine.info()
        self._flush_pending = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "ssl_object":
            return self._info
        if name == "sslcontext":  # uvicorn's test for https
            return self._context
        return self._raw.get_extra_info(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt now, send at the end of this loop iteration: a response's header and body
        writes then leave in one TCP segment instead of one each."""
        if self._raw.is_closing() or not data:
            return
        self._engine.write(bytes(data))
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        if self._raw.is_closing():
            return
        out = self._engine.outgoing()
        if out:
            self._raw.write(out)

    def get_write_buffer_size(self) -> int:
        return self._raw.get_write_buffer_size()

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return False

    def close(self) -> None:
        if self._raw.is_closing():
            return
        self._engine.close_notify()  # after any data not yet flushed, in the same buffer
        out = self._engine.outgoing()
        if out:
            self._raw.write(out)
        self._raw.close()

    def abort(self) -> None:
        self._raw.abort()

    def is_closing(self) -> bool:
        return self._raw.is_closing()

    def pause_reading(self) -> None:
        self._raw.pause_reading()

    def resume_reading(self) -> None:
        self._raw.resume_reading()

    def is_reading(self) -> bool:
        return self._raw.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._raw.set_write_buffer_limits(high, low)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._raw.get_write_buffer_limits()


def tls_front(
    http_protocol: type[asyncio.Protocol], context: SSL.Context, handshake_timeout_s: float
) -> type[TlsFrontProtocol]:
    """The protocol class to give uvicorn (it takes a class, not an instance)."""
    if handshake_timeout_s <= 0:
        raise ValueError("handshake timeout must be positive")
    return type(
        "TlsFrontProtocol",
        (TlsFrontProtocol,),
        {
            "http_protocol": http_protocol,
            "context": context,
            "handshake_timeout_s": float(handshake_timeout_s),
        },
    )
