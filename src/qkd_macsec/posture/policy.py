"""The operator's transport policy per hop kind, and the decision on one measured hop.

``pq-required`` refuses a classical session (the caller closes it before any key is sent);
``pq-preferred`` (the default) accepts it and flags it; ``any`` accepts it without a warning
(the posture still says classical).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from qkd_macsec.posture.model import HopKind, HopPosture


class PqPolicy(StrEnum):
    REQUIRED = "pq-required"
    PREFERRED = "pq-preferred"
    ANY = "any"


class Verdict(StrEnum):
    PQ = "pq"
    #: Classical, accepted under ``pq-preferred``: shown as a warning.
    FLAGGED = "classical-flagged"
    #: Classical, accepted under ``any``.
    ALLOWED = "classical-allowed"


class ClassicalHopRefused(ConnectionError):
    """A classically key-exchanged session under ``pq-required``; says which hop, what it
    negotiated and which policy refused it (no secret is part of either)."""

    def __init__(self, posture: HopPosture) -> None:
        self.posture = posture
        super().__init__(
            f"{posture.describe()}; policy.transport.{posture.kind} is pq-required: "
            "session refused before any key was sent"
        )

    def __reduce__(self) -> tuple[type[ClassicalHopRefused], tuple[HopPosture]]:
        return (type(self), (self.posture,))


@dataclass(frozen=True)
class TransportPolicy:
    """``policy.transport`` of the inventory: one :class:`PqPolicy` per hop kind."""

    ssh: PqPolicy = PqPolicy.PREFERRED
    tls: PqPolicy = PqPolicy.PREFERRED

    def for_kind(self, kind: HopKind) -> PqPolicy:
        return self.ssh if kind == "ssh" else self.tls


def judge(posture: HopPosture, policy: PqPolicy) -> Verdict:
    """The verdict on one hop; raises :class:`ClassicalHopRefused` under ``pq-required``."""
    if posture.pq:
        return Verdict.PQ
    if policy is PqPolicy.REQUIRED:
        raise ClassicalHopRefused(posture)
    return Verdict.FLAGGED if policy is PqPolicy.PREFERRED else Verdict.ALLOWED
