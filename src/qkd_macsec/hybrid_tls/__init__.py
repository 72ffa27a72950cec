"""Hybrid post-quantum TLS (X25519MLKEM768) on the OpenSSL that ``cryptography`` ships.

This runtime's :mod:`ssl` is linked to an OpenSSL without ML-KEM groups; pyOpenSSL binds the
OpenSSL bundled in the ``cryptography`` wheel (>= 3.5, X25519MLKEM768 in its default groups).
:mod:`.engine` runs that TLS over memory buffers (sans-IO), so the ETSI 014 client (an httpcore
network backend) and the embedded KME (an asyncio protocol in front of uvicorn) can both use it
with their own I/O. Verification is unchanged: chain by OpenSSL, host name by
``service_identity``.
"""

from qkd_macsec.hybrid_tls.context import (
    TlsFiles,
    TlsSetupError,
    client_context,
    hybrid_tls_available,
    library_openssl_version,
    server_context,
)
from qkd_macsec.hybrid_tls.engine import TlsEngine, TlsHandshakeError, TlsInfo

__all__ = [
    "TlsEngine",
    "TlsFiles",
    "TlsHandshakeError",
    "TlsInfo",
    "TlsSetupError",
    "client_context",
    "hybrid_tls_available",
    "library_openssl_version",
    "server_context",
]
