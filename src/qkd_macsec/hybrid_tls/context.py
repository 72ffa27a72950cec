"""pyOpenSSL contexts for both ends: TLS >= 1.2, AES-256-GCM first, default (hybrid) groups.

The groups are left at the library default on purpose: OpenSSL >= 3.5 offers X25519MLKEM768
first and falls back to X25519 / P-256 for a peer without it, which is what ``pq-preferred``
needs; whether the hybrid was used is read per connection (:class:`.engine.TlsInfo`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from OpenSSL import SSL

#: TLS 1.3 suites, AES-256-GCM first (CNSA 2.0), then the other two mandatory ones.
TLS13_SUITES = b"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
#: TLS 1.2 suites: forward-secret AEAD only, AES-256-GCM first.
TLS12_CIPHERS = (
    b"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    b"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
)
#: The first OpenSSL release whose default groups include X25519MLKEM768.
MIN_HYBRID_OPENSSL = (3, 5)


class TlsSetupError(ValueError):
    """A certificate, key or CA file is missing or unusable; names the file, never its content.
    ``part`` says which: ``ca`` or ``identity`` (the certificate chain and its key)."""

    def __init__(self, message: str, *, part: Literal["ca", "identity"] = "identity") -> None:
        super().__init__(message)
        self.part = part


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of one end: its certificate chain and key, and the CA its peer must chain to
    (None: the system store, client side only)."""

    cert: Path
    key: Path
    ca: Path | None


def library_openssl_version() -> tuple[int, int, int]:
    """Version of the OpenSSL pyOpenSSL is bound to (the one inside ``cryptography``)."""
    number = SSL.OPENSSL_VERSION_NUMBER  # 0xMNN00PP0L (OpenSSL >= 3)
    return (number >> 28) & 0xF, (number >> 20) & 0xFF, (number >> 4) & 0xFF


def hybrid_tls_available() -> bool:
    """pyOpenSSL's OpenSSL offers the ML-KEM hybrid groups by default."""
    return library_openssl_version()[:2] >= MIN_HYBRID_OPENSSL


def client_context(files: TlsFiles, *, verify: bool = True, http2: bool = False) -> SSL.Context:
    """A client context; with ``verify`` the peer chain is checked (the host name is checked
    after the handshake, :meth:`.engine.TlsEngine.verify_peer_name`)."""
    context = _base(SSL.TLS_CLIENT_METHOD)
    if verify:
        _verify_server(context, files.ca)
    else:
        context.set_verify(SSL.VERIFY_NONE)
    _load_identity(context, files)
    context.set_alpn_protos([b"h2", b"http/1.1"] if http2 else [b"http/1.1"])
    return context


def anonymous_client_context(ca: Path | None) -> SSL.Context:
    """A client context with no certificate of its own, for servers that authenticate the
    client by password (NX-API): the server is always verified, against ``ca`` or (None) the
    system's trust store; there is no way to turn that off."""
    context = _base(SSL.TLS_CLIENT_METHOD)
    _verify_server(context, ca)
    context.set_alpn_protos([b"http/1.1"])
    return context


def server_context(files: TlsFiles, *, client_certificates: bool = True) -> SSL.Context:
    """A server context: client certificates required and chained to ``files.ca``; without
    ``client_certificates`` none is asked for (the client authenticates by password)."""
    context = _base(SSL.TLS_SERVER_METHOD)
    if client_certificates:
        if files.ca is None:
            raise TlsSetupError(
                "a server context needs the CA client certificates chain to", part="ca"
            )
        context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
        _load_ca(context, files.ca)
    else:
        context.set_verify(SSL.VERIFY_NONE)
    _load_identity(context, files)
    context.set_options(SSL.OP_CIPHER_SERVER_PREFERENCE | SSL.OP_NO_RENEGOTIATION)
    context.set_alpn_select_callback(_select_http11)
    return context


def _base(method: int) -> SSL.Context:
    context = SSL.Context(method)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_tls13_ciphersuites(TLS13_SUITES)
    context.set_cipher_list(TLS12_CIPHERS)
    return context


def _verify_server(context: SSL.Context, ca: Path | None) -> None:
    context.set_verify(SSL.VERIFY_PEER)
    if ca is None:
        context.set_default_verify_paths()
    else:
        _load_ca(context, ca)


def _select_http11(_connection: object, offered: list[bytes]) -> bytes:
    return b"http/1.1" if b"http/1.1" in offered else b""


def _load_ca(context: SSL.Context, ca: Path) -> None:
    if not ca.is_file():
        raise TlsSetupError(f"CA bundle {ca}: no such file", part="ca")
    try:
        context.load_verify_locations(str(ca))
    except SSL.Error:
        raise TlsSetupError(f"CA bundle {ca}: not usable PEM certificates", part="ca") from None


def _load_identity(context: SSL.Context, files: TlsFiles) -> None:
    _require_file(files.cert, "certificate")
    _require_file(files.key, "key")
    try:
        context.use_certificate_chain_file(str(files.cert))
    except SSL.Error:
        raise TlsSetupError(f"certificate {files.cert}: not a usable PEM chain") from None
    try:
        key = load_pem_private_key(files.key.read_bytes(), password=None)
    except TypeError:
        raise TlsSetupError(f"key {files.key}: encrypted keys are not supported") from None
    except (ValueError, OSError):
        raise TlsSetupError(f"key {files.key}: not an unencrypted PEM private key") from None
    try:
        context.use_privatekey(key)  # type: ignore[arg-type]
        context.check_privatekey()
    except (SSL.Error, TypeError):
        raise TlsSetupError(
            f"certificate {files.cert} / key {files.key}: not a matching pair"
        ) from None


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise TlsSetupError(f"{what} {path}: no such file")
