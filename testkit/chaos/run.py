"""The chaos run: a lab, many forced waves with faults injected, then the end-state checks.

The controller runs in this process (so the run sees every KME request and wave result), except
in kill waves: then the real CLI runs as a subprocess and dies by SIGKILL at a random moment or
at a crash point (``QKD_MACSEC_CRASH_AT``); the next controller recovers what it left open.
Everything random comes from one seeded RNG, so a seed reproduces the faults (wall-clock timing
still varies).

Chaos v2 faults that need the controller live here too: a second controller started while the
first holds the journal (in-process, or the real CLI as a subprocess) must be refused and change
nothing; the journal deleted, or put back from an older copy (taken between two waves or in the
middle of one), before a wave: the next controller recovers, adopts what the routers hold and
rotates forward.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import sqlite3
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from qkd_macsec.engine.backends import acquire_lease, lease_holder, open_journal
from qkd_macsec.engine.controller import Controller, ControllerOptions
from qkd_macsec.engine.events import KmeRequestDone
from qkd_macsec.engine.journal import Journal, JournalBackend, Phase
from qkd_macsec.engine.journal_url import JOURNAL_ENV, JournalLocation, parse_journal_location
from qkd_macsec.engine.lease import LeaseHeldError, lock_path
from qkd_macsec.engine.observers import on
from qkd_macsec.engine.results import WaveResult
from qkd_macsec.etsi014.client import ClientOptions, RequestRecord
from qkd_macsec.etsi014.retry import RetryPolicy
from qkd_macsec.obs.logging import LOGGER_NAME, RedactionFilter
from qkd_macsec.pki.files import write_private
from qkd_macsec.sim.config import macsec_interfaces
from qkd_macsec.testbed.builder import Testbed, TestbedOptions, start_testbed
from qkd_macsec.testbed.links import platform_pair
from testkit.chaos.canary import collect_secrets, scan_files
from testkit.chaos.failover import failover_wave
from testkit.chaos.faults import (
    CONTROLLER_WAVE_KINDS,
    JOURNAL,
    Fault,
    FaultKind,
    LabFacts,
    fault_schedule,
)
from testkit.chaos.inject import FaultInjector
from testkit.chaos.lab import ChaosLabShape, chaos_lab_document
from testkit.chaos.observe import (
    LinkKmes,
    device_evidence,
    fired,
    kme_evidence,
    request_outcome,
    zone_evidence,
)
from testkit.chaos.report import ChaosReport

CLIENT_TIMEOUT_S = 2.0
SUBPROCESS_TIMEOUT_S = 120.0
SECOND_CLI_TIMEOUT_S = 60.0  # a refused CLI exits at once; this only bounds a hang
EXIT_LEASE_HELD = 4
MID_WAVE_COPY_S = 1.5  # the mid-wave journal copy: inside key fetch or staging
COPIES_KEPT = 4  # waves of journal copies kept for a restore
QUIET_WAIT_S = 30.0  # for routers' locks to be free before a "changed nothing" check


@dataclass(frozen=True)
class ChaosOptions:
    seed: int = 1
    waves: int = 10
    min_rotations: int = 0  # keep adding waves until this many rotations ended live
    max_waves: int = 400
    shape: ChaosLabShape = field(default_factory=ChaosLabShape)
    preceding_hold_s: float = 30.0
    #: Kinds not injected, and why (reported in the table).
    exclude: dict[FaultKind, str] = field(default_factory=dict)
    #: A PostgreSQL journal URL (the HA path: TTL lease, fencing) instead of the inventory's
    #: SQLite file; the SQLite file faults (journal deleted / restored) are then not injected.
    journal: str | None = None


#: Why the SQLite file faults are left out of a run on a PostgreSQL journal.
SQLITE_ONLY = "SQLite journal file faults (this run's journal is PostgreSQL)"


def run_chaos(options: ChaosOptions, directory: Path) -> ChaosReport:
    """Run the chaos campaign under ``directory`` (testbed, logs, journal, report.json)."""
    return asyncio.run(_Run(options, directory).main())


class _Run:
    def __init__(self, options: ChaosOptions, directory: Path) -> None:
        self.options = options
        self.directory = directory
        self.rng = random.Random(options.seed)
        shape = options.shape
        self.report = ChaosReport(
            seed=options.seed,
            routers=shape.routers,
            links=shape.link_count,
            group_links=shape.groups,
        )
        self.location: JournalLocation | None = None  # None: the inventory's SQLite file
        if options.journal is not None:
            self.location = parse_journal_location(options.journal)
            sqlite_only = (FaultKind.JOURNAL_DELETED, FaultKind.JOURNAL_RESTORED)
            self.options = replace(
                options, exclude={**options.exclude, **dict.fromkeys(sqlite_only, SQLITE_ONLY)}
            )
        self.report.excluded = {k.value: why for k, why in self.options.exclude.items()}
        self.report.journal = "sqlite" if self.location is None else "postgresql"
        self.records: list[RequestRecord] = []
        self.link_kmes: LinkKmes = {}
        self.waves_log = directory / "waves.jsonl"
        self.outputs: list[Path] = [self.waves_log]
        self.copies_dir = directory / "journal-copies"
        self.copies: dict[int, dict[str, Path]] = {}  # wave -> "between" / "mid-wave" -> copy
        self.kept_copies: set[Path] = set()  # copies a restore used (scanned at the end)
        self.wave = 0
        self.reads = UnreadLog()
        self.link_pairs: dict[str, str] = {}  # link -> its platform pair ("junos-iosxr")

    # -- the campaign ------------------------------------------------------------------
    async def main(self) -> ChaosReport:
        started = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True)
        write_private(self.waves_log, b"")
        document = chaos_lab_document(self.options.shape)
        testbed_options = TestbedOptions(preceding_hold_s=self.options.preceding_hold_s)
        with (
            ToolLogs(self.directory) as logs,
            self.reads,
            start_testbed(document, self.directory / "testbed", testbed_options) as testbed,
        ):
            self.outputs.extend(logs)
            await self._campaign(testbed)
            self._check(testbed)
        self.report.seconds = round(time.monotonic() - started, 1)
        report_path = self.directory / "report.json"
        write_private(report_path, json.dumps(self.report.to_json(), indent=2).encode())
        return self.report

    def _journal(self, testbed: Testbed) -> JournalLocation:
        return self.location if self.location is not None else testbed.inventory.policy.journal

    def _controller(self, testbed: Testbed) -> Controller:
        options = ControllerOptions(
            journal=self.location,
            verify_timeout=8.0,
            kme=ClientOptions(
                timeout=CLIENT_TIMEOUT_S,
                connect_timeout=CLIENT_TIMEOUT_S,
                dec_keys_wait=testbed.inventory.policy.dec_keys_wait,
                retry=RetryPolicy(attempts=3, backoff_base=0.1, backoff_max=0.5),
            ),
        )
        observers = [on(KmeRequestDone, lambda event: self.records.append(event.record))]
        # A killed CLI's PostgreSQL lease lives out its TTL (a flock dies with its holder).
        lease = None if self.location is None else acquire_lease(self.location, "chaos", wait=60)
        return Controller(testbed.inventory, options, observers=observers, lease=lease)

    async def _campaign(self, testbed: Testbed) -> None:
        injector = FaultInjector(testbed, CLIENT_TIMEOUT_S)
        facts = _facts(testbed)
        self.link_kmes = _link_kmes(testbed)
        inventory = testbed.inventory
        self.link_pairs = {link.name: platform_pair(inventory, link) for link in inventory.links}
        for pair in self.link_pairs.values():
            self.report.pair(pair).links += 1
        for host in inventory.hosts.values():
            self.report.platforms[host.platform] = self.report.platforms.get(host.platform, 0) + 1
        length = self.options.max_waves if self.options.min_rotations else self.options.waves
        kinds = [k for k in FaultKind if k not in self.options.exclude]
        schedule = fault_schedule(self.rng, length, facts, kinds=kinds)
        self.copies_dir.mkdir(mode=0o700, exist_ok=True)
        controller = self._controller(testbed)
        try:
            boot_copy = asyncio.create_task(self._copy_later(testbed, -1))  # mid-bootstrap
            boot = await controller.rotate()
            await boot_copy
            if not boot.ok:
                self.report.problems.append(f"bootstrap failed: {boot.failed_links}")
            lasting: dict[int, int] = {}  # injector handle -> waves left
            for wave, faults in enumerate(schedule):
                if self._enough(wave):
                    break
                self.wave = wave
                self.report.waves += 1
                await self._copy_journal(testbed, wave, "between")
                kill = bool(faults) and faults[0].kind in CONTROLLER_WAVE_KINDS
                # No mid-wave copy in a kill (or failover) wave: 1.5 s into it the CLI may or
                # may not have started its wave (a subprocess, its start-up time the machine's
                # load), so a restore of that copy might act or not; restores take an older
                # wave's copy.
                copy_task = None if kill else asyncio.create_task(self._copy_later(testbed, wave))
                try:
                    if kill:
                        before = controller.journal.counts()
                        await controller.aclose()
                        if faults[0].kind is FaultKind.CONTROLLER_FAILOVER:
                            await self._failover_wave(testbed, faults[0], wave)
                        else:
                            await self._kill_wave(testbed, faults[0], wave)
                        controller = self._controller(testbed)
                        recovered = await controller.recover()
                        self.report.recovered += recovered.touched
                        self._count_journal(before, controller.journal.counts(), faults[0].kind)
                        continue
                    for fault in faults:
                        if fault.target == JOURNAL:
                            controller = await self._journal_fault(testbed, controller, fault)
                    await self._fault_wave(testbed, controller, injector, faults, lasting)
                finally:
                    if copy_task is not None:
                        await copy_task
                    self._prune_copies(wave)
            injector.heal_all()
            final = await controller.rotate()
            self._count(final, [])
        finally:
            injector.heal_all()
            await controller.aclose()

    def _enough(self, wave: int) -> bool:
        if self.options.min_rotations:
            return self.report.rotated >= self.options.min_rotations
        return wave >= self.options.waves

    async def _fault_wave(
        self,
        testbed: Testbed,
        controller: Controller,
        injector: FaultInjector,
        faults: list[Fault],
        lasting: dict[int, int],
    ) -> None:
        self.records.clear()
        self.reads.messages.clear()
        handles: dict[int, Fault] = {}

        async def inject(fault: Fault) -> None:
            if fault.during_s is not None:
                await asyncio.sleep(fault.during_s)
            if fault.kind is FaultKind.SECOND_CONTROLLER:
                await self._second_controller(testbed, controller, fault)
                return
            handle = await asyncio.to_thread(injector.apply, fault)
            handles[handle] = fault
            if fault.waves > 1:
                lasting[handle] = fault.waves

        journal_faults = [f for f in faults if f.target == JOURNAL]  # done before the wave
        faults = [f for f in faults if f.target != JOURNAL]
        before = [f for f in faults if f.during_s is None]
        for fault in before:
            await inject(fault)
        during = [asyncio.create_task(inject(f)) for f in faults if f.during_s is not None]
        try:
            result = await controller.rotate(all_links=True)
        finally:
            await asyncio.gather(*during)
        for fault in faults:
            if fault.kind is FaultKind.ZONE_CHANGE:
                self._observe_zone(testbed, fault, result)
            elif fault.kind is not FaultKind.SECOND_CONTROLLER:  # counted when it ran
                self._observe(fault, result, injector)
        self._log_wave(journal_faults + faults, result)
        self._count(result, journal_faults + faults)
        for handle in handles:
            if handle not in lasting:
                await asyncio.to_thread(injector.heal, handle)
        for handle in list(lasting):
            lasting[handle] -= 1
            if lasting[handle] <= 0:
                del lasting[handle]
                await asyncio.to_thread(injector.heal, handle)

    def _log_wave(self, faults: list[Fault], result: WaveResult) -> None:
        """One JSON line per wave (waves.jsonl): faults, what each router and link reported."""
        entry = {
            "wave": self.report.waves,
            "faults": [f.describe() for f in faults],
            "devices": {
                name: {"error": d.error, "clock_offset": round(d.clock_offset, 3)}
                for name, d in sorted(result.devices.items())
            },
            "links": {
                name: {"phase": r.phase.value, "error": r.error}
                for name, r in sorted(result.rotations.items())
                if r.error
            },
            "kme_requests": dict(Counter(request_outcome(r) for r in self.records)),
        }
        with self.waves_log.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")

    def _observe(self, fault: Fault, result: WaveResult, injector: FaultInjector) -> None:
        stat = self.report.stat(fault.kind)
        stat.injected += 1
        offsets = {
            name: injector.testbed.lab.server(name).clock_offset_s
            for name in injector.testbed.inventory.hosts
        }
        timeout = float(self.options.shape.device_timeout_s)
        seen = kme_evidence(fault, self.records, result) or device_evidence(
            fault, result, offsets, timeout, self.reads.messages
        )
        shadowed = fault.kind is not FaultKind.ROUTER_DOWN and any(
            other.kind is FaultKind.ROUTER_DOWN and other.target == fault.target
            for other, _ in injector.active.values()
        )  # a router that is down cannot show a fault inside its sessions
        device_faults = (
            None if fault.kind is FaultKind.ROUTER_DOWN else injector.device_faults(fault)
        )
        acted = seen or (not shadowed and fired(fault, result, device_faults, self.link_kmes))
        stat.fired += int(acted)
        stat.observed += int(seen)

    def _observe_zone(self, testbed: Testbed, fault: Fault, result: WaveResult) -> None:
        """Seen when the router reads every new start-time written after the change (in its new
        zone) as the wave's activation instant; a mismatch is a problem (a start-time written in
        the old zone activates hours off)."""
        stat = self.report.stat(fault.kind)
        stat.injected += 1
        device = testbed.lab.device(fault.target)
        views = macsec_interfaces(device.committed)
        offset = timedelta(seconds=device.clock_offset_s)
        inventory = testbed.inventory
        router_links: list[str] = []
        starts: dict[str, datetime] = {}
        for link in inventory.links:
            ends = [end for host, end in inventory.link_ends(link) if host.name == fault.target]
            if not ends:
                continue
            router_links.append(link.name)
            rotation = result.rotations.get(link.name)
            if rotation is None or rotation.ckn is None:
                continue
            for interface in ends[0].interfaces:
                view = views.get(interface)
                keys = [k for k in (view.chain if view else ()) if k.ckn == rotation.ckn.lower()]
                if keys:
                    starts[link.name] = keys[0].start.replace(tzinfo=UTC) - offset
        acted, seen, mismatches = zone_evidence(fault, result, router_links, starts)
        stat.fired += int(acted)
        stat.observed += int(seen)
        self.report.problems += [f"zone-change: {m}" for m in mismatches]

    # -- chaos v2: a second controller, the journal lost or restored ---------------------
    async def _second_controller(
        self, testbed: Testbed, controller: Controller, fault: Fault
    ) -> None:
        """Start another controller on the journal the running one holds: it must be refused
        (LeaseHeldError in-process, exit 4 from the CLI). Between waves nothing else runs, so
        there it must also have changed nothing: no commit on any router, no journal row, the
        lease file still naming the running controller."""
        stat = self.report.stat(fault.kind)
        stat.injected += 1
        stat.fired += 1  # it was started: it either was refused or it was not
        # Between waves nothing else may commit: not even a slow commit of the last wave that
        # outlived its session (it holds the router's lock until it lands).
        quiet = fault.during_s is None and await self._locks_free(testbed, QUIET_WAIT_S)
        before = self._footprint(testbed, controller) if quiet else None
        if fault.detail == "cli":
            refused, why = await self._second_cli(testbed)
        else:
            refused, why = self._second_in_process(testbed)
        changed = []
        if before is not None:
            after = self._footprint(testbed, controller)
            changed = [k for k in before if before[k] != after.get(k)]
        if refused and not changed:
            stat.observed += 1
            self.report.lease_refusals += 1
            return
        what = f"second controller ({fault.describe()})"
        if not refused:
            self.report.problems.append(f"{what} was not refused: {why}")
        if changed:
            self.report.problems.append(f"{what} changed {', '.join(changed)}")

    async def _locks_free(self, testbed: Testbed, wait_s: float) -> bool:
        deadline = time.monotonic() + wait_s
        while True:
            if not any(testbed.lab.server(n).lock_held() for n in testbed.inventory.hosts):
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.2)

    def _second_in_process(self, testbed: Testbed) -> tuple[bool, str]:
        try:
            second = Controller(testbed.inventory, ControllerOptions(journal=self.location))
        except LeaseHeldError as exc:
            return str(os.getpid()) in str(exc), str(exc)
        second.journal.close()  # it took the lease: the lease is broken
        second.lease.release()
        return False, "a second Controller took the lease"

    async def _second_cli(self, testbed: Testbed) -> tuple[bool, str]:
        out = self.directory / f"second-{self.wave:03d}.out"
        self.outputs.append(out)
        code = await _cli_rotate(
            testbed, out, limit_s=SECOND_CLI_TIMEOUT_S, journal=self.options.journal
        )
        if code is None:
            return False, f"still running after {SECOND_CLI_TIMEOUT_S:g} s (killed)"
        text = out.read_text(errors="replace")
        held = "another controller holds the journal" in text
        return code == EXIT_LEASE_HELD and held, f"exit {code}"

    def _footprint(self, testbed: Testbed, controller: Controller) -> dict[str, object]:
        """What a refused controller must not change (no secrets: counts and instants)."""
        out: dict[str, object] = {}
        for name in sorted(testbed.inventory.hosts):
            commits = testbed.lab.server(name).commit_times()
            out[f"{name} commits"] = (len(commits), commits[-1] if commits else None)
        out["journal rows"] = controller.journal.counts()
        holder = lease_holder(self._journal(testbed))
        out["lease holder"] = (holder.pid, holder.token) if holder else None
        return out

    async def _journal_fault(
        self, testbed: Testbed, controller: Controller, fault: Fault
    ) -> Controller:
        """Between waves: stop the controller, delete the journal or put an older copy back,
        start a new controller; it recovers what the copy left open and reads every router."""
        stat = self.report.stat(fault.kind)
        stat.injected += 1
        links = [link.name for link in testbed.inventory.links]
        current = _newest_keys(controller.journal, links)
        await controller.aclose()
        restored = None
        if fault.kind is FaultKind.JOURNAL_RESTORED and self.copies:
            wanted = self.wave - int(fault.value)
            older = [w for w in self.copies if w <= wanted and fault.detail in self.copies[w]]
            restored = self.copies[max(older)][fault.detail] if older else None
            if restored is None:  # no copy that old yet: the oldest there is (mid-bootstrap)
                first = self.copies[min(self.copies)]
                restored = first.get(fault.detail) or next(iter(first.values()))
            self.outputs.append(restored)  # keep it for the canary scan
            self.kept_copies.add(restored)
        journal = Path(testbed.inventory.policy.journal)
        _replace_journal(journal, restored, with_lock=fault.detail == "journal+lock")
        acted = True  # a deleted journal always differs from the routers
        if restored is not None:
            copy = Journal(str(journal))
            try:  # an older copy acts when it is behind the routers or left rotations open
                acted = _newest_keys(copy, links) != current or bool(copy.open_rotations())
            finally:
                copy.close()
        controller = self._controller(testbed)
        recovered = await controller.recover()
        self.report.recovered += recovered.touched
        decisions = await controller.adopt()
        verdicts = Counter(d.verdict.value for d in decisions)
        for verdict, n in verdicts.items():
            self.report.adoptions[verdict] = self.report.adoptions.get(verdict, 0) + n
        stat.fired += int(acted)
        # Seen: the new controller took the routers' keys, or recovery closed the copy's open
        # rotations (finished, undone or found superseded by newer entries on the routers).
        stat.observed += int(acted and (verdicts.get("adopt", 0) > 0 or recovered.touched > 0))
        for d in decisions:
            if d.verdict.value == "conflict":
                self.report.problems.append(f"{fault.kind}: {d.link}: {d.message}")
        return controller

    async def _copy_later(self, testbed: Testbed, wave: int) -> None:
        await asyncio.sleep(MID_WAVE_COPY_S)
        await self._copy_journal(testbed, wave, "mid-wave")

    async def _copy_journal(self, testbed: Testbed, wave: int, when: str) -> None:
        """A consistent copy of the journal now (SQLite's online backup), as a backup job would
        take it; skipped when the journal is busy."""
        source = Path(testbed.inventory.policy.journal)
        target = self.copies_dir / f"journal-{wave:03d}-{when}.sqlite"

        def copy() -> bool:
            if not source.exists():
                return False
            write_private(target, b"")
            try:
                with (
                    contextlib.closing(
                        sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=2)
                    ) as src,
                    contextlib.closing(sqlite3.connect(target)) as dst,
                ):
                    src.backup(dst)
            except sqlite3.Error:
                target.unlink(missing_ok=True)
                return False
            finally:
                for suffix in ("-wal", "-shm"):
                    target.with_name(target.name + suffix).unlink(missing_ok=True)
            return True

        if await asyncio.to_thread(copy):
            self.copies.setdefault(wave, {})[when] = target

    def _prune_copies(self, wave: int) -> None:
        for old in [w for w in self.copies if w <= wave - COPIES_KEPT]:
            for path in self.copies.pop(old).values():
                if path not in self.kept_copies:
                    path.unlink(missing_ok=True)

    def _count(self, result: WaveResult, faults: list[Fault]) -> None:
        rotations = list(result.rotations.values())
        rotated = sum(1 for r in rotations if r.phase is Phase.ACTIVE)
        aborted = sum(1 for r in rotations if r.phase is Phase.ABORTED)
        self.report.rotations += len(rotations)
        self.report.rotated += rotated
        self.report.aborted += aborted
        self.report.verify_late += sum(
            1 for r in rotations if r.phase is Phase.ACTIVE and not r.verified
        )
        # Deadline-true staging: a late end resolved by removal (named in the error) or by
        # giving the peers the entry back (notes, the rotation went on).
        late = [r for r in rotations if r.notes or (r.error and "late end" in r.error)]
        self.report.late_ends += len(late)
        self.report.late_restaged += sum(1 for r in late if r.phase is Phase.ACTIVE)
        for kind in {f.kind for f in faults}:
            stat = self.report.stat(kind)
            stat.rotations += len(rotations)
            stat.rotated += rotated
            stat.aborted += aborted
        for r in rotations:
            pair = self.report.pair(self.link_pairs.get(r.link, "unknown"))
            pair.rotations += 1
            pair.rotated += int(r.phase is Phase.ACTIVE)
            pair.aborted += int(r.phase is Phase.ABORTED)
        outcomes = Counter(request_outcome(r) for r in self.records)
        for outcome, n in outcomes.items():
            self.report.kme_requests[outcome] = self.report.kme_requests.get(outcome, 0) + n
        self.records.clear()

    def _count_journal(
        self, before: dict[str, int], after: dict[str, int], kind: FaultKind
    ) -> None:
        """Count a wave the run did not see from inside (the CLI's) from the journal."""

        def delta(phase: Phase) -> int:
            return after.get(phase.value, 0) - before.get(phase.value, 0)

        rotations = sum(after.values()) - sum(before.values())
        rotated, aborted = delta(Phase.ACTIVE), delta(Phase.ABORTED)
        self.report.rotations += rotations
        self.report.rotated += rotated
        self.report.aborted += aborted
        stat = self.report.stat(kind)
        stat.rotations += rotations
        stat.rotated += rotated
        stat.aborted += aborted

    async def _kill_wave(self, testbed: Testbed, fault: Fault, wave: int) -> None:
        """The real CLI rotates every link and dies: SIGKILL after a delay, or at a point."""
        stat = self.report.stat(FaultKind.CONTROLLER_KILL)
        stat.injected += 1
        trace = self.directory / f"kill-{wave:03d}.trace"
        out = self.directory / f"kill-{wave:03d}.out"  # key IDs and CKNs, no secrets
        self.outputs += [trace, out]
        sigkill = fault.detail == "sigkill"
        code = await _cli_rotate(
            testbed,
            out,
            limit_s=fault.value if sigkill else SUBPROCESS_TIMEOUT_S,
            crash_at=None if sigkill else fault.detail,
            trace=trace,
            journal=self.options.journal,
        )
        killed = code is None or code in (-signal.SIGKILL, 99)
        stat.fired += int(killed)
        stat.observed += int(killed)

    async def _failover_wave(self, testbed: Testbed, fault: Fault, wave: int) -> None:
        """The active controller dies mid-wave, a queued standby takes over (failover.py)."""
        stat = self.report.stat(FaultKind.CONTROLLER_FAILOVER)
        stat.injected += 1
        outputs = (
            self.directory / f"failover-{wave:03d}-active.out",
            self.directory / f"failover-{wave:03d}-standby.out",
        )
        self.outputs += list(outputs)
        outcome = await failover_wave(testbed, fault.value, outputs, self.options.journal)
        stat.fired += int(outcome.killed_mid_wave)
        if outcome.killed_mid_wave and outcome.takeover_s is not None:
            self.report.failover_s.append(round(outcome.takeover_s, 2))
        if outcome.killed_mid_wave and outcome.clean:
            stat.observed += 1
        elif outcome.killed_mid_wave or outcome.problem:
            self.report.problems.append(f"failover in wave {wave}: {outcome}")

    def _log_outages(self, testbed: Testbed, link: str) -> None:
        """When each wire of ``link`` was down (outages.jsonl), to line up with waves.jsonl."""
        path = self.directory / "outages.jsonl"
        if not path.exists():
            write_private(path, b"")
            self.outputs.append(path)
        with path.open("a") as handle:
            for wire in testbed.wires[link]:
                spans = _down_spans(testbed.lab.fabric.timeline(wire))
                handle.write(json.dumps({"link": link, "wire": wire, "down": spans}) + "\n")

    # -- the end state -----------------------------------------------------------------
    def _check(self, testbed: Testbed) -> None:
        report = self.report
        journal = open_journal(self._journal(testbed))
        try:
            open_rotations = journal.open_rotations()
            report.open_rotations = len(open_rotations)
            for record in open_rotations:
                report.problems.append(f"rotation {record.id} ({record.link}) left {record.phase}")
            for link in testbed.inventory.links:
                live = testbed.live_ckns(link.name)
                newest = journal.active_keys(link.name, 1)
                shared = bool(live) and None not in live and len(set(live)) == 1
                pair = report.pair(self.link_pairs.get(link.name, "unknown"))
                if not shared:
                    report.problems.append(f"{link.name}: not live on one shared key: {live}")
                elif not newest or live[0] != newest[0].ckn.lower():
                    report.problems.append(f"{link.name}: live key is not the journal's newest")
                else:
                    report.links_live_shared += 1
                    pair.live_shared += 1
                outage = testbed.outage_seconds(link.name)
                report.max_outage_s = max(report.max_outage_s, outage)
                pair.max_outage_s = max(pair.max_outage_s, outage)
                if outage > 0:
                    report.problems.append(f"{link.name}: {outage:.1f} s of outage")
                    self._log_outages(testbed, link.name)
        finally:
            journal.close()
        report.problems += [
            f"{kind}: acted {s.fired} time(s), seen only {s.observed} time(s)"
            for kind, s in report.faults.items()
            if s.observed < s.fired
        ]
        secrets = collect_secrets(testbed)
        files = [*self.outputs, *(_journal_files(testbed) if self.location is None else [])]
        report.canary_values = len(secrets)
        report.canary_files = sum(1 for f in files if f.exists())
        report.canary_hits = scan_files(files, secrets)
        report.problems += [f"secret found: {hit}" for hit in report.canary_hits]


async def _cli_rotate(
    testbed: Testbed,
    out: Path,
    *,
    limit_s: float,
    crash_at: str | None = None,
    trace: Path | None = None,
    journal: str | None = None,
) -> int | None:
    """Run the real CLI's ``rotate --force`` on the testbed as a subprocess, its output in
    ``out``; SIGKILL it after ``limit_s``. Returns its exit code, None when it had to be killed.
    ``crash_at`` arms a crash point (``QKD_MACSEC_CRASH_AT``); otherwise none is inherited."""
    env = {k: v for k, v in os.environ.items() if k != "QKD_MACSEC_CRASH_AT"}
    if crash_at is not None:
        env["QKD_MACSEC_CRASH_AT"] = crash_at
    if journal is not None:
        env[JOURNAL_ENV] = journal
    args = ["rotate", "--force", "-i", str(testbed.inventory_path)]
    if trace is not None:
        args += ["--trace", str(trace)]
    write_private(out, b"")
    with out.open("ab") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "qkd_macsec", *args, env=env, stdout=sink, stderr=sink
        )
        try:
            return await asyncio.wait_for(proc.wait(), timeout=limit_s)
        except TimeoutError:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            return None


def _down_spans(timeline: list[tuple[float, bool, str | None]]) -> list[tuple[str, float]]:
    """(UTC start, seconds) of every span a wire was down after it first came up."""
    spans: list[tuple[str, float]] = []
    seen_live = False
    for i, (start, live, _ckn) in enumerate(timeline):
        if live:
            seen_live = True
        elif seen_live and i + 1 < len(timeline):
            stamp = datetime.fromtimestamp(start, UTC).isoformat(timespec="milliseconds")
            spans.append((stamp, round(timeline[i + 1][0] - start, 3)))
    return spans


def _facts(testbed: Testbed) -> LabFacts:
    inventory = testbed.inventory
    pairs: set[tuple[str, str]] = set()
    for link in inventory.links:
        kmes = {host.kme for host, _ in inventory.link_ends(link) if host.kme}
        master = inventory.host(link.master.host).kme
        for other in kmes - {master}:
            if master is not None:
                pairs.add((min(master, other), max(master, other)))
    timeouts = [host.timeout for host in inventory.hosts.values()]
    return LabFacts(
        routers=sorted(inventory.hosts),
        kmes=sorted(inventory.kmes),
        kme_pairs=sorted(pairs),
        clock_tolerance_s=inventory.policy.clock_tolerance,
        device_timeout_s=float(min(timeouts)),
        activation_margin_s=inventory.policy.min_activation_delay
        + inventory.policy.clock_tolerance,
        platforms={name: host.platform for name, host in inventory.hosts.items()},
    )


def _link_kmes(testbed: Testbed) -> LinkKmes:
    inventory = testbed.inventory
    out: LinkKmes = {}
    for link in inventory.links:
        kmes = [host.kme or "" for host, _ in inventory.link_ends(link)]
        out[link.name] = (kmes[0], frozenset(kmes[1:]))
    return out


def _replace_journal(journal: Path, copy: Path | None, *, with_lock: bool) -> None:
    """Delete the journal (``rm journal.sqlite*``: with its lock file when ``with_lock``), then
    put ``copy`` in its place if given."""
    for suffix in ("", "-wal", "-shm"):
        journal.with_name(journal.name + suffix).unlink(missing_ok=True)
    if with_lock:
        lock_path(journal.resolve()).unlink(missing_ok=True)
    if copy is not None:
        journal.write_bytes(copy.read_bytes())
        journal.chmod(0o600)


def _newest_keys(journal: JournalBackend, links: list[str]) -> dict[str, str | None]:
    """Each link's newest ACTIVE CKN as a journal knows it."""
    out: dict[str, str | None] = {}
    for link in links:
        newest = journal.active_keys(link, 1)
        out[link] = newest[0].ckn.lower() if newest else None
    return out


def _journal_files(testbed: Testbed) -> list[Path]:
    base = Path(testbed.inventory.policy.journal)
    return [base, base.with_name(base.name + "-wal")]


class UnreadLog(logging.Handler):
    """What reconciliation logs about a router it could not read (``… not read (r07: …)``):
    it keeps the journal's key and goes on, so a session fault hitting that read session shows
    only there (found by the long run: 3 session drops seen nowhere else)."""

    LOGGER = LOGGER_NAME + ".engine.adopt"

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "not read (" in message or "cannot read " in message:
            self.messages.append(message)

    def __enter__(self) -> UnreadLog:
        logging.getLogger(self.LOGGER).addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger(self.LOGGER).removeHandler(self)


class ToolLogs:
    """Every record the tool logs (DEBUG and up) goes to a file, through the redaction filter
    the tool's own handlers carry; the previous logger level is restored afterwards."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "controller.trace"
        self._logger = logging.getLogger(LOGGER_NAME)
        self._handler: logging.Handler | None = None
        self._level = self._logger.level

    def __enter__(self) -> list[Path]:
        write_private(self.path, b"")
        handler = logging.FileHandler(self.path)
        handler.setLevel(logging.DEBUG)
        handler.addFilter(RedactionFilter())
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        self._logger.addHandler(handler)
        self._logger.setLevel(logging.DEBUG)
        self._handler = handler
        return [self.path]

    def __exit__(self, *exc: object) -> None:
        if self._handler is not None:
            self._logger.removeHandler(self._handler)
            self._handler.close()
        self._logger.setLevel(self._level)
