"""A device session's measured posture: told to the target's ``on_posture`` and judged by the
transport policy for its hop kind, the same way for every management transport.

``policy.transport.ssh`` governs NETCONF-over-SSH sessions (``ssh_posture``: Junos, IOS XR),
``policy.transport.tls`` every TLS hop — the KMEs and the NX-API switches (``nxos``).
Under ``pq-required`` a classical session is closed and refused before any RPC; under
``pq-preferred`` it is accepted and warned about once per process and posture.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from qkd_macsec.devices.base import DeviceTarget, DeviceTransportPolicyError
from qkd_macsec.obs.logging import get_logger
from qkd_macsec.posture import ClassicalHopRefused, HopPosture, PqPolicy, Verdict, judge

__all__ = ["enforce_transport_policy", "policy_for", "report_posture"]

log = get_logger("devices.posture")
_flagged: set[str] = set()
_flagged_lock = threading.Lock()


def policy_for(posture: HopPosture, target: DeviceTarget) -> PqPolicy:
    """The target's policy for the posture's hop kind."""
    return target.ssh_policy if posture.kind == "ssh" else target.tls_policy


def report_posture(posture: HopPosture, target: DeviceTarget) -> None:
    """Tell ``target.on_posture`` (a failing hook is logged and ignored)."""
    if target.on_posture is None:
        return
    try:
        target.on_posture(posture)
    except Exception:
        log.warning("%s: on_posture hook failed; ignoring", target.name, exc_info=True)


def enforce_transport_policy(
    posture: HopPosture, target: DeviceTarget, close: Callable[[], None]
) -> None:
    """Apply the target's policy for this hop kind: under ``pq-required`` a classical session
    is closed (``close``) and :class:`DeviceTransportPolicyError` raised; under
    ``pq-preferred`` it is accepted and warned about once per process and posture."""
    try:
        verdict = judge(posture, policy_for(posture, target))
    except ClassicalHopRefused as exc:
        close()
        raise DeviceTransportPolicyError(target.name, str(exc)) from None
    if verdict is Verdict.FLAGGED and _first_flag(posture.describe()):
        log.warning("%s (policy pq-preferred: accepted, flagged)", posture.describe())


def _first_flag(what: str) -> bool:
    """A classical session is warned about once per process and device posture, not per
    session (a driver lives for one session)."""
    with _flagged_lock:
        if what in _flagged:
            return False
        _flagged.add(what)
        return True
