"""Preflight's ``transport-pq`` check: per hop measured while reading routers and KMEs, is its
key exchange post-quantum, and what does ``policy.transport`` make of it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence

from qkd_macsec.posture import HopPosture, PqPolicy, TransportPolicy
from qkd_macsec.preflight.model import Finding, Severity, Subject

CHECK = "transport-pq"


class PostureCollector:
    """Postures of the preflight's sessions (router threads and the KME loop), by the router
    or KME name the finding is about."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], HopPosture] = {}

    def reporter(self, subject: str) -> Callable[[HopPosture], None]:
        """The ``on_posture`` hook for one router's or one KME's sessions."""

        def report(posture: HopPosture) -> None:
            with self._lock:
                self._seen[(posture.kind, subject)] = posture

        return report

    def postures(self) -> list[tuple[str, HopPosture]]:
        with self._lock:
            return [(subject, self._seen[(kind, subject)]) for kind, subject in sorted(self._seen)]


def posture_findings(
    postures: Sequence[tuple[str, HopPosture]],
    policy: TransportPolicy,
    routers: Collection[str] = (),
) -> list[Finding]:
    """One finding per hop: OK when PQ (or allowed by ``any``), WARNING under pq-preferred,
    BLOCKER under pq-required. A subject in ``routers`` is a router whatever its hop kind (an
    NX-API switch's hop is TLS); otherwise SSH hops are routers' and TLS hops KMEs'."""
    findings: list[Finding] = []
    for subject, posture in postures:
        router = subject in routers or posture.kind == "ssh"
        kind = Subject.ROUTER if router else Subject.KME
        what = f"{posture.label}: kex {posture.kex or 'unknown'}, cipher {posture.cipher or '?'}"
        rule = policy.for_kind(posture.kind)
        if posture.pq:
            severity = Severity.OK
        elif rule is PqPolicy.REQUIRED:
            severity = Severity.BLOCKER
            what += f"; policy.transport.{posture.kind} is pq-required: refused"
        elif rule is PqPolicy.PREFERRED:
            severity = Severity.WARNING
            what += (
                "; a recording of this session can be decrypted by a future quantum computer "
                f"(offer an ML-KEM hybrid, or set policy.transport.{posture.kind})"
            )
        else:
            severity = Severity.OK
            what += f"; allowed by policy.transport.{posture.kind}: any"
        findings.append(Finding(kind, subject, CHECK, severity, what))
    return findings
