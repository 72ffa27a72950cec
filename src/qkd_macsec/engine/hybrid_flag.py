"""A warning when a hybrid-CAK link's CAK is about to cross a classical SSH session.

``key_derivation: hybrid`` keeps the CAK from anyone who holds only the QKD key, but the CAK
itself reaches the routers over SSH: a classical session (accepted under ``pq-preferred`` or
``any``) recorded today gives it away to a future quantum computer. The posture is measured per
session; this observer names the hybrid links it concerns, once per router and run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from qkd_macsec.engine.topology import LinkSpec
from qkd_macsec.macsec import KeyDerivation
from qkd_macsec.obs.logging import get_logger
from qkd_macsec.posture import HopPosture, PqPolicy

log = get_logger("engine.hybrid")


class HybridHopFlag:
    """Passes every posture on to ``then`` and warns about classical SSH to a hybrid link's end."""

    def __init__(
        self, links: Sequence[LinkSpec], ssh_policy: PqPolicy, then: Callable[[HopPosture], None]
    ) -> None:
        self._hybrid: dict[str, list[str]] = {}
        for link in links:
            if link.key_derivation is KeyDerivation.HYBRID:
                for device in link.devices:
                    self._hybrid.setdefault(device, []).append(link.name)
        self._policy = ssh_policy
        self._then = then
        self._flagged: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, posture: HopPosture) -> None:
        self._then(posture)
        if posture.kind != "ssh" or posture.pq or self._policy is PqPolicy.REQUIRED:
            return  # under pq-required a classical session is refused before any key
        device = posture.peer.split(" ", 1)[0]
        links = self._hybrid.get(device)
        with self._lock:
            if not links or device in self._flagged:
                return
            self._flagged.add(device)
        log.warning(
            "%s: SSH is classical (%s) but link(s) %s use key_derivation hybrid: their CAK "
            "crosses this session; set policy.transport.ssh: pq-required",
            device,
            posture.kex or "unknown key exchange",
            ", ".join(sorted(links)),
            extra={"device": device},
        )
