"""Hybrid post-quantum TLS (X25519MLKEM768) on the OpenSSL that ``cryptography`` ships.

This runtime's :mod:`ssl` is linked to an OpenSSL without ML-KEM groups; pyOpenSSL binds the
OpenSSL bundled in the ``cryptography`` wheel (>= 3.5, X25519MLKEM768 in its default groups).
:mod:`.engine` runs that TLS over memory buffers (sans-IO), so the ETSI 014 client (an httpcore
network backend) and the embedded KME (an asyncio protocol in front of uvicorn) can both use it
with their own I/O; :mod:`.sync_http` gives the synchronous httpx client (the NX-API driver)
the same TLS. Verification is unchanged: chain by OpenSSL, host name by
``service_identity``.
"""

from qkd_macsec.hybrid_tls.context import (
    TlsFiles,
    TlsSetupError,
    anonymous_client_context,
    client_context,
    hybrid_tls_available,
    library_openssl_version,
    server_context,
)
from qkd_macsec.hybrid_tls.engine import TlsCertificateError, TlsEngine, TlsHandshakeError, TlsInfo
from qkd_macsec.hybrid_tls.posture import HandshakeHook, settle_handshake, tls_posture

__all__ = [
    "HandshakeHook",
    "TlsCertificateError",
    "TlsEngine",
    "TlsFiles",
    "TlsHandshakeError",
    "TlsInfo",
    "TlsSetupError",
    "anonymous_client_context",
    "client_context",
    "hybrid_tls_available",
    "library_openssl_version",
    "server_context",
    "settle_handshake",
    "tls_posture",
]
