"""The bundled demo: the seed's four routers on embedded KMEs and simulated Junos, rotated N times.

Ends with a per-link table — key ID and age, MKA state on every wire, measured outage — and
succeeds only if every link is live on its newest key with an outage of 0.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qkd_macsec.engine.controller import Controller
from qkd_macsec.engine.results import WaveResult
from qkd_macsec.testbed.builder import Testbed, TestbedOptions, bundled_example, start_testbed


@dataclass
class LinkReport:
    link: str
    key_id: str | None
    kcv: str | None
    key_age_s: float | None
    wires: int
    wires_live_on_newest: int
    outage_s: float
    rotations: int

    @property
    def ok(self) -> bool:
        return (
            self.key_id is not None
            and self.wires_live_on_newest == self.wires
            and self.outage_s == 0.0
        )


@dataclass
class DemoReport:
    directory: Path
    waves: list[WaveResult] = field(default_factory=list)
    links: list[LinkReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            bool(self.links)
            and all(link.ok for link in self.links)
            and all(wave.ok for wave in self.waves)
        )

    def summary(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "directory": str(self.directory),
            "seconds": round(self.seconds, 2),
            "waves": [
                {
                    "wave": w.wave,
                    "ok": w.ok,
                    "links": len(w.rotations),
                    "staged_seconds": round(w.staged_seconds, 3),
                }
                for w in self.waves
            ],
            "links": [
                {
                    "link": r.link,
                    "ok": r.ok,
                    "key_id": r.key_id,
                    "kcv": r.kcv,
                    "key_age_s": None if r.key_age_s is None else round(r.key_age_s, 1),
                    "mka_live_on_newest": f"{r.wires_live_on_newest}/{r.wires}",
                    "outage_s": r.outage_s,
                    "rotations": r.rotations,
                }
                for r in self.links
            ],
        }


def link_reports(testbed: Testbed, controller: Controller) -> list[LinkReport]:
    reports = []
    now = datetime.now(UTC)
    for link in testbed.inventory.links:
        active = controller.journal.active_keys(link.name, 100)
        newest = active[0] if active else None
        live = testbed.live_ckns(link.name)
        reports.append(
            LinkReport(
                link=link.name,
                key_id=newest.key_id if newest else None,
                kcv=controller.journal.get(newest.rotation_id).kcv if newest else None,
                key_age_s=(now - newest.activated).total_seconds() if newest else None,
                wires=len(live),
                wires_live_on_newest=sum(
                    1 for ckn in live if newest and ckn and ckn.lower() == newest.ckn.lower()
                ),
                outage_s=round(testbed.outage_seconds(link.name), 6),
                rotations=len(active),
            )
        )
    return reports


async def _rotate(testbed: Testbed, rotations: int, report: DemoReport) -> None:
    async with Controller(testbed.inventory) as controller:
        for index in range(rotations):
            report.waves.append(await controller.rotate(all_links=index > 0))
        report.links = link_reports(testbed, controller)


def run_demo(
    rotations: int = 3,
    directory: Path | None = None,
    *,
    options: TestbedOptions | None = None,
    example: str = "seed-lab",
) -> DemoReport:
    """Start the bundled example, bootstrap it, rotate ``rotations - 1`` more times, report."""
    started = time.monotonic()
    workdir = directory or Path(tempfile.mkdtemp(prefix="qkd-macsec-demo-"))
    options = options or TestbedOptions(
        policy={"min_activation_delay": "3s", "clock_tolerance": "1s"},
        clock_offsets={"mx10008-23": 0.4, "mx10008-24": -0.3},
    )
    report = DemoReport(workdir)
    with start_testbed(bundled_example(example), workdir, options) as testbed:
        asyncio.run(_rotate(testbed, rotations, report))
    report.seconds = time.monotonic() - started
    return report
