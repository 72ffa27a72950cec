"""What a chaos run measured, and the ``docs/reliability.md`` table made from it (pure)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from testkit.chaos.faults import V2_KINDS, FaultKind

#: What each fault kind does, and what the run counts as seeing it (for the table).
DESCRIPTIONS: dict[FaultKind, tuple[str, str]] = {
    FaultKind.KME_503: ("a KME answers 40-70 % of requests 503", "HTTP 503 answers"),
    FaultKind.KME_LATENCY: ("a KME answers 0.2-1.5 s late", "slow KME answers"),
    FaultKind.KME_TIMEOUT: ("a KME answers after the client timeout", "client timeouts"),
    FaultKind.KME_DROP: ("a KME drops 30-60 % of connections", "dropped connections"),
    FaultKind.POOL_DEPLETED: ("a QKD link's key pool emptied, slow refill", "pool exhausted"),
    FaultKind.KEY_EXPIRED: ("keys expire (TTL 50 ms) before dec_keys", "key expired answers"),
    FaultKind.DEC_BEFORE_SYNC: ("key reaches the slave KME 0.3-2 s late", "dec_keys not yet"),
    FaultKind.COMMIT_ERROR: ("a router refuses the next commit", "commit errors reported"),
    FaultKind.LOCK_HELD: ("another user holds a router's config lock", "lock refusals reported"),
    FaultKind.SESSION_DROP: ("a router drops the NETCONF session on an RPC", "sessions lost"),
    FaultKind.RPC_TIMEOUT: ("a router never answers an RPC", "RPC timeouts reported"),
    FaultKind.ROUTER_DOWN: ("a router refuses NETCONF for 1-3 waves", "unreachable reported"),
    FaultKind.CLOCK_SKEW: ("a router clock off by 0.5-0.8 x tolerance", "offsets measured"),
    FaultKind.CONTROLLER_KILL: ("controller SIGKILLed / crashed mid-wave", "crashes recovered"),
    FaultKind.CONTROLLER_FAILOVER: (
        "the active controller SIGKILLed mid-wave while a standby waits on the lease",
        "standby took over within 15 s and finished",
    ),
    FaultKind.COMMIT_LATENCY_TAIL: (
        "a router's commits take a Pareto-distributed time (a quarter beyond the ~5 s "
        "activation margin, capped at twice the 6 s RPC timeout; the first one of a run late "
        "but answering)",
        "slow commits / RPC timeouts reported",
    ),
    FaultKind.HUNG_COMMIT: (
        "a router never answers commit-configuration",
        "commit timeouts reported",
    ),
    FaultKind.SECOND_CONTROLLER: (
        "a second controller (in-process or the CLI) starts while the first holds the journal",
        "refused (LeaseHeldError / exit 4), nothing changed",
    ),
    FaultKind.JOURNAL_DELETED: (
        "the journal (and half the time its lock file) is deleted between waves",
        "next controller adopted the routers' keys",
    ),
    FaultKind.JOURNAL_RESTORED: (
        "the journal is put back from a copy 1-3 waves old (taken between waves or mid-wave)",
        "adopted / open rotations recovered",
    ),
    FaultKind.ZONE_CHANGE: (
        "an operator commits a new `system time-zone` (eastward) on a router between waves",
        "new start-times read in the new zone as T",
    ),
    FaultKind.CONTROLLER_CLOCK_STEP: (
        "the controller's clock steps back 2 s-1 h (every router's offset +step at once)",
        "offsets measured on every router",
    ),
}


@dataclass
class FaultStat:
    injected: int = 0
    fired: int = 0  # injections that got a chance to act (see observe.fired)
    observed: int = 0  # injections whose effect the run's own reports show
    rotations: int = 0  # rotations attempted in the waves this kind was active
    rotated: int = 0  # ... of which ended live on the new key
    aborted: int = 0  # ... of which were undone (the link stayed on its key)


@dataclass
class PairStat:
    """Links of one platform pair (``junos-iosxr``): what their rotations did, their end state.
    Kill waves run the CLI (counted from the journal as a whole), so they are not in here."""

    links: int = 0
    rotations: int = 0
    rotated: int = 0
    aborted: int = 0
    live_shared: int = 0  # links live on a key both ends share, at the end
    max_outage_s: float = 0.0


@dataclass
class ChaosReport:
    seed: int
    routers: int
    links: int
    group_links: int
    waves: int = 0
    rotations: int = 0  # attempted (journal rows opened), bootstrap excluded
    rotated: int = 0  # ACTIVE
    aborted: int = 0  # ABORTED (undone cleanly; the link stayed on its key)
    verify_late: int = 0  # ACTIVE but the MKA check timed out (a router unreachable)
    recovered: int = 0  # open rotations finished or undone after a controller crash
    seconds: float = 0.0
    faults: dict[str, FaultStat] = field(default_factory=dict)
    kme_requests: dict[str, int] = field(default_factory=dict)  # outcome -> count
    links_live_shared: int = 0
    max_outage_s: float = 0.0
    open_rotations: int = 0
    canary_values: int = 0
    canary_files: int = 0
    canary_hits: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    adoptions: dict[str, int] = field(default_factory=dict)  # verdict after a journal fault
    lease_refusals: int = 0  # second controllers refused
    failover_s: list[float] = field(default_factory=list)  # SIGKILL -> the standby's lease
    journal: str = "sqlite"  # the run's journal backend
    late_ends: int = 0  # rotations with a late end resolved (deadline-true staging notes)
    late_restaged: int = 0  # ... of which went live (the peers got the entry back)
    excluded: dict[str, str] = field(default_factory=dict)  # kind -> why it was not injected
    platforms: dict[str, int] = field(default_factory=dict)  # platform -> routers
    pairs: dict[str, PairStat] = field(default_factory=dict)  # "junos-iosxr" -> its links

    def stat(self, kind: FaultKind) -> FaultStat:
        return self.faults.setdefault(kind.value, FaultStat())

    def pair(self, name: str) -> PairStat:
        return self.pairs.setdefault(name, PairStat())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChaosReport:
        """The report back from :meth:`to_json` (to re-render a saved run's table)."""
        faults = {kind: FaultStat(**stat) for kind, stat in data.get("faults", {}).items()}
        pairs = {name: PairStat(**stat) for name, stat in data.get("pairs", {}).items()}
        return cls(**{**data, "faults": faults, "pairs": pairs})


#: Bugs the campaign found, each fixed in the code with a test that fails without the fix.
FINDINGS = (
    "A lock RPC that never answers was reported as *configuration lock refused* (PyEZ re-raises "
    "the timeout as `LockError`): now *lock: no reply within N s* "
    "(`devices/junos.py`; `tests/chaos/test_fault_reports.py`).",
    "A diverged pre-shared-key link (one end took the new CAK, the other failed) was retried "
    "only after the normal 30 s back-off, when MKA had already dropped the preceding key: the "
    "planner now re-keys it within 5 s (`engine/planner.py`, `engine/executor.py`; "
    "`tests/chaos/test_psk_divergence.py`).",
    "A router clock stepping back (inside the tolerance) just after a link's first key started "
    "un-started it: with no older key to fall back on, every link of that router went down "
    "until the clock caught up (0.2 s in the chaos run). The first key now starts "
    "`clock_tolerance` early (`engine/executor.py`; `tests/chaos/test_clock_step.py`).",
    "After a rollover the rotating log file was re-created with the umask (0644): every log "
    "file is now 0600 (`obs/logging.py`; `tests/security/test_log_file_modes.py`).",
    "Chaos v2 (the run's own observation, not the engine): since reconciliation reads every "
    "router before a wave, a session fault on the first RPC can hit that read-only session; "
    "the engine keeps the journal's key and goes on (right), but says so only in its log, so "
    "the 5,000-rotation run counted 3 of 6 session drops as *acted, not seen*. The run now "
    "also reads the reconciliation's *not read (router: …)* log lines "
    "(`testkit/chaos/run.py` `UnreadLog`; `tests/chaos/test_schedule.py`).",
    "Simulator: a router that was down for a while could not come back when another program "
    "had been given its port meanwhile (*address already in use*, the long run crashed); the "
    "port now stays bound, refusing connections, while the router is down "
    "(`sim/netconf/ssh.py`; `tests/chaos/test_router_down_port.py`).",
)
#: How each v2 fault is made, and what counts as seeing it (under the v2 table).
V2_NOTES = (
    "*commit-latency-tail*: the simulator's `commit_latency_s` on one router for a wave, "
    "Pareto (shape 1.3) from a third of the margin; past the 6 s RPC timeout the commit is "
    "cut by the client like a hung one. Seen: the router's commit took at least 0.8 x the "
    "latency, or its error names the RPC timeout / deadline.",
    "*hung-commit*: `hang_rpcs={commit-configuration}` on one router (before or during the "
    "wave). Seen: the router's or a rotation's error names the commit and the timeout.",
    "*second-controller*: while the run's controller holds the journal, another `Controller` "
    "is built in this process, or `qkd-macsec rotate --force` runs as a subprocess. It must "
    "fail with `LeaseHeldError` naming the holder's pid / exit 4 (*another controller holds "
    "the journal*). When started between waves it must also have changed nothing: the same "
    "commit count and last commit on every router, the same journal rows, the lease file "
    "still naming the holder and its token.",
    "*journal-deleted* / *journal-restored*: between waves the controller stops, the journal "
    "(`-wal`, `-shm`, half the time its lock file too) is deleted, or replaced by a copy "
    "taken with SQLite's online backup 1-3 waves earlier, between two waves or 1.5 s into "
    "one (open rotations in it); a new controller recovers, reconciles every link with its "
    "routers and rotates. Acted: the copy is behind the routers or left rotations open. "
    "Seen: the new controller adopted keys or closed the copy's rotations; any CONFLICT "
    "verdict is a problem.",
    "*zone-change*: an operator's commit (own session, lock, commit as user `operator`) of "
    "`system time-zone` on the simulated router between waves, always eastward (see below). "
    "Seen: for every rotation through the router that went live, the router reads the new "
    "entry's start-time, in its new zone, as the wave's activation instant (within 1.5 s); "
    "a mismatch is a problem.",
    "*controller-clock-step*: the controller runs on the host clock, which is also the "
    "simulator's real time, so it cannot step alone. The engine only sees the step relative "
    "to the routers, so a step of the controller's clock by -d is modelled as every router's "
    "clock stepping +d at once (own skews kept). Only that direction: routers stepping back "
    "would un-start their keys in the simulator, which a real controller step does not do. "
    "Seen: every reachable router's measured offset matches its true one within 1.05 s.",
)

#: What chaos v2 found that is not fixed (engine changes are the lead's to merge).
OPEN_FINDINGS = (
    "A time-zone change that moves a router WEST takes every MACsec link of that router down "
    "at once, and the controller then leaves the links alone. Junos reads a key-chain "
    "start-time as wall-clock time in the configured zone, so UTC to America/New_York moves "
    "every start-time on the router 5 h into the future: no entry is in force (the fabric "
    "measures the links down from the operator's commit on). The next wave's reconciliation "
    "calls each link a CONFLICT (*the ends run on different keys (…, mx304-12: nothing in "
    "force)*) and does not rotate it, so the outage lasts until the router's clock catches up "
    "with the old start-times (5 h) or someone intervenes. Reproduced on the seed lab (two "
    "links, both down 0.2 s after the commit and still down after the next wave). The chaos "
    "run therefore moves zones east only (start-times move into the past; harmless). A "
    "possible engine answer: when the journal's current key is on every end and merely "
    "pending on some, re-stage it there with a start-time in the past.",
)
SECURITY_CHECKS = (
    "a KME whose certificate does not verify: every rotation aborted at the key step with a TLS "
    "error naming the certificate, no router touched (`tests/security/test_refused_peers.py`);",
    "a router whose SSH host key changed: refused (*host key … has CHANGED … refusing to "
    "connect*), its links undone on the other ends, no outage (same file);",
    "no secret in the argv of any process the CLI starts (an audit hook records every spawn), "
    "every file it writes (journal, log, trace) is 0600, and a canary scan of its stdout, "
    "stderr, log, trace and journal finds no password, CAK or private key "
    "(`tests/security/test_cli_run_secrets.py`);",
    "the same canary scan over every log (all levels), trace, per-wave log, CLI output and "
    "the journal of this chaos run: see the table above;",
    "malformed KME replies (garbage bytes or JSON, wrong key IDs, short keys, a different key "
    "for the slave, error statuses) abort the key step with no router contacted, and malformed "
    "NETCONF replies to every read raise a clear reply error and abort only the links through "
    "that router, undone on the other ends (hypothesis, `tests/unit/badinput/`).",
)


_HEADER = (
    "| fault | what is injected | injected | acted | seen in the run's counts | rotations "
    "in those waves | rotated | undone cleanly |",
    "|---|---|---:|---:|---|---:|---:|---:|",
)


def _rows(report: ChaosReport, kinds: list[FaultKind]) -> list[str]:
    rows = []
    for kind in kinds:
        stat = report.faults.get(kind.value, FaultStat())
        what, seen = DESCRIPTIONS[kind]
        if kind.value in report.excluded:
            rows.append(
                f"| {kind.value} | {what} | not injected: {report.excluded[kind.value]} | | | | | |"
            )
            continue
        rows.append(
            f"| {kind.value} | {what} | {stat.injected} | {stat.fired} | "
            f"{stat.observed} ({seen}) | {stat.rotations} | {stat.rotated} | {stat.aborted} |"
        )
    return rows


def _routers_text(report: ChaosReport) -> str:
    """``16 simulated routers (15 Junos, 1 IOS XR)``; a run without platform counts: Junos."""
    names = {"junos": "Junos", "iosxr": "IOS XR"}
    if not report.platforms or set(report.platforms) == {"junos"}:
        return f"{report.routers} simulated Junos routers"
    parts = [f"{n} {names.get(p, p)}" for p, n in sorted(report.platforms.items())]
    return f"{report.routers} simulated routers ({', '.join(parts)})"


def _pair_rows(report: ChaosReport) -> list[str]:
    if not report.pairs:
        return []
    rows = [
        "",
        "### By platform pair",
        "",
        "Each link's rotations by the platforms at its ends (Junos-only faults, e.g. a foreign "
        "lock, a dropped or hung session, a zone change, aim at Junos routers only; a refused "
        "commit, an unreachable router, commit latency and clock skew at every platform). Kill "
        "waves (the CLI) are counted in the totals only.",
        "",
        "| platforms | links | rotations attempted | rotated | undone cleanly | live on a "
        "shared key at the end | worst outage |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, stat in sorted(report.pairs.items()):
        rows.append(
            f"| {name} | {stat.links} | {stat.rotations} | {stat.rotated} | {stat.aborted} | "
            f"{stat.live_shared}/{stat.links} | {stat.max_outage_s:g} s |"
        )
    return rows


def render_markdown(report: ChaosReport, *, command: str) -> str:
    """The reliability table: one row per fault kind, then the end-state checks."""
    lines = [
        "# Reliability: chaos run",
        "",
        f"Regenerated by `{command}` (seed {report.seed}; same seed, same faults). A lab of "
        f"{_routers_text(report)} and {report.links} links "
        f"({report.group_links} group CAs), embedded KMEs over mTLS; every wave rotates every "
        "link while faults are injected before and during it.",
        "",
        *_HEADER,
    ]
    lines += _rows(report, [k for k in FaultKind if k not in V2_KINDS])
    lines += [
        "",
        "### Chaos v2 faults",
        "",
        "Heavy-tailed and hung commits, a second controller on the same journal, the journal "
        "lost or restored from an older copy, an operator's time-zone change, a controller "
        "clock step. The invariant is the same: every link on a key both ends share, no "
        "outage, nothing left open, no secret written.",
        "",
        *_HEADER,
        *_rows(report, list(V2_KINDS)),
        "",
        f"Rotations with a late end (a commit still running at the decision instant, or "
        f"landing after it) resolved to a key every end shares: {report.late_ends}, of which "
        f"{report.late_restaged} went live on the new key (its peers got the entry back) and "
        f"the rest stayed on the old one.",
        "",
        f"Second controllers refused: {report.lease_refusals}. Verdicts of the controller "
        "that started after a journal fault: "
        + (", ".join(f"{k} {v}" for k, v in sorted(report.adoptions.items())) or "none")
        + ".",
        "",
        *(f"- {note}" for note in V2_NOTES),
    ]
    lines += [
        "",
        "| result | value |",
        "|---|---:|",
        f"| waves | {report.waves} |",
        f"| rotations attempted | {report.rotations} |",
        f"| rotated (live on the new key) | {report.rotated} |",
        f"| undone cleanly (link kept its key) | {report.aborted} |",
        f"| rotated, MKA check late (router unreachable) | {report.verify_late} |",
        f"| open rotations recovered after a crash | {report.recovered} |",
        f"| links live on a key both ends share, at the end | "
        f"{report.links_live_shared}/{report.links} |",
        f"| worst measured outage on any link | {report.max_outage_s:g} s |",
        *(
            [
                f"| controller failovers ({report.journal} journal): slowest SIGKILL → standby "
                f"holds the lease | {max(report.failover_s):.1f} s |"
            ]
            if report.failover_s
            else []
        ),
        f"| rotations left open in the journal | {report.open_rotations} |",
        f"| secrets found by the canary scan ({report.canary_values} values, "
        f"{report.canary_files} files) | {len(report.canary_hits)} |",
        f"| run time | {report.seconds:.0f} s |",
        *_pair_rows(report),
        "",
        "KME requests by outcome: "
        + ", ".join(f"{k} {v}" for k, v in sorted(report.kme_requests.items()))
        + ".",
        "",
        "*acted*: seen, or must have been: a one-shot router fault was used up, a router's "
        "session succeeded with a lasting fault in place, the wave asked the faulty KME (pair) "
        "for keys, a crash point was reached. Every fault that acted must be seen in the run's "
        "own counts (a fault masked by another failure of the same router does not count).",
        "",
        "Problems: " + ("none." if not report.problems else "; ".join(report.problems)),
        "",
        "## Bugs the campaign found (fixed)",
        "",
        *(f"- {finding}" for finding in FINDINGS),
        "",
        "## Found by chaos v2 (not fixed here)",
        "",
        *(f"- {finding}" for finding in OPEN_FINDINGS),
        "",
        "## Security and bad-input checks (`make test`)",
        "",
        *(f"- {check}" for check in SECURITY_CHECKS),
        "",
    ]
    return "\n".join(lines)
