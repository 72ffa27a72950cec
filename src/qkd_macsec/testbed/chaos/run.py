"""The chaos run: a lab, many forced waves with faults injected, then the end-state checks.

The controller runs in this process (so the run sees every KME request and wave result), except
in kill waves: then the real CLI runs as a subprocess and dies by SIGKILL at a random moment or
at a crash point (``QKD_MACSEC_CRASH_AT``); the next controller recovers what it left open.
Everything random comes from one seeded RNG, so a seed reproduces the faults (wall-clock timing
still varies).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from qkd_macsec.engine.controller import Controller, ControllerOptions
from qkd_macsec.engine.journal import Journal, Phase
from qkd_macsec.engine.results import WaveResult
from qkd_macsec.etsi014.client import ClientOptions, RequestRecord
from qkd_macsec.etsi014.retry import RetryPolicy
from qkd_macsec.obs.logging import LOGGER_NAME, RedactionFilter
from qkd_macsec.pki.files import write_private
from qkd_macsec.testbed.builder import Testbed, TestbedOptions, start_testbed
from qkd_macsec.testbed.chaos.canary import collect_secrets, scan_files
from qkd_macsec.testbed.chaos.faults import Fault, FaultKind, LabFacts, fault_schedule
from qkd_macsec.testbed.chaos.inject import FaultInjector
from qkd_macsec.testbed.chaos.lab import ChaosLabShape, chaos_lab_document
from qkd_macsec.testbed.chaos.observe import (
    LinkKmes,
    device_evidence,
    fired,
    kme_evidence,
    request_outcome,
)
from qkd_macsec.testbed.chaos.report import ChaosReport

CLIENT_TIMEOUT_S = 2.0
SUBPROCESS_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ChaosOptions:
    seed: int = 1
    waves: int = 10
    min_rotations: int = 0  # keep adding waves until this many rotations ended live
    max_waves: int = 400
    shape: ChaosLabShape = field(default_factory=ChaosLabShape)
    preceding_hold_s: float = 30.0


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
        self.records: list[RequestRecord] = []
        self.link_kmes: LinkKmes = {}
        self.waves_log = directory / "waves.jsonl"
        self.outputs: list[Path] = [self.waves_log]

    # -- the campaign ------------------------------------------------------------------
    async def main(self) -> ChaosReport:
        started = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True)
        write_private(self.waves_log, b"")
        document = chaos_lab_document(self.options.shape)
        testbed_options = TestbedOptions(preceding_hold_s=self.options.preceding_hold_s)
        with (
            ToolLogs(self.directory) as logs,
            start_testbed(document, self.directory / "testbed", testbed_options) as testbed,
        ):
            self.outputs.extend(logs)
            await self._campaign(testbed)
            self._check(testbed)
        self.report.seconds = round(time.monotonic() - started, 1)
        report_path = self.directory / "report.json"
        write_private(report_path, json.dumps(self.report.to_json(), indent=2).encode())
        return self.report

    def _controller(self, testbed: Testbed) -> Controller:
        options = ControllerOptions(
            verify_timeout=8.0,
            kme=ClientOptions(
                timeout=CLIENT_TIMEOUT_S,
                connect_timeout=CLIENT_TIMEOUT_S,
                dec_keys_wait=testbed.inventory.policy.dec_keys_wait,
                retry=RetryPolicy(attempts=3, backoff_base=0.1, backoff_max=0.5),
            ),
        )
        return Controller(testbed.inventory, options, on_kme_request=self.records.append)

    async def _campaign(self, testbed: Testbed) -> None:
        injector = FaultInjector(testbed, CLIENT_TIMEOUT_S)
        facts = _facts(testbed)
        self.link_kmes = _link_kmes(testbed)
        length = self.options.max_waves if self.options.min_rotations else self.options.waves
        schedule = fault_schedule(self.rng, length, facts)
        controller = self._controller(testbed)
        try:
            boot = await controller.rotate()
            if not boot.ok:
                self.report.problems.append(f"bootstrap failed: {boot.failed_links}")
            lasting: dict[int, int] = {}  # injector handle -> waves left
            for wave, faults in enumerate(schedule):
                if self._enough(wave):
                    break
                self.report.waves += 1
                if faults and faults[0].kind is FaultKind.CONTROLLER_KILL:
                    before = controller.journal.counts()
                    await controller.aclose()
                    await self._kill_wave(testbed, faults[0], wave)
                    controller = self._controller(testbed)
                    recovered = await controller.recover()
                    self.report.recovered += recovered.touched
                    self._count_journal(before, controller.journal.counts(), faults[0].kind)
                    continue
                await self._fault_wave(controller, injector, faults, lasting)
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
        controller: Controller,
        injector: FaultInjector,
        faults: list[Fault],
        lasting: dict[int, int],
    ) -> None:
        self.records.clear()
        handles: dict[int, Fault] = {}

        async def inject(fault: Fault) -> None:
            if fault.during_s is not None:
                await asyncio.sleep(fault.during_s)
            handle = await asyncio.to_thread(injector.apply, fault)
            handles[handle] = fault
            if fault.waves > 1:
                lasting[handle] = fault.waves

        before = [f for f in faults if f.during_s is None]
        for fault in before:
            await inject(fault)
        during = [asyncio.create_task(inject(f)) for f in faults if f.during_s is not None]
        try:
            result = await controller.rotate(all_links=True)
        finally:
            await asyncio.gather(*during)
        for fault in faults:
            self._observe(fault, result, injector)
        self._log_wave(faults, result)
        self._count(result, faults)
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
        seen = kme_evidence(fault, self.records, result) or device_evidence(fault, result)
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
        for kind in {f.kind for f in faults}:
            stat = self.report.stat(kind)
            stat.rotations += len(rotations)
            stat.rotated += rotated
            stat.aborted += aborted
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
        env = dict(os.environ)
        env.pop("QKD_MACSEC_CRASH_AT", None)
        if fault.detail != "sigkill":
            env["QKD_MACSEC_CRASH_AT"] = fault.detail
        trace = self.directory / f"kill-{wave:03d}.trace"
        out = self.directory / f"kill-{wave:03d}.out"
        self.outputs += [trace, out]
        write_private(out, b"")  # the CLI's summary: key IDs and CKNs, no secrets
        with out.open("ab") as sink:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "qkd_macsec",
                "rotate",
                "--force",
                "-i",
                str(testbed.inventory_path),
                "--trace",
                str(trace),
                env=env,
                stdout=sink,
                stderr=sink,
            )
            limit = fault.value if fault.detail == "sigkill" else SUBPROCESS_TIMEOUT_S
            try:
                await asyncio.wait_for(proc.wait(), timeout=limit)
            except TimeoutError:
                proc.send_signal(signal.SIGKILL)
                await proc.wait()
        killed = proc.returncode in (-signal.SIGKILL, 99)
        stat.fired += int(killed)
        stat.observed += int(killed)

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
        journal = Journal(testbed.inventory.policy.journal)
        try:
            open_rotations = journal.open_rotations()
            report.open_rotations = len(open_rotations)
            for record in open_rotations:
                report.problems.append(f"rotation {record.id} ({record.link}) left {record.phase}")
            for link in testbed.inventory.links:
                live = testbed.live_ckns(link.name)
                newest = journal.active_keys(link.name, 1)
                shared = bool(live) and None not in live and len(set(live)) == 1
                if not shared:
                    report.problems.append(f"{link.name}: not live on one shared key: {live}")
                elif not newest or live[0] != newest[0].ckn.lower():
                    report.problems.append(f"{link.name}: live key is not the journal's newest")
                else:
                    report.links_live_shared += 1
                outage = testbed.outage_seconds(link.name)
                report.max_outage_s = max(report.max_outage_s, outage)
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
        files = [*self.outputs, *_journal_files(testbed)]
        report.canary_values = len(secrets)
        report.canary_files = sum(1 for f in files if f.exists())
        report.canary_hits = scan_files(files, secrets)
        report.problems += [f"secret found: {hit}" for hit in report.canary_hits]


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
    return LabFacts(
        routers=sorted(inventory.hosts),
        kmes=sorted(inventory.kmes),
        kme_pairs=sorted(pairs),
        clock_tolerance_s=inventory.policy.clock_tolerance,
    )


def _link_kmes(testbed: Testbed) -> LinkKmes:
    inventory = testbed.inventory
    out: LinkKmes = {}
    for link in inventory.links:
        kmes = [host.kme or "" for host, _ in inventory.link_ends(link)]
        out[link.name] = (kmes[0], frozenset(kmes[1:]))
    return out


def _journal_files(testbed: Testbed) -> list[Path]:
    base = Path(testbed.inventory.policy.journal)
    return [base, base.with_name(base.name + "-wal")]


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
