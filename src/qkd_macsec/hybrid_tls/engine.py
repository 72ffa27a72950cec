"""TLS over memory buffers (sans-IO) on a pyOpenSSL connection.

The owner moves bytes: what came from the network goes in with :meth:`TlsEngine.receive`,
what must go out is taken with :meth:`TlsEngine.outgoing`. Errors become
:class:`TlsHandshakeError`, an :class:`ssl.SSLError`, so code that already tells TLS failures
apart by that class keeps doing so.
"""

from __future__ import annotations

import contextlib
import ipaddress
import ssl
from dataclasses import dataclass

import service_identity
from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL
from service_identity.pyopenssl import verify_hostname, verify_ip_address

_WIRE_CHUNK = 65536


class TlsHandshakeError(ssl.SSLError):
    """The handshake or a record failed: a refused certificate, a wrong host name, an alert."""


class TlsCertificateError(TlsHandshakeError, ssl.SSLCertVerificationError):
    """The peer's certificate chain was refused during the handshake (``certificate verify
    failed``): an :class:`ssl.SSLCertVerificationError`, as :mod:`ssl` raises for it, so
    callers that tell an untrusted peer apart keep doing so."""

    verify_message = "certificate verify failed"


@dataclass(frozen=True)
class TlsInfo:
    """What one connection negotiated, read once after the handshake."""

    version: str | None
    group: str | None
    cipher: str | None
    alpn: str | None
    peer_cert_der: bytes | None

    def selected_alpn_protocol(self) -> str | None:
        """The :class:`ssl.SSLObject` spelling, which httpcore asks for."""
        return self.alpn


class TlsEngine:
    """One TLS connection, client or server side, with no socket of its own."""

    def __init__(
        self,
        context: SSL.Context,
        *,
        server_side: bool,
        server_hostname: str | None = None,
    ) -> None:
        self._conn = SSL.Connection(context, None)
        self._server_hostname = server_hostname
        if server_side:
            self._conn.set_accept_state()
        else:
            if server_hostname and not _is_ip(server_hostname):
                self._conn.set_tlsext_host_name(server_hostname.encode("idna"))
            self._conn.set_connect_state()
        self._handshake_done = False
        self._closed = False

    # -- bytes in and out ----------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Bytes read from the network."""
        if data:
            self._conn.bio_write(data)

    def outgoing(self) -> bytes:
        """Bytes to write to the network now (may be empty)."""
        chunks: list[bytes] = []
        while True:
            try:
                chunk = self._conn.bio_read(_WIRE_CHUNK)
            except SSL.WantReadError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    # -- TLS -------------------------------------------------------------------------------------

    @property
    def handshake_done(self) -> bool:
        return self._handshake_done

    def handshake(self) -> bool:
        """Advance the handshake; True once it is complete (then :meth:`info` is known)."""
        if self._handshake_done:
            return True
        try:
            self._conn.do_handshake()
        except SSL.WantReadError:
            return False
        except SSL.Error as exc:
            reason = _reason(exc)
            if "certificate verify failed" in reason:
                raise TlsCertificateError(f"TLS handshake failed: {reason}") from None
            raise TlsHandshakeError(f"TLS handshake failed: {reason}") from None
        self._handshake_done = True
        return True

    def verify_peer_name(self) -> None:
        """Check the server certificate names the host the client asked for (client side, after
        the handshake; the chain itself was checked by OpenSSL during it)."""
        host = self._server_hostname
        if not host:
            raise TlsHandshakeError("no server host name to verify the certificate against")
        try:
            if _is_ip(host):
                verify_ip_address(self._conn, host)
            else:
                verify_hostname(self._conn, host)
        except (service_identity.VerificationError, service_identity.CertificateError) as exc:
            error = ssl.SSLCertVerificationError(
                f"certificate verify failed: the server certificate does not name {host!r} "
                f"({type(exc).__name__})"
            )
            error.verify_message = f"certificate does not name {host!r}"
            raise error from None

    def read(self, max_bytes: int) -> bytes | None:
        """Decrypted application data (b"" when more network bytes are needed), None at the
        peer's close_notify."""
        try:
            return self._conn.recv(max_bytes)
        except SSL.WantReadError:
            return b""
        except SSL.ZeroReturnError:
            return None
        except SSL.Error as exc:
            raise TlsHandshakeError(f"TLS record failed: {_reason(exc)}") from None

    def write(self, data: bytes) -> None:
        """Encrypt application data; the records are then in :meth:`outgoing`."""
        view = memoryview(data)
        while view:
            try:
                sent = self._conn.send(view)
            except SSL.Error as exc:
                raise TlsHandshakeError(f"TLS write failed: {_reason(exc)}") from None
            view = view[sent:]

    def close_notify(self) -> None:
        """Queue the TLS close alert (once); errors are ignored, the connection is ending."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(SSL.Error):
            self._conn.shutdown()

    def info(self) -> TlsInfo:
        """What was negotiated (fields None before the handshake)."""
        if not self._handshake_done:
            return TlsInfo(None, None, None, None, None)
        peer = self._conn.get_peer_certificate(as_cryptography=True)
        alpn = self._conn.get_alpn_proto_negotiated()
        return TlsInfo(
            version=self._conn.get_protocol_version_name(),
            group=self._conn.get_group_name(),
            cipher=self._conn.get_cipher_name(),
            alpn=alpn.decode("ascii") if alpn else None,
            peer_cert_der=peer.public_bytes(Encoding.DER) if peer is not None else None,
        )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _reason(exc: SSL.Error) -> str:
    """OpenSSL's reason strings (``certificate verify failed`` ...), never any payload."""
    reasons: list[str] = []
    for entry in exc.args[0] if exc.args and isinstance(exc.args[0], list) else []:
        if isinstance(entry, tuple) and entry:
            reasons.append(str(entry[-1]))
    return ", ".join(reasons) or type(exc).__name__
