"""The rotation executor: runs a plan as ENC → DEC → check → STAGE(all ends ∥) → ACTIVATE → VERIFY.

Every step is journaled before it has effects, so a crash at any line leaves a record that
:mod:`qkd_macsec.engine.recovery` can finish or undo. If any end of a link fails to stage, the ends
that have the new entry get it removed *before* its start-time: no link is ever half-rotated.
All links of one device that rotate in a wave go into one commit.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from qkd_macsec.devices.base import KeyChainEntry, MacsecBinding, StaticKey
from qkd_macsec.engine.journal import Journal, Phase
from qkd_macsec.engine.keysource import FetchedKey, KeyFetchError, KeySource
from qkd_macsec.engine.planner import (
    KeyMode,
    LinkHistory,
    PlannedRotation,
    PlanPolicy,
    WavePlan,
    plan_wave,
)
from qkd_macsec.engine.results import DeviceResult, RotationResult, WaveResult
from qkd_macsec.engine.sessions import (
    DriverFor,
    StageFailed,
    StageItem,
    StageOutcome,
    live_ckn,
    read_mka,
    remove_entries,
    stage_device,
)
from qkd_macsec.engine.topology import EndSpec, LinkSpec
from qkd_macsec.etsi014.errors import KmeError, KmeTransportError
from qkd_macsec.macsec import KeyLengthError
from qkd_macsec.obs.logging import get_logger, notice, redact

log = get_logger("engine")

BindingFor = Callable[[LinkSpec, EndSpec], Sequence[MacsecBinding]]
CrashHook = Callable[[str], None]
Progress = Callable[[str, int, int], None]
"""Called as ``progress(step, done, total)`` with step "keys" (links), "staged" (devices) or
"verified" (links) as a wave advances: for progress displays."""


@dataclass(frozen=True)
class ExecutorOptions:
    max_workers: int = 32  # device sessions in parallel (the seed's -t/--threads)
    kme_concurrency: int = 64
    min_activation_delay: float = 10.0
    clock_tolerance: float = 5.0
    verify_grace: float = 0.5  # after the activation instant, before reading MKA state
    verify_timeout: float = 30.0
    verify_interval: float = 0.5
    keep_previous: int = 1
    wait_for_activation: bool = True
    initial_session_estimate: float = 3.0  # seconds per device session before any is measured


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
        journal: Journal,
        keys: KeySource,
        drivers: DriverFor,
        *,
        binding_for: BindingFor,
        options: ExecutorOptions | None = None,
        crash_hook: CrashHook | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.links = {link.name: link for link in links}
        self.journal = journal
        self.keys = keys
        self.drivers = drivers
        self.binding_for = binding_for
        self.options = options or ExecutorOptions()
        self._crash_hook = crash_hook
        self.progress = progress
        self._counts: dict[str, int] = {}
        self._pool = ThreadPoolExecutor(
            max_workers=self.options.max_workers, thread_name_prefix="device"
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _advance(self, step: str, total: int) -> None:
        done = self._counts[step] = self._counts.get(step, 0) + 1
        if self.progress is not None:
            self.progress(step, done, total)

    def _crash_point(self, name: str) -> None:
        if self._crash_hook is not None:
            self._crash_hook(name)

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
                and self.links[name].mode is KeyMode.PRE_SHARED_KEY
                and any(end.staged and not end.removed for end in last.ends)
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

    def session_estimate(self) -> float:
        """Seconds one device session takes (slowest of the last wave; a guess before any)."""
        stored = self.journal.get_meta("device_session_s")
        if isinstance(stored, int | float) and stored > 0:
            return float(stored)
        return self.options.initial_session_estimate

    def activation_delay(self, devices: int) -> float:
        """Time from now until the new keys take over: room to stage every device, and to undo."""
        rounds = math.ceil(max(devices, 1) / self.options.max_workers)
        needed = 2 * rounds * self.session_estimate() + self.options.clock_tolerance
        return max(self.options.min_activation_delay, needed)

    # -- the wave --------------------------------------------------------------------------
    async def run_wave(self, plan: WavePlan) -> WaveResult:
        wave = uuid.uuid4().hex[:12]
        self._counts = {}
        result = WaveResult(wave=wave, started=datetime.now(UTC), skipped=dict(plan.skipped))
        if not plan.rotations:
            result.finished = datetime.now(UTC)
            return result
        wave_t0 = time.monotonic()
        planned: dict[str, tuple[PlannedRotation, LinkSpec]] = {}
        for rotation in plan.rotations:
            link = self.links[rotation.link]
            rid = self.journal.begin(
                link.name,
                wave,
                [(end.device, ",".join(end.interfaces)) for end in link.ends],
                reason=rotation.reason.value,
            )
            result.rotations[link.name] = RotationResult(link.name, rid, rotation.reason.value)
            planned[link.name] = (rotation, link)
        self._crash_point("planned")

        fetched = await self._fetch_all(planned, result)
        self._crash_point("keys")
        if not fetched:
            result.finished = datetime.now(UTC)
            return result

        devices: set[str] = {d for name in fetched for d in planned[name][1].devices}
        activation = datetime.now(UTC) + timedelta(seconds=self.activation_delay(len(devices)))
        activation = activation.replace(microsecond=0) + timedelta(seconds=1)
        result.activation = activation
        for name, _key in fetched.items():
            rotation, link = planned[name]
            rr = result.rotations[name]
            start = activation if link.mode is KeyMode.KEY_CHAIN else None
            self.journal.record_staging(rr.rotation_id, slot=rotation.slot, start_time=start)
            rr.phase, rr.slot, rr.activation = Phase.STAGING, rotation.slot, start
        self._crash_point("staging")

        committed_at: dict[str, float] = {}  # device -> monotonic instant its commit returned
        staged = await self._stage_all(planned, fetched, activation, result, wave, committed_at)
        result.staged_seconds = time.monotonic() - wave_t0
        for name in staged:
            ends = planned[name][1].devices
            result.rotations[name].stage_seconds = max(committed_at[d] for d in ends) - wave_t0
        self._crash_point("staged")

        if staged and self.options.wait_for_activation:
            await self._activate_and_verify(
                [planned[name][1] for name in staged], activation, result
            )
        result.finished = datetime.now(UTC)
        self._log_wave(result)
        return result

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
                    rr.error = f"key fetch: {_err(exc)}"
                    rr.unreachable = isinstance(exc, KmeTransportError)
                    rr.phase = Phase.ABORTED
                    self.journal.set_phase(rr.rotation_id, Phase.ABORTED, error=rr.error)
                    log.warning("%s: key fetch failed: %s", name, rr.error, extra={"link": name})
                    return name, None
            self.journal.record_keys(
                rr.rotation_id, key_id=key.key.key_id, ckn=key.key.ckn, kcv=key.key.kcv
            )
            rr.phase, rr.key_id, rr.ckn, rr.kcv = (
                Phase.KEYS,
                key.key.key_id,
                key.key.ckn,
                key.key.kcv,
            )
            rr.enc_seconds, rr.dec_seconds = key.enc_seconds, key.dec_seconds
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
        return {name: key for name, key in pairs if key is not None}

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
                if link.mode is KeyMode.KEY_CHAIN:
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

    async def _in_pool(self, fn: Callable[[], object]) -> object:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def _stage_all(
        self,
        planned: dict[str, tuple[PlannedRotation, LinkSpec]],
        fetched: dict[str, FetchedKey],
        activation: datetime,
        result: WaveResult,
        wave: str,
        committed_at: dict[str, float],
    ) -> list[str]:
        by_device = self._stage_items(planned, fetched, activation, result)
        maybe_committed: set[str] = set()  # failed, but the entry may be there: undo it too
        # Past this instant a commit could land after the other end's start-time: don't.
        guard = self.options.clock_tolerance + self.session_estimate()
        not_after = activation.timestamp() - guard

        async def one(device: str, items: list[StageItem]) -> tuple[str, StageOutcome | None]:
            dr = result.devices.setdefault(device, DeviceResult(device))
            comment = f"qkd-macsec wave {wave}: {len(items)} link(s)"
            try:
                outcome = await self._in_pool(
                    lambda: stage_device(
                        self.drivers, device, items, comment=comment, not_after=not_after
                    )
                )
            except StageFailed as exc:
                dr.ok, dr.error, dr.unreachable = False, _err(exc), exc.unreachable
                if exc.maybe_committed:
                    maybe_committed.add(device)
                log.warning("%s: staging failed: %s", device, dr.error, extra={"device": device})
                return device, None
            assert isinstance(outcome, StageOutcome)
            dr.session_seconds = outcome.seconds
            dr.clock_offset = outcome.clock_offset
            dr.pruned = len(outcome.pruned)
            if outcome.commit is not None:
                dr.changed = outcome.commit.changed
                dr.commit_seconds = outcome.commit.seconds
                dr.commits += int(outcome.commit.changed)
            committed_at[device] = time.monotonic()
            for item in items:
                self.journal.mark_end(item.rotation_id, device, staged=True)
            self._advance("staged", len(by_device))
            self._crash_point(f"stage:{device}")
            return device, outcome

        outcomes = dict(await asyncio.gather(*(one(d, items) for d, items in by_device.items())))
        sessions = [o.seconds for o in outcomes.values() if o is not None]
        if sessions:
            self.journal.set_meta("device_session_s", max(sessions))

        staged: list[str] = []
        undo: dict[str, list[tuple[str, int]]] = defaultdict(list)
        undo_links: dict[str, list[str]] = defaultdict(list)
        for name in fetched:
            _, link = planned[name]
            rr = result.rotations[name]
            failed = [d for d in link.devices if outcomes.get(d) is None]
            if not failed:
                self.journal.set_phase(rr.rotation_id, Phase.STAGED)
                rr.phase = Phase.STAGED
                staged.append(name)
                continue
            rr.error = "stage failed on " + ", ".join(
                f"{d} ({result.devices[d].error})" for d in failed
            )
            rr.unreachable = all(result.devices[d].unreachable for d in failed)
            self.journal.set_phase(rr.rotation_id, Phase.ABORTING, error=rr.error)
            rr.phase = Phase.ABORTING
            if link.mode is KeyMode.KEY_CHAIN:
                assert link.key_chain is not None
                assert rr.slot is not None
                for device in link.devices:
                    if outcomes.get(device) is not None or device in maybe_committed:
                        undo[device].append((link.key_chain, rr.slot))
                        undo_links[device].append(name)
        await self._undo(undo, undo_links, planned, result, wave)
        for name in fetched:
            rr = result.rotations[name]
            if rr.phase is Phase.ABORTING and planned[name][1].mode is KeyMode.PRE_SHARED_KEY:
                # Pre-shared-key mode cannot remove a key: ends that took it keep the old one as
                # the preceding key for a while; the next wave re-keys every end.
                self.journal.set_phase(rr.rotation_id, Phase.ABORTED, error=rr.error)
                rr.phase = Phase.ABORTED
        return staged

    async def _undo(
        self,
        undo: dict[str, list[tuple[str, int]]],
        undo_links: dict[str, list[str]],
        planned: dict[str, tuple[PlannedRotation, LinkSpec]],
        result: WaveResult,
        wave: str,
    ) -> None:
        """Remove staged entries from the ends that have them, before their start-time."""

        async def one(device: str) -> tuple[str, str | None]:
            try:
                await self._in_pool(
                    lambda: remove_entries(
                        self.drivers, device, undo[device], comment=f"qkd-macsec wave {wave}: undo"
                    )
                )
            except Exception as exc:  # any failure: the rotation stays ABORTING for recovery
                return device, _err(exc)
            result.devices[device].commits += 1
            for name in undo_links[device]:
                self.journal.mark_end(result.rotations[name].rotation_id, device, removed=True)
            return device, None

        failures = dict(await asyncio.gather(*(one(d) for d in undo)))
        for name, (_, link) in planned.items():
            rr = result.rotations[name]
            if rr.phase is not Phase.ABORTING or link.mode is not KeyMode.KEY_CHAIN:
                continue
            stuck = [d for d in link.devices if failures.get(d)]
            if stuck:
                rr.error = f"{rr.error}; undo failed on {', '.join(stuck)}"
                self.journal.set_phase(rr.rotation_id, Phase.ABORTING, error=rr.error)
                log.error("%s: %s", name, rr.error, extra={"link": name, "phase": "ABORTING"})
            else:
                self.journal.set_phase(rr.rotation_id, Phase.ABORTED)
                rr.phase = Phase.ABORTED
                log.warning(
                    "%s: rotation aborted, staged entries removed: %s",
                    name,
                    rr.error,
                    extra={"link": name, "phase": "ABORTED"},
                )

    async def _activate_and_verify(
        self, links: Sequence[LinkSpec], activation: datetime, result: WaveResult
    ) -> None:
        key_chain_links = [link for link in links if link.mode is KeyMode.KEY_CHAIN]
        if key_chain_links:
            wait = activation.timestamp() + self.options.verify_grace - time.time()
            if wait > 0:
                await asyncio.sleep(wait)  # the activation instant itself: a deadline, not a guess
        await self.verify(links, result)

    async def verify(self, links: Sequence[LinkSpec], result: WaveResult) -> None:
        """Read MKA state until every link is live on its new CKN or the timeout passes."""
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
                    return device, await self._in_pool(
                        lambda: read_mka(self.drivers, device, interfaces)
                    )
                except Exception as exc:  # unreadable now; retried until the deadline
                    return device, exc

            reads = dict(await asyncio.gather(*(one(d, i) for d, i in by_device.items())))
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
                            problems.append(f"{end.device} {interface}: not live on the new CKN")
                if not problems:
                    rr.verified = True
                    rr.phase = Phase.ACTIVE
                    self.journal.set_phase(rr.rotation_id, Phase.ACTIVE)
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
        for name in pending:
            rr = result.rotations[name]
            # Every end holds the new entry and has passed its start-time: it IS the link's key.
            rr.phase = Phase.ACTIVE
            rr.error = f"verify: {last_error.get(name, 'timed out')}"
            self.journal.set_phase(rr.rotation_id, Phase.ACTIVE, error=rr.error)
            log.error("%s: %s", name, rr.error, extra={"link": name, "phase": "VERIFY"})

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
