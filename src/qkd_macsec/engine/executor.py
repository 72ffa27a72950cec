"""The rotation executor: runs a plan as ENC → DEC → check → STAGE(all ends ∥) → ACTIVATE → VERIFY.

Every step is journaled before it has effects, so a crash at any line leaves a record that
:mod:`qkd_macsec.engine.recovery` can finish or undo. The executor emits each transition once on
its event stream (:mod:`qkd_macsec.engine.events`); the journal, the result tree and any other
observer (metrics, progress, a test's crash points) follow from there.

If any end of a link fails to stage, the ends that have the new entry get it removed *before*
its start-time: no link is ever half-rotated. All links of one device that rotate in a wave go
into one commit.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from qkd_macsec.devices.async_base import AsyncDriver, ThreadedDriver
from qkd_macsec.devices.base import (
    CommitResult,
    Driver,
    KeyChainEntry,
    MacsecBinding,
    StaticKey,
)
from qkd_macsec.engine.deadlines import (
    LATENCY_META,
    DeviceTiming,
    LatencyHistory,
    WaveDeadlines,
    device_timing,
    plan_deadlines,
)
from qkd_macsec.engine.events import (
    DeviceStaged,
    DeviceStageFailed,
    DeviceUndone,
    EndMarked,
    Event,
    EventStream,
    KeysFetched,
    LatenciesMeasured,
    Noted,
    Observer,
    PhaseChanged,
    ProgressStep,
    Restaged,
    RotationBegun,
    StagingBegun,
    Verified,
    WaveBegun,
    WaveDone,
    WaveStep,
)
from qkd_macsec.engine.journal import JournalBackend, Phase
from qkd_macsec.engine.keysource import FetchedKey, KeyFetchError, KeySource
from qkd_macsec.engine.observers import JournalRecorder, ResultTree
from qkd_macsec.engine.planner import (
    LinkHistory,
    PlannedRotation,
    PlanPolicy,
    WavePlan,
    plan_wave,
)
from qkd_macsec.engine.results import DeviceResult, WaveResult
from qkd_macsec.engine.session_pool import SessionLimits, SessionPool
from qkd_macsec.engine.sessions import (
    StageFailed,
    StageItem,
    StageOutcome,
    entries_present,
    live_ckn,
    read_chains,
    read_live_mka,
    remove_entries,
    restore_entries,
    stage_device,
)
from qkd_macsec.engine.topology import EndSpec, LinkSpec
from qkd_macsec.etsi014.errors import KmeError, KmeTransportError
from qkd_macsec.macsec import KeyLengthError
from qkd_macsec.obs.logging import get_logger, notice, redact

log = get_logger("engine")

BindingFor = Callable[[LinkSpec, EndSpec], Sequence[MacsecBinding]]
AnyDriverFor = Callable[[str], Driver | AsyncDriver]
"""A new, unopened driver for a device: asynchronous, or synchronous (run in the thread pool)."""


@dataclass(frozen=True)
class ExecutorOptions:
    max_workers: int = 32  # synchronous driver calls in parallel (the seed's -t/--threads)
    kme_concurrency: int = 64
    min_activation_delay: float = 10.0
    clock_tolerance: float = 5.0
    verify_grace: float = 0.5  # after the activation instant, before reading MKA state
    verify_timeout: float = 30.0
    verify_interval: float = 0.5
    keep_previous: int = 1
    wait_for_activation: bool = True
    initial_session_estimate: float = 3.0  # seconds per device session before any is measured
    undo_retry_interval: float = 0.2  # first pause between undo attempts (doubles, up to 1 s)
    #: The engine's own reaction at the decision instant (journal it, start the undos), part
    #: of the undo budget: with measured undo sessions of a few ms it is what is left.
    decision_reaction: float = 0.05


UNDO_RETRY_MAX_S = 1.0
#: Before the first wave measures it: journaling one link's start-time, seconds.
JOURNAL_S_PER_LINK = 0.005


@dataclass(frozen=True)
class _Removal:
    """How removing a wave's entries from one device went (times: controller epoch seconds)."""

    device: str
    removed: bool  # the device confirmed none of the entries is left (or never had them)
    changed: bool  # ... and it had at least one: the removal committed something
    started: float
    finished: float
    landed: bool | None  # the entry was there (late commit landed); None: unknown
    error: str | None = None
    restaged: bool = False  # landed, and its peers were given the entry back instead
    seen_landed: float | None = None  # when the late commit was found landed

    def describe(self, activation: float, *, late: bool) -> str:
        """What happened on one end, for the result and the journal. ``late``: the end's
        commit was not confirmed by the decision instant (it may land any time after)."""
        when = self.finished - activation
        at = f"{-when:.1f}s before T" if when < 0 else f"{when:.1f}s after T"
        if self.restaged:
            return f"late commit on {self.device} landed; kept"
        if not late:
            return f"undo on {self.device} " + ("landed " + at if self.removed else "failed")
        if not self.removed:
            return f"late end {self.device}: entry may be there, not removed"
        if not self.landed:
            return f"late end {self.device}: its commit did not land"
        return f"late commit on {self.device}, removed {at}"

    def detail(self, activation: float, *, late: bool) -> dict[str, object]:
        return {
            "device": self.device,
            "late": late,
            "landed": self.landed,
            "removed": self.removed,
            "removed_vs_activation_s": round(self.finished - activation, 3),
            "outcome": self.describe(activation, late=late),
        }


