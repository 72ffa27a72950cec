"""Did an injected fault show in what the run itself reports? (pure)

KME faults are seen in the ETSI 014 client's request records (status, error class, duration);
router faults in the wave result: the device's error, or a rotation error naming the device, or
the clock offset the session measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from qkd_macsec.engine.results import WaveResult
from qkd_macsec.etsi014.client import RequestRecord
from qkd_macsec.sim.device import Faults as DeviceFaults
from testkit.chaos.faults import Fault, FaultKind

#: A measured offset this close to the injected one counts as seen: Junos reports its clock in
#: whole seconds, so one session's measurement is off by up to a second.
CLOCK_MATCH_S = 1.05

_DEVICE_PATTERNS: dict[FaultKind, tuple[str, ...]] = {
    #: Junos' simulated failure; IOS XR's refused commit (sim/iosxr/device.py).
    FaultKind.COMMIT_ERROR: ("simulated commit failure", "'sysdb' detected the 'fatal'"),
    FaultKind.LOCK_HELD: ("lock",),
    FaultKind.SESSION_DROP: ("session lost", "lost", "closed", "not open"),
    FaultKind.RPC_TIMEOUT: ("no reply within",),
    FaultKind.ROUTER_DOWN: ("refused", "timed out", "unreachable"),
}
#: How a commit that did not answer in time is reported: the RPC timeout, the session's
#: deadline, or (deadline-true staging) no answer by / a return after the decision instant
#: (IOS XR's driver says "no reply in time" where PyEZ's says "no reply within").
_SLOW = ("no reply within", "deadline passed", "decision instant", "no reply in time")
#: A commit this much slower than usual counts as the injected latency (sessions add a little).
LATENCY_MATCH = 0.8
#: A start-time read on the router this close to the wave's activation instant is the one the
#: controller meant (Junos start-times have whole seconds).
START_MATCH_S = 1.5


def request_outcome(record: RequestRecord) -> str:
    """A short label for the table: ``ok`` or the client's error class."""
    return "ok" if record.error is None else record.error


def kme_evidence(fault: Fault, records: Sequence[RequestRecord], result: WaveResult) -> bool:
    kind = fault.kind
    if kind is FaultKind.KME_503:
        return any(r.status == 503 and r.error == "KmeUnavailableError" for r in records)
    if kind is FaultKind.KME_LATENCY:
        return any(r.seconds >= 0.9 * fault.value / 1000 for r in records)
    if kind is FaultKind.KME_TIMEOUT:
        return any(r.error == "KmeTimeoutError" for r in records)
    if kind is FaultKind.KME_DROP:
        return any(r.status is None and r.error == "KmeTransportError" for r in records)
    if kind is FaultKind.POOL_DEPLETED:
        return any(r.error == "KeyPoolExhaustedError" for r in records)
    if kind is FaultKind.KEY_EXPIRED:
        # The ETSI dialect answers an expired key like an unknown one: dec_keys gives up.
        gave_up = ("KeyExpiredError", "KeyNotFoundError")
        return any(
            r.error is not None and any(g in r.error for g in gave_up)
            for r in result.rotations.values()
        )
    if kind is FaultKind.DEC_BEFORE_SYNC:
        return any(r.endpoint == "dec_keys" and r.error == "KeyNotFoundError" for r in records)
    return False


def device_evidence(
    fault: Fault,
    result: WaveResult,
    offsets: Mapping[str, float] | None = None,
    timeout_s: float = 0.0,
    reads: Sequence[str] = (),
) -> bool:
    """``offsets``: every router's true clock offset now (the simulator's); ``timeout_s``: the
    NETCONF RPC timeout (a commit slower than it cannot succeed); ``reads``: what the wave's
    reconciliation logged about routers it could not read (it keeps the journal's key and goes
    on, so the wave result does not say)."""
    device = result.devices.get(fault.target)
    offsets = offsets or {}
    if fault.kind is FaultKind.CLOCK_SKEW:
        return (
            device is not None
            and device.ok
            and abs(device.clock_offset - offsets.get(fault.target, fault.value)) <= CLOCK_MATCH_S
        )
    if fault.kind is FaultKind.CONTROLLER_CLOCK_STEP:
        measured = [(n, d.clock_offset) for n, d in result.devices.items() if d.ok]
        return bool(measured) and all(
            abs(offset - offsets.get(name, 0.0)) <= CLOCK_MATCH_S for name, offset in measured
        )
    if fault.kind is FaultKind.COMMIT_LATENCY_TAIL:
        if device is None:
            return False
        if device.ok:
            return device.commits > 0 and device.commit_seconds >= LATENCY_MATCH * fault.value
        # Cut by the RPC timeout or by the wave's decision instant (deadline-true staging).
        texts = [device.error or ""]
        texts += [r.error for r in result.rotations.values() if r.error and fault.target in r.error]
        return any(p in text for text in texts for p in _SLOW)
    texts = [device.error] if device is not None and device.error else []
    texts += [r.error for r in result.rotations.values() if r.error and fault.target in r.error]
    names = (f"({fault.target}: ", f"; {fault.target}: ", f"read {fault.target}: ")
    texts += [text for text in reads if any(n in text for n in names)]
    if fault.kind is FaultKind.HUNG_COMMIT:
        return any(p in t for t in texts for p in _SLOW)
    patterns = _DEVICE_PATTERNS.get(fault.kind)
    if patterns is None:
        return False
    if fault.kind in (FaultKind.SESSION_DROP, FaultKind.RPC_TIMEOUT):
        return bool(texts)  # the session may die in staging, undo or verify: any report counts
    return any(p in text for text in texts for p in patterns)


