"""uvicorn's HTTP protocols, plus the ASGI TLS extension so the app can see the client certificate.

Neither hypercorn 0.18 nor uvicorn 0.54 puts the peer certificate into the ASGI scope (hypercorn
only tells the app whether the connection is TLS; the ASGI ``tls`` extension is unimplemented
in both). uvicorn accepts a protocol *class* as ``Config(http=...)``, so this subclass reads the
certificate from the TLS transport once per connection and adds
``scope["extensions"]["tls"]`` (ASGI TLS extension shape: ``client_cert_chain`` as PEM) to every
request on it. It also offers ``scope["extensions"]["qkd_macsec.connection"]["abort"]``, used by
the KME's fault injection to drop a connection without an answer.

The httptools protocol also bounds how long a request's *headers* may take (uvicorn bounds only
the idle time after a response): a connection that opens and sends nothing, or trickles its
header lines, is closed after :attr:`PeerCertHttpToolsProtocol.header_timeout_s`. The body is
bounded by the app (``KmeApp.body_timeout_s``).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, ClassVar, cast

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from qkd_macsec.hybrid_tls import TlsInfo

TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
CONNECTION_EXTENSION = "qkd_macsec.connection"


def tls_extension(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    """The ASGI ``tls`` extension for a connection, or None when it is not TLS."""
    ssl_object = transport.get_extra_info("ssl_object")
    if isinstance(ssl_object, ssl.SSLObject):  # the runtime's ssl (classical here)
        der = ssl_object.getpeercert(binary_form=True)
        version = ssl_object.version()
    elif isinstance(ssl_object, TlsInfo):  # the hybrid TLS front (kme/tls_front.py)
        der, version = ssl_object.peer_cert_der, ssl_object.version
    else:
        return None
    chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": TLS_VERSIONS.get(version or ""),
        "cipher_suite": None,
    }


class _ConnectionApp:
    """Wraps the ASGI app for one connection, adding that connection's extensions to each scope."""

    def __init__(self, app: Any, extensions: dict[str, Any]) -> None:
        self._app = app
        self._extensions = extensions

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope.setdefault("extensions", {}).update(self._extensions)
        await self._app(scope, receive, send)


def _with_connection_extensions(app: Any, transport: asyncio.Transport) -> Any:
    extensions: dict[str, Any] = {CONNECTION_EXTENSION: {"abort": transport.abort}}
    tls = tls_extension(transport)
    if tls is not None:
        extensions["tls"] = tls
    return cast(Any, _ConnectionApp(app, extensions))


class PeerCertH11Protocol(H11Protocol):
    """Pass as ``uvicorn.Config(http=PeerCertH11Protocol)`` (pure-Python HTTP parser)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.app = _with_connection_extensions(self.app, transport)


class PeerCertHttpToolsProtocol(HttpToolsProtocol):
    """Pass as ``uvicorn.Config(http=PeerCertHttpToolsProtocol)`` (httptools: several times
    cheaper per request than h11, which is what bounds key pairs per second).

    :func:`with_header_timeout` makes a subclass with another ``header_timeout_s``.
    """

    header_timeout_s: ClassVar[float] = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.app = _with_connection_extensions(self.app, transport)
        self._arm_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:  # a further request on a kept-alive connection
            self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def with_header_timeout(seconds: float) -> type[PeerCertHttpToolsProtocol]:
    """:class:`PeerCertHttpToolsProtocol` closing connections whose request headers take longer
    than ``seconds`` (uvicorn takes a protocol class, not an instance)."""
    if seconds <= 0:
        raise ValueError("header timeout must be positive")
    return type(
        "PeerCertHttpToolsProtocol",
        (PeerCertHttpToolsProtocol,),
        {"header_timeout_s": float(seconds)},
    )
