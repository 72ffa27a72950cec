"""Quantum-safe posture of each hop a key travels (KME -> controller over TLS, controller ->
router over SSH, or over TLS for NX-API): what was negotiated, and whether the operator's transport
policy accepts it.

Standard library only, imported by both the KME client and the device drivers.
"""

from qkd_macsec.posture.model import HopKind, HopPosture, is_pq_key_exchange
from qkd_macsec.posture.policy import (
    ClassicalHopRefused,
    PqPolicy,
    TransportPolicy,
    Verdict,
    judge,
)

__all__ = [
    "ClassicalHopRefused",
    "HopKind",
    "HopPosture",
    "PqPolicy",
    "TransportPolicy",
    "Verdict",
    "is_pq_key_exchange",
    "judge",
]
