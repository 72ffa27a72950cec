"""A warning when a hybrid-CAK link's CAK is about to cross a classical management session.

``key_derivation: hybrid`` keeps the CAK from anyone who holds only the QKD key, but the CAK
itself reaches the routers over SSH (NETCONF) or TLS (NX-API): a classical session (accepted
under ``pq-preferred`` or ``any``) recorded today gives it away to a future quantum computer.
The posture is measured per session; this observer names the hybrid links it concerns, once
per router and run. Each device hop is judged by the policy of its kind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from qkd_macsec.engine.topology import LinkSpec
from qkd_macsec.macsec import KeyDerivation
from qkd_macsec.obs.logging import get_logger
from qkd_macsec.posture import HopPosture, PqPolicy, TransportPolicy

log = get_logger("engine.hybrid")


class HybridHopFlag:
    """Passes every device posture on to ``then`` and warns about a classical session to a
    hybrid link's end. ``policy``: the transport policy (a bare :class:`PqPolicy` is the SSH
    policy, every other kind at its default)."""

    def __init__(
        self,
        links: Sequence[LinkSpec],
        policy: TransportPolicy | PqPolicy,
        then: Callable[[HopPosture], None],
    ) -> None:
        self._hybrid: dict[str, list[str]] = {}
        for link in links:
            if link.key_derivation is KeyDerivation.HYBRID:
                for device in link.devices:
                    self._hybrid.setdefault(device, []).append(link.name)
        self._policy = (
            policy if isinstance(policy, TransportPolicy) else TransportPolicy(ssh=policy)
        )
        self._then = then
        self._flagged: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, posture: HopPosture) -> None:
        self._then(posture)
        if posture.pq or self._policy.for_kind(posture.kind) is PqPolicy.REQUIRED:
            return  # under pq-required a classical session is refused before any key
        device = posture.peer.split(" ", 1)[0]
        links = self._hybrid.get(device)
        with self._lock:
            if not links or device in self._flagged:
                return
            self._flagged.add(device)
        log.warning(
            "%s: %s is classical (%s) but link(s) %s use key_derivation hybrid: their CAK "
            "crosses this session; set policy.transport.%s: pq-required",
            device,
            posture.kind.upper(),
            posture.kex or "unknown key exchange",
            ", ".join(sorted(links)),
            posture.kind,
            extra={"device": device},
        )
