"""Which faults the chaos run injects, and when: a pure, seeded schedule.

Every wave gets a few faults; the first waves walk through every kind once (shuffled), so even a
short run tries each of them, and later waves draw kinds at random. Targets (a router, a KME, a
pair of KMEs, an RPC, a crash point) are drawn from the same RNG, so a seed reproduces the run.

A router fault only targets routers whose platform it makes sense on (:data:`ROUTER_KINDS`):
on-box-style Junos faults (a foreign lock, a dropped session or a hung RPC by its Junos name,
an operator's ``system time-zone``) only Junos routers; a refused commit, an unreachable router,
commit latency and a clock skew every platform. In a mixed lab the coverage walk also aims each
of a non-Junos platform's kinds at one of its routers once.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
    # Chaos v2:
    COMMIT_LATENCY_TAIL = "commit-latency-tail"  # commits take a heavy-tailed (Pareto) time
    HUNG_COMMIT = "hung-commit"  # a router never answers commit-configuration
    SECOND_CONTROLLER = "second-controller"  # another controller starts on the same journal
    JOURNAL_DELETED = "journal-deleted"  # the journal is gone when the next controller starts
    JOURNAL_RESTORED = "journal-restored"  # the journal is put back from an older copy
    ZONE_CHANGE = "zone-change"  # an operator commits a new `system time-zone` on a router
    CONTROLLER_CLOCK_STEP = "controller-clock-step"  # the controller's clock jumps
    # HA (testkit/chaos/failover.py):
    CONTROLLER_FAILOVER = "controller-failover"  # the active dies mid-wave; a standby takes over


#: Kinds that take a whole wave of their own (the controller runs as CLI processes).
CONTROLLER_WAVE_KINDS = frozenset({FaultKind.CONTROLLER_KILL, FaultKind.CONTROLLER_FAILOVER})
#: The kinds added by chaos v2 (reported in a table of their own).
V2_KINDS = (
    FaultKind.COMMIT_LATENCY_TAIL,
    FaultKind.HUNG_COMMIT,
    FaultKind.SECOND_CONTROLLER,
    FaultKind.JOURNAL_DELETED,
    FaultKind.JOURNAL_RESTORED,
    FaultKind.ZONE_CHANGE,
    FaultKind.CONTROLLER_CLOCK_STEP,
)
#: Kinds that only pass once the engine's staging is deadline-true (a commit slower than the
#: activation margin, or one that never answers, must be cut and resolved before T).
DEADLINE_KINDS = frozenset({FaultKind.COMMIT_LATENCY_TAIL, FaultKind.HUNG_COMMIT})
#: Pseudo-target of the journal faults: one of them per wave (one would mask the other).
JOURNAL = "journal"

#: Zones with no DST, west to east (UTC offset in minutes). A zone change only moves a router
#: east: Junos reads a start-time as wall-clock time in the zone, so a move west pushes every
#: start-time on the router into the future and un-starts the key in force (an outage the
#: operator causes, which no controller can prevent before it happens; see docs/reliability.md).
ZONES: tuple[tuple[str, int], ...] = (
    ("UTC", 0),
    ("Africa/Lagos", 60),
    ("Africa/Algiers", 60),  # same offset, another name
    ("Africa/Johannesburg", 120),
    ("Europe/Moscow", 180),
    ("Asia/Dubai", 240),
    ("Asia/Karachi", 300),
    ("Asia/Kolkata", 330),
    ("Asia/Kathmandu", 345),
    ("Asia/Dhaka", 360),
    ("Asia/Bangkok", 420),
    ("Asia/Shanghai", 480),
    ("Asia/Tokyo", 540),
    ("Australia/Brisbane", 600),
    ("Pacific/Guadalcanal", 660),
    ("Pacific/Tarawa", 720),
    ("Pacific/Fakaofo", 780),
    ("Pacific/Kiritimati", 840),
    ("Etc/GMT-14", 840),  # same offset, another name (POSIX sign)
)


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

#: Router-targeted kinds every platform's simulator can take (refused commit, unreachable,
#: commit latency, clock skew); the rest of the router kinds are Junos-only.
PORTABLE_ROUTER_KINDS = frozenset(
    {
        FaultKind.COMMIT_ERROR,
        FaultKind.ROUTER_DOWN,
        FaultKind.COMMIT_LATENCY_TAIL,
        FaultKind.CLOCK_SKEW,
    }
)
#: Router-targeted kinds, per platform.
ROUTER_KINDS: dict[str, frozenset[FaultKind]] = {
    "junos": frozenset(
        {
            *PORTABLE_ROUTER_KINDS,
            FaultKind.LOCK_HELD,
            FaultKind.SESSION_DROP,
            FaultKind.RPC_TIMEOUT,
            FaultKind.HUNG_COMMIT,
            FaultKind.ZONE_CHANGE,
        }
    ),
    "iosxr": PORTABLE_ROUTER_KINDS,
}
ALL_ROUTER_KINDS = ROUTER_KINDS["junos"]


def platform_allows(platform: str, kind: FaultKind) -> bool:
    """May ``kind`` target a router of ``platform``? (Non-router kinds: always.)"""
    if kind not in ALL_ROUTER_KINDS:
        return True
    return kind in ROUTER_KINDS.get(platform, PORTABLE_ROUTER_KINDS)


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
    device_timeout_s: float = 6.0  # the NETCONF RPC timeout
    #: About the activation delay a wave gets (minimum delay + clock tolerance): a commit
    #: slower than this lands after the other ends' start-time.
    activation_margin_s: float = 5.0
    #: router -> platform (a router not named is Junos).
    platforms: Mapping[str, str] = field(default_factory=dict)

    def platform(self, router: str) -> str:
        return self.platforms.get(router, "junos")

    def routers_for(self, kind: FaultKind, platform: str | None = None) -> list[str]:
        """The routers ``kind`` may target (only ``platform``'s when given)."""
        return [
            r
            for r in self.routers
            if platform_allows(self.platform(r), kind)
            and (platform is None or self.platform(r) == platform)
        ]


@dataclass
class ScheduleState:
    """What earlier faults changed that later draws depend on (the schedule stays pure)."""

    zones: dict[str, int] = field(default_factory=dict)  # router -> index in ZONES
    tail_drawn: bool = False  # a commit latency beyond the margin was drawn


def draw_fault(
    kind: FaultKind,
    rng: random.Random,
    lab: LabFacts,
    state: ScheduleState | None = None,
    platform: str | None = None,
) -> Fault:
    """A fault of ``kind`` with its target and amount drawn from ``rng``. ``state`` carries
    what earlier faults of the schedule changed (a router's time zone); it is not updated here.
    A router target is one the kind makes sense on (of ``platform`` when given)."""
    state = state or ScheduleState()
    router = rng.choice(lab.routers_for(kind, platform) or list(lab.routers))
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
        case FaultKind.COMMIT_LATENCY_TAIL:
            if not state.tail_drawn:
                # The first of a schedule is from the tail, and answers: late, not hung.
                late = rng.uniform(lab.activation_margin_s, lab.device_timeout_s)
                return Fault(kind, router, value=round(late, 2))
            return Fault(kind, router, value=_pareto_latency(rng, lab))
        case FaultKind.HUNG_COMMIT:
            # Always before the wave: the asyncio path commits within ~0.5 s of the wave's
            # start, so a hang injected up to 2 s into it mostly came after the commit and
            # never acted (in-flight slowness is commit-latency-tail's). The draw is kept so
            # the rest of a seed's schedule stays the same.
            _maybe_during(rng)
            return Fault(kind, router, "commit-configuration")
        case FaultKind.SECOND_CONTROLLER:
            how = rng.choice(("in-process", "cli"))
            return Fault(kind, "", how, during_s=_maybe_during(rng))
        case FaultKind.JOURNAL_DELETED:
            return Fault(kind, JOURNAL, rng.choice(("journal", "journal+lock")))
        case FaultKind.JOURNAL_RESTORED:
            # A copy taken between two waves or in the middle of one (open rotations in it).
            return Fault(kind, JOURNAL, rng.choice(("between", "mid-wave")), rng.randint(1, 3))
        case FaultKind.ZONE_CHANGE:
            index = state.zones.get(router, 0)
            offset = ZONES[index][1]
            east = [i for i, (_, o) in enumerate(ZONES) if o > offset][:3]
            same = [i for i, (_, o) in enumerate(ZONES) if o == offset and i != index]
            choice = rng.choice(east) if east else rng.choice(same)
            return Fault(kind, router, ZONES[choice][0], value=ZONES[choice][1])
        case FaultKind.CONTROLLER_FAILOVER:
            return Fault(kind, "", "sigkill", value=round(rng.uniform(0.5, 5.0), 2))
        case FaultKind.CONTROLLER_CLOCK_STEP:
            # Log-uniform, 2 s to 1 h. Modelled as every router's clock stepping FORWARD by the
            # same amount at once (see inject.py): the controller's clock stepped back.
            return Fault(kind, "", value=round(2.0 * (1800.0 ** rng.random()), 2))
    raise AssertionError(kind)


#: Pareto shape of the commit latency tail: a few commits take many times the median.
PARETO_ALPHA = 1.3


def _pareto_latency(rng: random.Random, lab: LabFacts) -> float:
    """Seconds a router's commits take: Pareto from a third of the activation margin, cut at
    twice the RPC timeout (past it every commit is a hung one). About a quarter exceed the
    margin, one in twenty the timeout."""
    scale = lab.activation_margin_s / 3
    return round(min(scale * rng.paretovariate(PARETO_ALPHA), 2 * lab.device_timeout_s), 2)


def _maybe_during(rng: random.Random) -> float | None:
    """Half of the device faults land while the wave runs, not before it."""
    return round(rng.uniform(0.0, 2.0), 2) if rng.random() < 0.5 else None


def fault_schedule(
    rng: random.Random,
    waves: int,
    lab: LabFacts,
    *,
    per_wave: tuple[int, int] = (1, 3),
    kinds: Sequence[FaultKind] | None = None,
) -> list[list[Fault]]:
    """Faults for each wave. Every kind appears early on (when there are waves enough); a
    controller kill is the only fault of its wave (every fourth wave), never the last wave's.
    Within a wave no two faults share a router or a KME (one would mask the other), nor the
    journal, and no fault aims at a router still down from an earlier wave; a kind that finds
    no free target waits for the next wave. ``kinds``: only these
    (default all)."""
    allowed = list(FaultKind) if kinds is None else [k for k in FaultKind if k in kinds]
    state = ScheduleState()
    coverage: list[tuple[FaultKind, str | None]] = [(k, None) for k in coverage_pool(allowed)]
    rng.shuffle(coverage)
    others = sorted({lab.platform(r) for r in lab.routers} - {"junos"})
    aimed: list[tuple[FaultKind, str | None]] = [
        (k, platform)
        for platform in others
        for k in coverage_pool(allowed)
        if k in ALL_ROUTER_KINDS and platform_allows(platform, k)
    ]
    rng.shuffle(aimed)  # (no draw at all in a Junos-only lab: its schedule is unchanged)
    coverage += aimed  # popped first: a platform's few routers take one such fault a wave
    kills = FaultKind.CONTROLLER_KILL in allowed
    failovers = FaultKind.CONTROLLER_FAILOVER in allowed
    kill_waves = {w for w in range(waves - 1) if w % 4 == 2} if kills or failovers else set()
    out: list[list[Fault]] = []
    down: dict[str, int] = {}  # router -> later waves it stays down (a lasting router-down)
    for wave in range(waves):
        if wave in kill_waves:  # every second one a failover, where both kinds are allowed
            failover = failovers and (not kills or (wave // 4) % 2 == 1)
            kind = FaultKind.CONTROLLER_FAILOVER if failover else FaultKind.CONTROLLER_KILL
            out.append([draw_fault(kind, rng, lab, state)])
            continue
        left = sum(1 for w in range(wave, waves) if w not in kill_waves)
        count = max(rng.randint(*per_wave), -(-len(coverage) // left))
        count = min(count, len(coverage_pool(allowed)))
        #: (kind, the platform its router must be of, drawn from the coverage list)
        chosen: list[tuple[FaultKind, str | None, bool]] = []
        deferred: list[tuple[FaultKind, str | None]] = []
        while coverage and len(chosen) < count:
            kind, platform = coverage.pop()
            if platform is not None and (
                platform in {p for _, p, _ in chosen}  # its routers may be few: one a wave
                or not [r for r in lab.routers_for(kind, platform) if r not in down]
            ):
                deferred.append((kind, platform))
                continue
            chosen.append((kind, platform, True))
        coverage.extend(reversed(deferred))  # first in line next wave
        while len(chosen) < count:
            kind = rng.choice(coverage_pool(allowed))
            if kind not in [k for k, _, _ in chosen]:
                chosen.append((kind, None, False))
        faults: list[Fault] = []
        taken: set[str] = set(down)  # a router still down would mask any fault aimed at it
        down = {r: n - 1 for r, n in down.items() if n > 1}
        for kind, platform, required in chosen:
            fault = _free_fault(kind, rng, lab, taken, state, platform)
            if fault is None:
                if required:
                    coverage.append((kind, platform))  # try again next wave
                continue
            taken |= _targets(fault)
            faults.append(fault)
            if fault.kind is FaultKind.COMMIT_LATENCY_TAIL:
                state.tail_drawn = True
            if fault.kind is FaultKind.ZONE_CHANGE:
                state.zones[fault.target] = [n for n, _ in ZONES].index(fault.detail)
            if fault.kind is FaultKind.ROUTER_DOWN and fault.waves > 1:
                down[fault.target] = fault.waves - 1
        out.append(faults)
    return out


def _targets(fault: Fault) -> set[str]:
    return {t for t in fault.target.split("+") if t}


def _free_fault(
    kind: FaultKind,
    rng: random.Random,
    lab: LabFacts,
    taken: set[str],
    state: ScheduleState,
    platform: str | None = None,
) -> Fault | None:
    for _ in range(50):
        fault = draw_fault(kind, rng, lab, state, platform)
        if not _targets(fault) & taken:
            return fault
    return None


def coverage_pool(kinds: Sequence[FaultKind]) -> list[FaultKind]:
    """Every kind but the controller kill and failover (which get waves of their own)."""
    return [k for k in kinds if k not in CONTROLLER_WAVE_KINDS]
