"""Which faults the chaos run injects, and when: a pure, seeded schedule.

Every wave gets a few faults; the first waves walk through every kind once (shuffled), so even a
short run tries each of them, and later waves draw kinds at random. Targets (a router, a KME, a
pair of KMEs, an RPC, a crash point) are drawn from the same RNG, so a seed reproduces the run.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    KME_503 = "kme-503"  # a KME answers a share of requests 503
    KME_LATENCY = "kme-latency"  # a KME answers slowly (below the client timeout)
    KME_TIMEOUT = "kme-timeout"  # a KME answers after the client timeout
    KME_DROP = "kme-drop"  # a KME drops a share of connections without an answer
    POOL_DEPLETED = "pool-depleted"  # a QKD link's key pool emptied, refilling slowly
    KEY_EXPIRED = "key-expired"  # keys expire before the slave fetches them
    DEC_BEFORE_SYNC = "dec-before-sync"  # dec_keys asked before the key reached the slave KME
    COMMIT_ERROR = "commit-error"  # a router refuses the next commit
    LOCK_HELD = "lock-held"  # someone else holds a router's configuration lock
    SESSION_DROP = "session-drop"  # a router drops the NETCONF session on some RPC
    RPC_TIMEOUT = "rpc-timeout"  # a router never answers some RPC
    ROUTER_DOWN = "router-down"  # a router refuses NETCONF connections for a few waves
    CLOCK_SKEW = "clock-skew"  # a router's clock is off, inside the configured tolerance
    CONTROLLER_KILL = "controller-kill"  # the controller process dies (SIGKILL / crash point)


#: RPC names as the router sees them (what PyEZ sends for each step of a session).
SESSION_RPCS = (
    "*",
    "lock-configuration",
    "load-configuration",
    "commit-configuration",
    "get-configuration",
    "get-system-uptime-information",
)
HANG_RPCS = (
    "lock-configuration",
    "load-configuration",
    "commit-configuration",
    "get-configuration",
    "get-system-uptime-information",
)
CRASH_POINTS = ("planned", "keys", "staging", "stage:", "staged")


@dataclass(frozen=True)
class Fault:
    """One injected fault. ``during_s``: injected that long after the wave starts (None: before).
    ``waves``: how many waves it lasts (router down). ``value``: kind-specific amount."""

    kind: FaultKind
    target: str  # router, KME, "KME_A+KME_B", or "" (controller)
    detail: str = ""  # RPC name, crash point or "sigkill"
    value: float = 0.0
    during_s: float | None = None
    waves: int = 1

    def describe(self) -> str:
        parts = [self.kind.value, self.target or "controller"]
        if self.detail:
            parts.append(self.detail)
        if self.value:
            parts.append(f"{self.value:g}")
        if self.during_s is not None:
            parts.append(f"+{self.during_s:.1f}s")
        return " ".join(parts)


@dataclass(frozen=True)
class LabFacts:
    """What the schedule draws targets from."""

    routers: Sequence[str]
    kmes: Sequence[str]
    kme_pairs: Sequence[tuple[str, str]]  # pairs of distinct KMEs some link crosses
    clock_tolerance_s: float


def draw_fault(kind: FaultKind, rng: random.Random, lab: LabFacts) -> Fault:
    """A fault of ``kind`` with its target and amount drawn from ``rng``."""
    router = rng.choice(list(lab.routers))
    kme = rng.choice(list(lab.kmes))
    pair = "+".join(rng.choice(list(lab.kme_pairs))) if lab.kme_pairs else kme
    match kind:
        case FaultKind.KME_503:
            return Fault(kind, kme, value=round(rng.uniform(0.4, 0.7), 2))
        case FaultKind.KME_LATENCY:
            return Fault(kind, kme, value=float(rng.randrange(200, 1500, 50)))
        case FaultKind.KME_TIMEOUT:
            return Fault(kind, kme, value=0.5)  # share of requests that stall past the timeout
        case FaultKind.KME_DROP:
            return Fault(kind, kme, value=round(rng.uniform(0.3, 0.6), 2))
        case FaultKind.POOL_DEPLETED | FaultKind.KEY_EXPIRED:
            return Fault(kind, pair)
        case FaultKind.DEC_BEFORE_SYNC:
            return Fault(kind, pair, value=float(rng.randrange(300, 2000, 100)))
        case FaultKind.COMMIT_ERROR:
            return Fault(kind, router, value=1, during_s=_maybe_during(rng))
        case FaultKind.LOCK_HELD:
            return Fault(kind, router)
        case FaultKind.SESSION_DROP:
            return Fault(kind, router, rng.choice(SESSION_RPCS), during_s=_maybe_during(rng))
        case FaultKind.RPC_TIMEOUT:
            return Fault(kind, router, rng.choice(HANG_RPCS))
        case FaultKind.ROUTER_DOWN:
            return Fault(kind, router, during_s=_maybe_during(rng), waves=rng.randint(1, 3))
        case FaultKind.CLOCK_SKEW:
            # Big enough to measure (Junos shows whole seconds), inside the tolerance.
            size = rng.uniform(0.5, 0.8) * lab.clock_tolerance_s
            return Fault(kind, router, value=round(rng.choice((-1, 1)) * size, 3))
        case FaultKind.CONTROLLER_KILL:
            if rng.random() < 0.5:
                return Fault(kind, "", "sigkill", value=round(rng.uniform(0.5, 7.0), 2))
            point = rng.choice(CRASH_POINTS)
            return Fault(kind, "", point + router if point == "stage:" else point)
    raise AssertionError(kind)


def _maybe_during(rng: random.Random) -> float | None:
    """Half of the device faults land while the wave runs, not before it."""
    return round(rng.uniform(0.0, 2.0), 2) if rng.random() < 0.5 else None


def fault_schedule(
    rng: random.Random, waves: int, lab: LabFacts, *, per_wave: tuple[int, int] = (1, 3)
) -> list[list[Fault]]:
    """Faults for each wave. Every kind appears early on (when there are waves enough); a
    controller kill is the only fault of its wave (every fourth wave), never the last wave's.
    Within a wave no two faults share a router or a KME (one would mask the other); a kind that
    finds no free target waits for the next wave."""
    coverage = coverage_pool(list(FaultKind))
    rng.shuffle(coverage)
    kill_waves = {w for w in range(waves - 1) if w % 4 == 2}
    out: list[list[Fault]] = []
    for wave in range(waves):
        if wave in kill_waves:
            out.append([draw_fault(FaultKind.CONTROLLER_KILL, rng, lab)])
            continue
        left = sum(1 for w in range(wave, waves) if w not in kill_waves)
        count = max(rng.randint(*per_wave), -(-len(coverage) // left))
        chosen: list[tuple[FaultKind, bool]] = []  # (kind, drawn from the coverage list)
        while coverage and len(chosen) < count:
            chosen.append((coverage.pop(), True))
        while len(chosen) < count:
            kind = rng.choice(coverage_pool(list(FaultKind)))
            if kind not in [k for k, _ in chosen]:
                chosen.append((kind, False))
        faults: list[Fault] = []
        taken: set[str] = set()
        for kind, required in chosen:
            fault = _free_fault(kind, rng, lab, taken)
            if fault is None:
                if required:
                    coverage.append(kind)  # try again next wave
                continue
            taken |= _targets(fault)
            faults.append(fault)
        out.append(faults)
    return out


def _targets(fault: Fault) -> set[str]:
    return {t for t in fault.target.split("+") if t}


def _free_fault(
    kind: FaultKind, rng: random.Random, lab: LabFacts, taken: set[str]
) -> Fault | None:
    for _ in range(50):
        fault = draw_fault(kind, rng, lab)
        if not _targets(fault) & taken:
            return fault
    return None


def coverage_pool(kinds: Sequence[FaultKind]) -> list[FaultKind]:
    """Every kind but the controller kill (which gets waves of its own)."""
    return [k for k in kinds if k is not FaultKind.CONTROLLER_KILL]