#: For each link: the master's KME and the slaves' KMEs (which KMEs its key step asks).
LinkKmes = dict[str, tuple[str, frozenset[str]]]

_PROBABILISTIC = (FaultKind.KME_503, FaultKind.KME_DROP)  # act on a random share of requests
_ON_PAIRS = (FaultKind.POOL_DEPLETED, FaultKind.KEY_EXPIRED, FaultKind.DEC_BEFORE_SYNC)


def fired(
    fault: Fault,
    result: WaveResult,
    device_faults: DeviceFaults | None,
    link_kmes: LinkKmes,
) -> bool:
    """Must the fault show in the wave's counts? (Checked only when it did not.)

    A one-shot router fault: when it was used up. A lasting one: when the router's session
    nevertheless succeeded with it in place (a session that failed for another reason masks
    it). A KME or QKD link fault: when the wave asked that KME (pair) for a key — except faults
    that hit a random share of requests, which may miss every one of them.
    """
    kind = fault.kind
    device = result.devices.get(fault.target)
    if kind is FaultKind.COMMIT_ERROR:
        return device_faults is not None and device_faults.failing_commits == 0
    if kind is FaultKind.SESSION_DROP:
        return device_faults is not None and device_faults.drop_session_on is None
    if kind in (
        FaultKind.LOCK_HELD,
        FaultKind.RPC_TIMEOUT,
        FaultKind.ROUTER_DOWN,
        FaultKind.HUNG_COMMIT,
    ):
        return fault.during_s is None and device is not None and device.ok
    if kind is FaultKind.CLOCK_SKEW:
        return device is not None and device.ok
    if kind is FaultKind.COMMIT_LATENCY_TAIL:
        # A commit went through with the latency in place (a failure elsewhere masks it).
        return device is not None and device.ok and device.commits > 0
    if kind is FaultKind.CONTROLLER_CLOCK_STEP:
        return any(d.ok for d in result.devices.values())
    if kind in _PROBABILISTIC or kind is FaultKind.CONTROLLER_KILL:
        return False
    asked = [link_kmes[name] for name in result.rotations if name in link_kmes]
    if kind in _ON_PAIRS:
        a, _, b = fault.target.partition("+")
        return any((m == a and b in s) or (m == b and a in s) for m, s in asked)
    return any(fault.target == m or fault.target in s for m, s in asked)


def zone_evidence(
    fault: Fault,
    result: WaveResult,
    router_links: Sequence[str],
    read_starts: Mapping[str, datetime],
) -> tuple[bool, bool, list[str]]:
    """A router's time zone changed before this wave: (acted, seen, mismatches).

    Acted when a rotation through the router went live; seen when, for every such rotation,
    the router reads its new entry's start-time (in its new zone, minus its clock offset) as
    the wave's activation instant. ``read_starts``: link -> that instant, real time. A start-time
    written in the old zone would be read hours off: a mismatch, named."""
    live = [
        r
        for name, r in result.rotations.items()
        if name in router_links and r.phase.value == "ACTIVE" and r.activation is not None
    ]
    mismatches = []
    for rotation in live:
        read = read_starts.get(rotation.link)
        assert rotation.activation is not None
        if read is None or abs((read - rotation.activation).total_seconds()) > START_MATCH_S:
            mismatches.append(
                f"{rotation.link} on {fault.target} ({fault.detail}): start-time read as "
                f"{read.isoformat() if read else 'missing'}, activation was "
                f"{rotation.activation.isoformat()}"
            )
    return bool(live), bool(live) and not mismatches, mismatches
