"""What one hybrid-TLS connection negotiated, as a hop posture, and the step every client
stream takes between the handshake and its first request byte.

One copy for both HTTP clients on :mod:`.engine`: the ETSI 014 client (async httpcore,
``etsi014/hybrid_transport.py``) and the NX-API driver (sync httpcore, :mod:`.sync_http`).
"""

from __future__ import annotations

from collections.abc import Callable

from qkd_macsec.hybrid_tls.engine import TlsEngine, TlsInfo
from qkd_macsec.posture import HopPosture

HandshakeHook = Callable[[HopPosture], None]


def tls_posture(peer: str, info: TlsInfo) -> HopPosture:
    """The posture of one connection: its group is the key exchange."""
    return HopPosture(
        kind="tls", peer=peer, kex=info.group, cipher=info.cipher, version=info.version
    )


def settle_handshake(
    engine: TlsEngine, *, verify: bool, peer: str, on_handshake: HandshakeHook | None
) -> HopPosture:
    """After a completed client handshake: the host name checked (``verify``; the chain was
    checked by OpenSSL during the handshake), the posture measured and handed to
    ``on_handshake``, which refuses the connection by raising. Raises :class:`ssl.SSLError`
    for a certificate that does not name the host. Nothing has been sent on the connection
    but the handshake."""
    if verify:
        engine.verify_peer_name()
    posture = tls_posture(peer, engine.info())
    if on_handshake is not None:
        on_handshake(posture)
    return posture
