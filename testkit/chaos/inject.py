"""Applying and healing faults on a running testbed (routers, KMEs, QKD link pools).

Router faults go through the simulator's fault knobs: the platform-neutral ones (a refused
commit, unreachable, commit latency, clock offset) through the lab's
:class:`~qkd_macsec.sim.lab_servers.LabServer` of any platform, the Junos-only ones through
:meth:`SimDevice.set_faults` (the schedule aims them at Junos routers only); KME faults replace a
KME app's :class:`~qkd_macsec.kme.config.Faults`; QKD link faults drain a pool, slow its rate or
change the link's TTL and synchronisation delay in the shared key service. Healing restores the
values from before. The controller kill, the second controller and the journal faults are not
here: they need the controller (see ``run``).

Two v2 faults stay, like a clock skew: a router's new time zone (an operator's commit, as user
``operator``, straight on the simulated device) and the controller's clock step. The controller
runs on the host's real clock, which is also the simulator's "real time", so its clock cannot
step without stepping the simulator. What the engine can observe of such a step is only relative:
every router's clock moves against the controller's by the same amount. So a step of the
controller's clock by -d is modelled as every router's clock stepping by +d at once. Only that
direction is modelled honestly: routers stepping back would un-start their keys in the
simulator (their start-times move into the future), which a real controller step does not do.
KMEs are not moved (the ETSI 014 client reads no time from them).
"""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from dataclasses import dataclass, field

from qkd_macsec.kme.config import Faults as KmeFaults
from qkd_macsec.kme.config import LinkSpec as KmeLinkSpec
from qkd_macsec.kme.pool import KeyPool
from qkd_macsec.sim.device import DeviceOperationError, LockDenied, SimDevice
from qkd_macsec.sim.device import Faults as DeviceFaults
from qkd_macsec.sim.lab_servers import LabServer
from qkd_macsec.testbed.builder import Testbed
from testkit.chaos.faults import Fault, FaultKind

SLOW_RATE_BPS = 64.0  # a depleted pool refills this slowly: one 256-bit key every 4 s
EXPIRING_TTL_S = 0.05
EXPIRING_SYNC_MS = 300.0


@dataclass
class _Saved:
    """What a fault changed, to put back when it heals."""

    rate_bps: float | None = None
    link: KmeLinkSpec | None = None