@dataclass
class _WaveUndo:
    """What undoing (part of) a wave needs to know, shared by the steps that do it."""

    planned: dict[str, tuple[PlannedRotation, LinkSpec]]
    items: dict[str, list[StageItem]]
    undo: dict[str, list[tuple[str, int]]]
    undo_links: dict[str, list[str]]
    stage: Mapping[str, asyncio.Future[StageOutcome | StageFailed]]
    confirmed: set[str]
    late: set[str]
    deadlines: WaveDeadlines
    result: WaveResult
    wave: str
    session_began: dict[str, float]  # controller epoch seconds each stage session started
    restored: dict[str, str] = field(default_factory=dict)  # link -> what was done
    staged: list[str] = field(default_factory=list)  # links staged after all (restored)


def first_key_start(activation: datetime, clock_tolerance: float) -> datetime:
    """A link's first key has no older key to fall back on: it starts ``clock_tolerance`` early,
    so a router clock that steps back (inside the tolerance) does not un-start it."""
    return activation - timedelta(seconds=clock_tolerance)


def _err(exc: BaseException) -> str:
    if isinstance(exc, StageFailed):  # already "device: OriginalError: detail"
        return redact(str(exc))
    return redact(f"{type(exc).__name__}: {exc}")


class RotationExecutor:
    """Plans and runs rotation waves for a set of links."""

    def __init__(
        self,
        links: Sequence[LinkSpec],
        journal: JournalBackend,
        keys: KeySource,
        drivers: AnyDriverFor,
        *,
        binding_for: BindingFor,
        options: ExecutorOptions | None = None,
        observers: Sequence[Observer] = (),
        device_timeout: Callable[[str], float] | None = None,
        session_limits: SessionLimits | None = None,
    ) -> None:
        r"""``observers``: told every event after the journal and the result tree (their
        ``Exception``\ s are logged, see :mod:`~qkd_macsec.engine.events`); more can subscribe
        to :attr:`events`. ``device_timeout(name)``: the device's configured RPC timeout
        (deadlines never plan past it); 30 s when not given. ``drivers``: asynchronous drivers
        run on the event loop; synchronous ones are run in a pool of ``max_workers`` threads.
        Sessions are kept in :attr:`sessions` (one per router, within ``session_limits``)."""
        self.links = {link.name: link for link in links}
        self.journal = journal
        self.keys = keys
        self.drivers = drivers
        self.binding_for = binding_for
        self.options = options or ExecutorOptions()
        self._device_timeout = device_timeout
        self.events = EventStream()
        self.events.subscribe(JournalRecorder(journal), critical=True)  # the safety record
        self._results = ResultTree()
        self.events.subscribe(self._results, critical=True)
        for observer in observers:
            self.events.subscribe(observer)
        self._counts: dict[str, int] = {}
        self._pool = ThreadPoolExecutor(
            max_workers=self.options.max_workers, thread_name_prefix="device"
        )
        self._threaded = False  # set when the first synchronous driver is adapted
        #: Journaling a wave's start-times, per link (measured each wave; planned into T).
        self._journal_s_per_link = JOURNAL_S_PER_LINK
        self.sessions = SessionPool(
            self._session_for, session_limits, sync_sessions=self.options.max_workers
        )

    def _session_for(self, device: str) -> AsyncDriver:
        driver = self.drivers(device)
        if isinstance(driver, AsyncDriver):
            return driver
        self._threaded = True
        return ThreadedDriver(driver, self._pool, device)

    @property
    def concurrency(self) -> int:
        """Device sessions that make progress at once: the thread pool's size for synchronous
        drivers, the controller's session limit for asynchronous ones."""
        limit = self.sessions.limits.controller
        return min(limit, self.options.max_workers) if self._threaded else limit

    async def aclose(self) -> None:
        """Close every kept device session, then the thread pool."""
        await self.sessions.aclose()
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _emit(self, event: Event) -> None:
        self.events.emit(event)

    def _advance(self, step: str, total: int) -> None:
        done = self._counts[step] = self._counts.get(step, 0) + 1
        self._emit(ProgressStep(step, done, total))

    # -- planning ------------------------------------------------------------------------
    def histories(self) -> dict[str, LinkHistory]:
        open_by_link = {r.link: r for r in self.journal.open_rotations()}
        out: dict[str, LinkHistory] = {}
        for name in self.links:
            last = self.journal.last_attempt(name)
            failed = last is not None and last.phase in (Phase.ABORTED, Phase.FAILED)
            diverged = (
                failed
                and last is not None
                and self.links[name].mode.strategy.diverged(
                    any(end.staged and not end.removed for end in last.ends)
                )
            )
            out[name] = LinkHistory(
                active=tuple(self.journal.active_keys(name, self.options.keep_previous + 1)),
                open_rotation=open_by_link.get(name),
                last_failure=last.updated if failed and last is not None else None,
                consecutive_failures=self.journal.consecutive_failures(name) if failed else 0,
                diverged=diverged,
            )
        return out

    def plan(
        self,
        now: datetime | None = None,
        *,
        force: Iterable[str] = (),
        blocked: Mapping[str, str] | None = None,
    ) -> WavePlan:
        return plan_wave(
            [link.view() for link in self.links.values()],
            self.histories(),
            now or datetime.now(UTC),
            PlanPolicy(keep_previous=self.options.keep_previous),
            force=force,
            blocked=blocked,
        )

    def _timeout(self, device: str) -> float:
        return self._device_timeout(device) if self._device_timeout is not None else 30.0

    def latency_history(self, devices: Collection[str]) -> dict[str, LatencyHistory]:
        """Each device's recent session and commit latencies, from the journal."""
        stored = self.journal.get_meta_many([LATENCY_META + d for d in devices])
        return {d: LatencyHistory.from_json(stored.get(LATENCY_META + d)) for d in devices}

    def device_timings(self, devices: Collection[str]) -> dict[str, DeviceTiming]:
        history = self.latency_history(devices)
        initial = self.options.initial_session_estimate
        return {d: device_timing(history[d], self._timeout(d), initial) for d in devices}

    def wave_deadlines(
        self, devices: Collection[str], now: float | None = None, *, lead: float = 0.0
    ) -> WaveDeadlines:
        """T, the decision instant and the commit guards for a wave over ``devices``: the
        predicted completion of this wave (each device's measured latencies, a connection
        for each without a live kept session, at :attr:`concurrency` sessions at once), the
        first session starting ``lead`` seconds from now."""
        ordered = sorted(devices)  # the order the wave's stage tasks start in
        timings = self.device_timings(ordered)
        connect = {
            d: self.sessions.connect_estimate(d, self.options.initial_session_estimate / 2)
            for d in ordered
            if not self.sessions.has_live(d)
        }
        return plan_deadlines(
            {d: timings[d] for d in ordered},
            now=time.time() if now is None else now,
            max_workers=self.concurrency,
            min_delay=self.options.min_activation_delay,
            clock_tolerance=self.options.clock_tolerance,
            connect=connect,
            lead=lead,
            reaction=self.options.decision_reaction,
        )

    def activation_delay(self, devices: Collection[str]) -> float:
        """Time from now until the new keys take over: room to stage every device, and to undo."""
        return self.wave_deadlines(devices).delay

    # -- the wave --------------------------------------------------------------------------
    async def run_wave(
        self, plan: WavePlan, *, conflicts: Mapping[str, str] | None = None
    ) -> WaveResult:
        """Run ``plan``. ``conflicts``: links left out of it because their routers disagree
        with the journal (reported on the result)."""
        wave = uuid.uuid4().hex[:12]
        self._counts = {}
        result = WaveResult(
            wave=wave,
            started=datetime.now(UTC),
            skipped=dict(plan.skipped),
            conflicts=dict(conflicts or {}),
        )
        if not plan.rotations:
            result.finished = datetime.now(UTC)
            return result
        self._emit(WaveBegun(result))
        await self._run(plan, wave, result)
        result.finished = datetime.now(UTC)
        if result.activation is not None:
            self._log_wave(result)
        self._emit(WaveDone(result))
        return result

    async def _run(self, plan: WavePlan, wave: str, result: WaveResult) -> None:
        wave_t0 = time.monotonic()
        planned: dict[str, tuple[PlannedRotation, LinkSpec]] = {}
        with self.journal.batch():  # each step's per-link writes: one transaction
            for rotation in plan.rotations:
                link = self.links[rotation.link]
                rid = self.journal.begin(  # the journal hands out the id: the one direct write
                    link.name,
                    wave,
                    [(end.device, ",".join(end.interfaces)) for end in link.ends],
                    reason=rotation.reason.value,
                )
                self._emit(RotationBegun(link.name, rid, rotation.reason.value))
                planned[link.name] = (rotation, link)
        self._emit(WaveStep(wave, "planned"))

        fetched = await self._fetch_all(planned, result)
        self._emit(WaveStep(wave, "keys"))
        if not fetched:
            return

        devices: set[str] = {d for name in fetched for d in planned[name][1].devices}
        lead = len(fetched) * self._journal_s_per_link  # journaling T before any session
        deadlines = self.wave_deadlines(devices, lead=lead)
        activation = deadlines.activation
        result.activation = activation
        result.undo_budget_s = deadlines.activation_epoch - deadlines.decide_at
        result.predicted_staging_s = deadlines.staging
        journal_t0 = time.monotonic()
        with self.journal.batch():  # durable before the "staging" step starts any session
            for name, _key in fetched.items():
                rotation, link = planned[name]
                rid = result.rotations[name].rotation_id
                start = link.mode.strategy.start_time(activation)
                self._emit(StagingBegun(name, rid, rotation.slot, start))
        took = (time.monotonic() - journal_t0) / len(fetched)
        self._journal_s_per_link = max(took, self._journal_s_per_link / 2)  # quick to rise
        self._emit(WaveStep(wave, "staging"))

        committed_at: dict[str, float] = {}  # device -> monotonic instant its commit returned
        staged = await self._stage_all(planned, fetched, deadlines, result, wave, committed_at)
        result.staged_seconds = time.monotonic() - wave_t0
        now = time.monotonic()  # ends found committed only late (restored links) count until now
        for name in staged:
            ends = planned[name][1].devices
            last = max(committed_at.get(d, now) for d in ends)
            result.rotations[name].stage_seconds = last - wave_t0
        self._emit(WaveStep(wave, "staged"))

        if staged and self.options.wait_for_activation:
            await self._activate_and_verify(
                [planned[name][1] for name in staged], activation, result
            )

    async def _fetch_all(
        self, planned: dict[str, tuple[PlannedRotation, LinkSpec]], result: WaveResult
    ) -> dict[str, FetchedKey]:
        limit = asyncio.Semaphore(self.options.kme_concurrency)

        async def one(name: str) -> tuple[str, FetchedKey | None]:
            _, link = planned[name]
            rr = result.rotations[name]
            recent = {k.key_id for k in self.journal.active_keys(name, 8)}
            async with limit:
                try:
                    key = await self.keys.fetch(link, recent)
                except (KmeError, KeyFetchError, KeyLengthError, ValueError, OSError) as exc:
                    error = f"key fetch: {_err(exc)}"
                    unreachable = isinstance(exc, KmeTransportError)
                    self._emit(
                        PhaseChanged(name, rr.rotation_id, Phase.ABORTED, error, unreachable)
                    )
                    log.warning("%s: key fetch failed: %s", name, error, extra={"link": name})
                    return name, None
            log.info(
                "%s: key %s fetched (kcv %s)",
                name,
                key.key.key_id,
                key.key.kcv,
                extra={"link": name, "key_id": key.key.key_id, "phase": "KEYS"},
            )
            self._advance("keys", len(planned))
            return name, key

        pairs = await asyncio.gather(*(one(name) for name in planned))
        fetched = {name: key for name, key in pairs if key is not None}
        # journaled together once every KME has answered: nothing uses a key before the
        # "keys" step, and a rotation whose keys were not journaled is still PLANNED (undone
        # by recovery without touching a device)
        with self.journal.batch():
            for name, key in fetched.items():
                self._emit(
                    KeysFetched(
                        name,
                        result.rotations[name].rotation_id,
                        key.key.key_id,
                        key.key.ckn,
                        key.key.kcv,
                        key.enc_seconds,
                        key.dec_seconds,
                    )
                )
        return fetched

    def _stage_items(
        self,
        planned: dict[str, tuple[PlannedRotation, LinkSpec]],
        fetched: dict[str, FetchedKey],
        activation: datetime,
        result: WaveResult,
    ) -> dict[str, list[StageItem]]:
        by_device: dict[str, list[StageItem]] = defaultdict(list)
        for name, key in fetched.items():
            rotation, link = planned[name]
            rid = result.rotations[name].rotation_id
            for end in link.ends:
                entry = static = None
                if link.mode.strategy.uses_key_chain:
                    assert link.key_chain is not None
                    assert rotation.slot is not None
                    entry = KeyChainEntry(
                        chain=link.key_chain,
                        slot=rotation.slot,
                        ckn=key.key.ckn,
                        cak=key.key.cak,
                        start_time=first_key_start(activation, self.options.clock_tolerance)
                        if rotation.bootstrap
                        else activation,
                        suite=link.suite,
                    )
                else:
                    static = StaticKey(
                        ca=link.ca, ckn=key.key.ckn, cak=key.key.cak, suite=link.suite
                    )
                by_device[end.device].append(
                    StageItem(
                        rotation_id=rid,
                        link=name,
                        entry=entry,
                        static=static,
                        chain=link.key_chain,
                        keep_slots=rotation.keep_slots,
                        bindings=tuple(self.binding_for(link, end)) if rotation.bootstrap else (),
                    )
                )
        return by_device

    async def _stage_all(
        self,
        planned: dict[str, tuple[PlannedRotation, LinkSpec]],
        fetched: dict[str, FetchedKey],
        deadlines: WaveDeadlines,
        result: WaveResult,
        wave: str,
        committed_at: dict[str, float],
    ) -> list[str]:
        """Stage every device; at the decision instant, undo what cannot activate together.

        Every stage session runs under the deadline D (its RPC timeouts never reach past it) and
        each commit must start by its device's guard. At D the engine decides without waiting
        for stragglers: an end not confirmed committed by then is failed, maybe committed, and
        the entry is removed from every end of its links that may have it, with the undo budget
        (the slowest measured undo plus the clock tolerance) still left before T.
        """
        items_by_device = self._stage_items(planned, fetched, deadlines.activation, result)
        by_device = {d: items_by_device[d] for d in sorted(items_by_device)}  # as predicted
        session_began: dict[str, float] = {}
        tasks = {
            device: asyncio.ensure_future(
                self._stage_one(
                    device,
                    items,
                    deadlines,
                    result,
                    wave,
                    committed_at,
                    len(by_device),
                    session_began,
                )
            )
            for device, items in by_device.items()
        }
        await asyncio.wait(tasks.values(), timeout=max(0.0, deadlines.decide_at - time.time()))
        decided = {d: t.result() for d, t in tasks.items() if t.done()}
        confirmed = {d for d, r in decided.items() if isinstance(r, StageOutcome)}
        undecided = {d for d in tasks if d not in decided}
        maybe = {d for d, r in decided.items() if isinstance(r, StageFailed) and r.maybe_committed}
        for device in undecided:
            margin = deadlines.activation_epoch - deadlines.decide_at
            error = f"no answer by the decision instant, {margin:.1f}s before activation"
            self._emit(DeviceStageFailed(device, error))
            log.warning(
                "%s: staging: %s; undoing its links", device, error, extra={"device": device}
            )

        staged: list[str] = []
        undo: dict[str, list[tuple[str, int]]] = defaultdict(list)
        undo_links: dict[str, list[str]] = defaultdict(list)
        with self.journal.batch():  # the decision for every link, before any undo
            for name in fetched:
                _, link = planned[name]
                rr = result.rotations[name]
                failed = [d for d in link.devices if d not in confirmed]
                if not failed:
                    self._emit(PhaseChanged(name, rr.rotation_id, Phase.STAGED))
                    staged.append(name)
                    continue
                error = "stage failed on " + ", ".join(
                    f"{d} ({result.devices[d].error})" for d in failed
                )
                unreachable = all(result.devices[d].unreachable for d in failed)
                self._emit(PhaseChanged(name, rr.rotation_id, Phase.ABORTING, error, unreachable))
                if link.mode.strategy.can_undo:
                    assert link.key_chain is not None
                    assert rr.slot is not None
                    for device in link.devices:
                        if device in confirmed or device in maybe or device in undecided:
                            undo[device].append((link.key_chain, rr.slot))
                            undo_links[device].append(name)
        wave_undo = _WaveUndo(
            planned=planned,
            items=by_device,
            undo=undo,
            undo_links=undo_links,
            stage=tasks,
            confirmed=confirmed,
            late=undecided | maybe,
            deadlines=deadlines,
            result=result,
            wave=wave,
            session_began=session_began,
        )
        removals = await self._undo(wave_undo)
        staged.extend(wave_undo.staged)
        # Sessions still running (a late end of a pre-shared-key link) end about D: their RPCs
        # cannot outlive it. Wait for them, boundedly, so none outlives the wave.
        await asyncio.wait(
            tasks.values(),
            timeout=max(0.0, max(self._give_up(d, deadlines) for d in tasks) - time.time()),
        )
        self._record_latencies(tasks, removals)
        for name in fetched:
            rr = result.rotations[name]
            if rr.phase is Phase.ABORTING and not planned[name][1].mode.strategy.can_undo:
                # Pre-shared-key mode cannot remove a key: ends that took it keep the old one as
                # the preceding key for a while; the next wave re-keys every end.
                self._emit(PhaseChanged(name, rr.rotation_id, Phase.ABORTED, rr.error))
        return staged

    async def _stage_one(
        self,
        device: str,
        items: list[StageItem],
        deadlines: WaveDeadlines,
        result: WaveResult,
        wave: str,
        committed_at: dict[str, float],
        total: int,
        session_began: dict[str, float],
    ) -> StageOutcome | StageFailed:
        result.devices.setdefault(device, DeviceResult(device))
        comment = f"qkd-macsec wave {wave}: {len(items)} link(s)"
        not_after = deadlines.not_after.get(device)

        session_began[device] = time.time()
        try:
            outcome = await stage_device(
                self.sessions,
                device,
                items,
                comment=comment,
                not_after=not_after,
                deadline=deadlines.decide_at,
            )
        except StageFailed as exc:
            error = _err(exc)
            self._emit(DeviceStageFailed(device, error, exc.unreachable))
            log.warning("%s: staging failed: %s", device, error, extra={"device": device})
            return exc
        committed_at[device] = time.monotonic()
        with self.journal.batch():
            for item in items:
                self._emit(EndMarked(item.link, item.rotation_id, device, staged=True))
        late: str | None = None
        if outcome.returned_at > deadlines.decide_at:
            after = outcome.returned_at - deadlines.decide_at
            late = f"commit returned {after:.1f}s after the decision instant"
            log.warning("%s: late commit: %s", device, late, extra={"device": device})
        commit = outcome.commit
        self._emit(
            DeviceStaged(
                device,
                session_seconds=outcome.seconds,
                clock_offset=outcome.clock_offset,
                pruned=len(outcome.pruned),
                commit_seconds=commit.seconds if commit is not None else None,
                changed=commit.changed if commit is not None else False,
                late=late,
            )
        )
        self._advance("staged", total)
        return outcome

    async def _undo(self, wave_undo: _WaveUndo) -> dict[str, _Removal]:
        """Remove staged entries from every end that may have them, and say what happened.

        Ends confirmed (or maybe) committed are undone at once, to land before T. An end still
        in its stage session at D is a *late* end: its session ends about D (its RPCs cannot
        outlive it) but its commit may still land — even after T, as a device finishes a commit
        whose session has gone. Each late end is watched until it is resolved to a key every
        end of its links shares, whichever way the measured times make faster:

        * remove the entry from the late end (which then runs on the current key again, which
          its peers still hold: pruning always keeps it), or
        * if its commit landed and it was the only end missing, put the entry back on the
          peers (same start-time T): every end then has it — before T, the link rotates as
          planned; after T, the peers join the late end within its preceding-key hold.

        A slow router is slow to undo too: with its commit measured at 40 s, giving the fast
        peers the key back takes a second where removing it would take another 40.
        """
        w = wave_undo
        immediate = {
            d: asyncio.ensure_future(self._remove(d, w.undo[d], w, started=time.time()))
            for d in w.undo
            if d not in w.late
        }
        late = dict(
            await asyncio.gather(
                *(self._resolve_late(d, w, immediate) for d in w.undo if d in w.late)
            )
        )
        removals = {d: await task for d, task in immediate.items()} | late
        activation = w.deadlines.activation_epoch
        result = w.result
        for device, removal in removals.items():
            self._emit(DeviceUndone(device, removal.removed, removal.changed))
            for name in w.undo_links[device]:
                rid = result.rotations[name].rotation_id
                if removal.landed:
                    self._emit(EndMarked(name, rid, device, staged=True))
                if removal.removed and name not in w.restored:
                    self._emit(EndMarked(name, rid, device, removed=True))
                if device in w.late or removal.finished > activation:
                    is_late = device in w.late
                    detail = removal.detail(activation, late=is_late)
                    self._emit(Noted(name, rid, "LATE", detail))
        by_link: dict[str, list[str]] = defaultdict(list)
        for device, names in w.undo_links.items():
            for name in names:
                by_link[name].append(device)
        for name, devices in by_link.items():
            rr = result.rotations[name]
            if name in w.restored:
                notes = tuple(removals[d].describe(activation, late=d in w.late) for d in devices)
                self._emit(Restaged(name, rr.rotation_id, w.restored[name], notes))
                self._emit(PhaseChanged(name, rr.rotation_id, Phase.STAGED))
                w.staged.append(name)
                notice(log, "%s: %s", name, w.restored[name], extra={"link": name})
                continue
            late_notes = [
                removals[d].describe(activation, late=d in w.late)
                for d in devices
                if d in w.late or removals[d].finished > activation
            ]
            stuck = [d for d in devices if not removals[d].removed]
            error = rr.error
            if late_notes:
                error = f"{error}; {'; '.join(late_notes)}"
            if stuck:
                error = f"{error}; undo failed on " + ", ".join(
                    f"{d} ({removals[d].error})" for d in stuck
                )
                self._emit(PhaseChanged(name, rr.rotation_id, Phase.ABORTING, error))
                log.error("%s: %s", name, error, extra={"link": name, "phase": "ABORTING"})
            else:
                self._emit(PhaseChanged(name, rr.rotation_id, Phase.ABORTED, error))
                log.warning(
                    "%s: rotation aborted, staged entries removed: %s",
                    name,
                    error,
                    extra={"link": name, "phase": "ABORTED"},
                )
        return removals

    def _give_up(self, device: str, deadlines: WaveDeadlines) -> float:
        """How long after T a late end is worked on before recovery is left to finish it."""
        return deadlines.activation_epoch + 2 * self._timeout(device) + 10.0

    async def _remove(
        self, device: str, entries: list[tuple[str, int]], w: _WaveUndo, *, started: float
    ) -> _Removal:
        """Remove ``entries`` from one device, retrying (a lock held by an in-flight commit,
        a dropped session) until it is done or the late window after T has passed."""
        give_up = self._give_up(device, w.deadlines)
        comment = f"qkd-macsec wave {w.wave}: undo"
        pause = self.options.undo_retry_interval
        error = "not tried"
        while True:
            try:
                commit: CommitResult = await remove_entries(
                    self.sessions, device, entries, comment=comment, deadline=give_up
                )
            except Exception as exc:  # lock busy, session dropped, timeout: try again
                error = _err(exc)
            else:
                changed = commit.changed
                return _Removal(device, True, changed, started, time.time(), changed)
            if time.time() + pause >= give_up:
                log.error("%s: undo failed: %s", device, error, extra={"device": device})
                return _Removal(device, False, False, started, time.time(), None, error)
            await asyncio.sleep(pause)  # retried against the late window's deadline
            pause = min(pause * 2, UNDO_RETRY_MAX_S)

    async def _resolve_late(
        self, device: str, w: _WaveUndo, immediate: Mapping[str, asyncio.Future[_Removal]]
    ) -> tuple[str, _Removal]:
        """Watch a late end until it is resolved (see :meth:`_undo`)."""
        started = time.time()
        stage = w.stage[device]
        # Its session ends by about D; the undo deadline bounds the wait.
        await asyncio.wait([stage], timeout=max(0.0, w.deadlines.undo_by - time.time()))
        commit_began: float | None = None
        if stage.done():
            outcome = stage.result()
            began = w.session_began.get(device, started)
            if isinstance(outcome, StageFailed):
                if not outcome.maybe_committed:
                    return device, _Removal(device, True, False, started, time.time(), False)
                if outcome.commit_offset is not None:
                    commit_began = began + outcome.commit_offset
            elif outcome.commit is not None:  # when the commit RPC was sent, as measured here
                commit_began = began + outcome.commit_offset
        ours = {
            (item.entry.chain, item.entry.slot, item.entry.ckn.lower())
            for item in w.items[device]
            if item.entry is not None and item.link in w.undo_links[device]
        }
        chains = sorted({chain for chain, _, _ in ours})
        give_up = self._give_up(device, w.deadlines)
        pause = self.options.undo_retry_interval
        error = "not tried"
        while True:
            try:  # under the lock: a commit still running makes this fail, so try again
                present = await entries_present(
                    self.sessions, device, w.undo[device], deadline=give_up
                )
                landed = False
                if present:  # that slot holds something: ours, or an old key awaiting pruning
                    held = await read_chains(self.sessions, device, chains, deadline=give_up)
                    landed = any(
                        (s.chain, s.slot, s.ckn.lower()) in ours for c in held.values() for s in c
                    )
            except Exception as exc:
                error = _err(exc)
            else:
                if not landed:  # final: nothing of ours is there or still on its way
                    return device, _Removal(device, True, False, started, time.time(), False)
                seen = time.time()
                observed = seen - (commit_began or started)
                if await self._restage_peers(device, w, immediate, observed):
                    return device, _Removal(
                        device,
                        False,
                        False,
                        started,
                        time.time(),
                        True,
                        restaged=True,
                        seen_landed=seen,
                    )
                removal = await self._remove(device, w.undo[device], w, started=started)
                return device, replace(removal, landed=True, seen_landed=seen)
            if time.time() + pause >= give_up:
                log.error("%s: undo failed: %s", device, error, extra={"device": device})
                return device, _Removal(device, False, False, started, time.time(), None, error)
            await asyncio.sleep(pause)  # retried against the late window's deadline
            pause = min(pause * 2, UNDO_RETRY_MAX_S)

    async def _restage_peers(
        self,
        device: str,
        w: _WaveUndo,
        immediate: Mapping[str, asyncio.Future[_Removal]],
        observed: float,
    ) -> bool:
        """The late end's commit landed: give its peers the entry back if that is possible
        (it was the only end missing on each of its links) and faster than undoing it there
        (the peers' measured session against the late end's commit, as measured now)."""
        links = w.undo_links[device]
        peers: dict[str, list[KeyChainEntry]] = defaultdict(list)
        for name in links:
            _, link = w.planned[name]
            others = [d for d in link.devices if d != device]
            if not link.mode.strategy.can_undo or any(d not in w.confirmed for d in others):
                return False
            for other in others:
                peers[other].extend(
                    item.entry
                    for item in w.items[other]
                    if item.link == name and item.entry is not None
                )
        timings = self.device_timings([device, *peers])
        undo_eta = max(timings[device].undo, observed)
        restage_eta = max(timings[d].session for d in peers)
        log.info(
            "%s: late commit landed; undo there ~%.1fs, re-staging its peers ~%.1fs",
            device,
            undo_eta,
            restage_eta,
            extra={"device": device},
        )
        if restage_eta >= undo_eta:
            return False
        for other in peers:
            if other in immediate:
                await immediate[other]  # its undo first: the re-stage must come after it
        give_up = self._give_up(device, w.deadlines)
        comment = f"qkd-macsec wave {w.wave}: late end {device} landed, entry restored"

        async def one(other: str) -> bool:
            pause = self.options.undo_retry_interval
            while True:
                try:
                    await restore_entries(
                        self.sessions, other, peers[other], comment=comment, deadline=give_up
                    )
                    return True
                except Exception as exc:
                    log.warning("%s: restore failed: %s", other, _err(exc))
                if time.time() + pause >= give_up:
                    return False
                await asyncio.sleep(pause)
                pause = min(pause * 2, UNDO_RETRY_MAX_S)

        done = dict(zip(peers, await asyncio.gather(*(one(o) for o in peers)), strict=True))
        activation = w.deadlines.activation_epoch
        when = time.time() - activation
        at = f"{-when:.1f}s before T" if when < 0 else f"{when:.1f}s after T"
        if not all(done.values()):
            # Some peer could not take it back: undo it everywhere instead.
            for other, ok in done.items():
                if ok:
                    entries = [(e.chain, e.slot) for e in peers[other]]
                    removal = await self._remove(other, entries, w, started=time.time())
                    if not removal.removed:
                        log.error("%s: restored entry could not be removed again", other)
            return False
        for name in links:
            rr = w.result.rotations[name]
            for other in peers:
                self._emit(EndMarked(name, rr.rotation_id, other, removed=False))
            w.restored[name] = (
                f"late commit on {device} landed {observed:.1f}s after its commit began; "
                f"entry restored on {', '.join(sorted(peers))} {at}"
            )
        return True

    def _record_latencies(
        self,
        stage: Mapping[str, asyncio.Future[StageOutcome | StageFailed]],
        removals: dict[str, _Removal],
    ) -> None:
        """Keep each device's session and commit latency in the journal: the next wave plans
        with them. A session cut short by its deadline counts with the time it had used, and a
        commit found landed only by the undo with the time until the undo saw it."""
        samples: dict[str, tuple[float | None, float | None]] = {}
        for device, task in stage.items():
            if not task.done():
                continue
            outcome = task.result()
            removal = removals.get(device)
            if isinstance(outcome, StageOutcome):
                commit = outcome.commit.seconds if outcome.commit is not None else None
                samples[device] = (outcome.seconds, commit)
                continue
            if not outcome.maybe_committed:
                continue
            samples[device] = (outcome.seconds, None)  # cut short: a lower bound
            if removal is not None and removal.landed:
                # the commit landed by the time the undo saw it
                seen = removal.seen_landed or removal.finished
                landed_after = outcome.seconds + (seen - removal.started)
                commit_began = outcome.commit_offset or 0.0
                samples[device] = (landed_after, landed_after - commit_began)
        if samples:
            self._emit(LatenciesMeasured(samples))

    async def _activate_and_verify(
        self, links: Sequence[LinkSpec], activation: datetime, result: WaveResult
    ) -> None:
        if any(link.mode.strategy.starts_at_activation for link in links):
            wait = activation.timestamp() + self.options.verify_grace - time.time()
            if wait > 0:
                await asyncio.sleep(wait)  # the activation instant itself: a deadline, not a guess
        await self.verify(links, result)

    async def verify(self, links: Sequence[LinkSpec], result: WaveResult) -> None:
        """Read MKA state until every link is live on its new CKN or the timeout passes.
        ``result``: the wave's, or recovery's own (its links' results then follow here)."""
        self._results.track(result)
        pending = {link.name: link for link in links}
        deadline = time.monotonic() + self.options.verify_timeout
        last_error: dict[str, str] = {}
        while pending:
            by_device: dict[str, list[str]] = defaultdict(list)
            for link in pending.values():
                for end in link.ends:
                    by_device[end.device].extend(end.interfaces)

            async def one(device: str, interfaces: list[str]) -> tuple[str, object]:
                try:
                    return device, await read_live_mka(self.sessions, device, interfaces)
                except Exception as exc:  # unreadable now; retried until the deadline
                    return device, exc

            reads = dict(await asyncio.gather(*(one(d, i) for d, i in by_device.items())))
            with self.journal.batch():  # the links found live this round
                for name, link in list(pending.items()):
                    rr = result.rotations[name]
                    ckn = (rr.ckn or "").lower()
                    problems = []
                    for end in link.ends:
                        sessions = reads[end.device]
                        if isinstance(sessions, BaseException):
                            problems.append(f"{end.device}: {_err(sessions)}")
                            continue
                        for interface in end.interfaces:
                            if ckn not in live_ckn(sessions, interface):  # type: ignore[arg-type]
                                problems.append(
                                    f"{end.device} {interface}: not live on the new CKN"
                                )
                    if not problems:
                        self._emit(Verified(name, rr.rotation_id, live=True))
                        notice(
                            log,
                            "%s: live on key %s (kcv %s)",
                            name,
                            rr.key_id,
                            rr.kcv,
                            extra={"link": name, "key_id": rr.key_id, "phase": "ACTIVE"},
                        )
                        del pending[name]
                        self._advance("verified", len(links))
                    else:
                        last_error[name] = "; ".join(problems)
            if not pending or time.monotonic() >= deadline:
                break
            await asyncio.sleep(self.options.verify_interval)
        with self.journal.batch():
            for name in pending:
                rr = result.rotations[name]
                # Every end holds the new entry and has passed its start-time: it IS the key.
                error = f"verify: {last_error.get(name, 'timed out')}"
                self._emit(Verified(name, rr.rotation_id, live=False, error=error))
                log.error("%s: %s", name, error, extra={"link": name, "phase": "VERIFY"})

    def _log_wave(self, result: WaveResult) -> None:
        ok = sum(1 for r in result.rotations.values() if r.ok)
        notice(
            log,
            "wave %s: %d/%d link(s) rotated, %d device(s), staged in %.2fs",
            result.wave,
            ok,
            len(result.rotations),
            len(result.devices),
            result.staged_seconds,
        )