@dataclass
class FaultInjector:
    testbed: Testbed
    client_timeout_s: float
    active: dict[int, tuple[Fault, _Saved]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next: int = 0
    #: The controller clock steps so far, as every router's offset (see the module docstring).
    controller_step_s: float = 0.0
    _skews: dict[str, float] = field(default_factory=dict)  # router -> its own clock skew

    def apply(self, fault: Fault) -> int:
        """Inject ``fault``; returns a handle for :meth:`heal`."""
        saved = _Saved()
        kind = fault.kind
        if kind in (
            FaultKind.KME_503,
            FaultKind.KME_LATENCY,
            FaultKind.KME_TIMEOUT,
            FaultKind.KME_DROP,
        ):
            self._kme_faults(fault)
        elif kind is FaultKind.POOL_DEPLETED:
            pool = self._pool(fault.target)
            saved.rate_bps = pool.rate_bps
            pool.take(pool.available_bits)  # refresh at the old rate, then empty it
            pool.rate_bps = SLOW_RATE_BPS
        elif kind in (FaultKind.KEY_EXPIRED, FaultKind.DEC_BEFORE_SYNC):
            saved.link = self._set_link(fault)
        elif kind is FaultKind.COMMIT_ERROR:
            self._server(fault).fail_commits(int(fault.value) or 1)
        elif kind is FaultKind.LOCK_HELD:
            self._device(fault).set_faults(foreign_lock_user="admin")
        elif kind is FaultKind.SESSION_DROP:
            self._device(fault).set_faults(drop_session_on=fault.detail)
        elif kind is FaultKind.RPC_TIMEOUT:
            self._device(fault).set_faults(hang_rpcs={fault.detail})
        elif kind is FaultKind.ROUTER_DOWN:
            self.testbed.lab.refuse_connections(fault.target, True)
        elif kind is FaultKind.CLOCK_SKEW:
            self._skews[fault.target] = fault.value
            self._server(fault).set_clock_offset(fault.value + self.controller_step_s)
        elif kind is FaultKind.COMMIT_LATENCY_TAIL:
            self._server(fault).set_commit_latency(fault.value)
        elif kind is FaultKind.HUNG_COMMIT:
            self._device(fault).set_faults(hang_rpcs={"commit-configuration"})
        elif kind is FaultKind.ZONE_CHANGE:
            self.testbed.lab.call(
                lambda: operator_commit(
                    self._device(fault), f"set system time-zone {fault.detail}", "time zone"
                )
            )
        elif kind is FaultKind.CONTROLLER_CLOCK_STEP:
            self.controller_step_s += fault.value
            for name in self.testbed.inventory.hosts:
                server = self.testbed.lab.server(name)
                server.set_clock_offset(self._skews.get(name, 0.0) + self.controller_step_s)
        else:
            raise ValueError(f"{kind} is not injected on the testbed")
        with self._lock:
            handle = self._next
            self._next += 1
            self.active[handle] = (fault, saved)
        return handle

    def heal(self, handle: int) -> None:
        with self._lock:
            fault, saved = self.active.pop(handle)
        kind = fault.kind
        if kind in (
            FaultKind.KME_503,
            FaultKind.KME_LATENCY,
            FaultKind.KME_TIMEOUT,
            FaultKind.KME_DROP,
        ):
            self.testbed.kmes.network.apps[fault.target].faults = KmeFaults()
        elif kind is FaultKind.POOL_DEPLETED:
            pool = self._pool(fault.target)
            pool.available_bits  # noqa: B018 - accrue at the slow rate up to now
            assert saved.rate_bps is not None
            pool.rate_bps = saved.rate_bps
        elif kind in (FaultKind.KEY_EXPIRED, FaultKind.DEC_BEFORE_SYNC):
            assert saved.link is not None
            self._replace_link(saved.link)
        elif kind in (
            FaultKind.COMMIT_ERROR,
            FaultKind.LOCK_HELD,
            FaultKind.SESSION_DROP,
            FaultKind.RPC_TIMEOUT,
            FaultKind.HUNG_COMMIT,
        ):
            self._server(fault).fail_commits(0)
            if self.testbed.lab.platform(fault.target) == "junos":
                self._device(fault).set_faults(
                    foreign_lock_user=None, drop_session_on=None, hang_rpcs=set()
                )
        elif kind is FaultKind.COMMIT_LATENCY_TAIL:
            self._server(fault).set_commit_latency(0.0)
        elif kind is FaultKind.ROUTER_DOWN:
            self.testbed.lab.refuse_connections(fault.target, False)
        # clock skew, controller clock steps and time zones stay: nobody puts them back

    def heal_all(self) -> None:
        for handle in list(self.active):
            self.heal(handle)

    def device_faults(self, fault: Fault) -> DeviceFaults | None:
        """A copy of the target router's fault knobs now (None if the target is no router).
        A router of another platform reports its refused-commit count in Junos' form (the
        only knob :func:`~testkit.chaos.observe.fired` reads of it)."""
        if fault.target not in self.testbed.inventory.hosts:
            return None
        if self.testbed.lab.platform(fault.target) != "junos":
            return DeviceFaults(failing_commits=self._server(fault).commits_to_fail())
        return copy.copy(self.testbed.lab.device(fault.target).faults)

    # -- helpers -------------------------------------------------------------------------
    def _device(self, fault: Fault) -> SimDevice:
        """The target as a simulated Junos router (Junos-only faults)."""
        return self.testbed.lab.device(fault.target)

    def _server(self, fault: Fault) -> LabServer:
        """The target router, whatever its platform."""
        return self.testbed.lab.server(fault.target)

    def _kme_faults(self, fault: Fault) -> None:
        if fault.kind is FaultKind.KME_503:
            faults = KmeFaults(error_503_rate=fault.value)
        elif fault.kind is FaultKind.KME_LATENCY:
            faults = KmeFaults(latency_ms=fault.value)
        elif fault.kind is FaultKind.KME_TIMEOUT:
            faults = KmeFaults(latency_ms=(self.client_timeout_s + 0.5) * 1000)
        else:
            faults = KmeFaults(drop_rate=fault.value)
        self.testbed.kmes.network.apps[fault.target].faults = faults

    def _pair(self, target: str) -> tuple[str, str]:
        a, _, b = target.partition("+")
        return a, b or a

    def _pool(self, target: str) -> KeyPool:
        return self.testbed.kmes.network.service.pool(*self._pair(target))

    def _set_link(self, fault: Fault) -> KmeLinkSpec:
        service = self.testbed.kmes.network.service
        link = service.spec.link(*self._pair(fault.target))
        if link is None:
            raise ValueError(f"no QKD link {fault.target}")
        if fault.kind is FaultKind.KEY_EXPIRED:
            changed = link.model_copy(
                update={"key_ttl_s": EXPIRING_TTL_S, "sync_delay_ms": EXPIRING_SYNC_MS}
            )
        else:
            changed = link.model_copy(update={"sync_delay_ms": fault.value})
        self._replace_link(changed)
        return link

    def _replace_link(self, link: KmeLinkSpec) -> None:
        service = self.testbed.kmes.network.service
        wanted = set(link.kmes)
        links = [link if set(old.kmes) == wanted else old for old in service.spec.links]
        service.spec = service.spec.model_copy(update={"links": links})


OPERATOR = "operator"
OPERATOR_PATIENCE_S = 60.0  # longer than any commit the chaos run slows down


async def operator_commit(device: SimDevice, set_lines: str, comment: str) -> None:
    """Someone else commits on a router (its own session, lock and commit), as an operator at
    the console would; runs on the lab's loop. Raises if the router refuses (the campaign's
    record of the router's state would be wrong)."""
    session = device.open_session(OPERATOR, "console", lambda: None)
    deadline = time.monotonic() + OPERATOR_PATIENCE_S
    try:
        while True:  # a commit that outlived its session may still hold the lock: retry
            try:
                device.lock(session)
                break
            except (LockDenied, DeviceOperationError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        with device.editing(session) as candidate:
            candidate.load_set(set_lines)
        await device.commit(session, comment=f"{OPERATOR}: {comment}")
        device.unlock(session)
    finally:
        device.close_session(session)
