"""The bundled demo: an example lab on embedded KMEs and simulated routers, rotated N times.

``seed`` (the default): the seed's four Junos routers. ``multi-vendor``: Junos and IOS XR
routers in one lab (Junos ↔ Junos and Junos ↔ IOS XR links; a data-centre platform joins by its
extension file, see :mod:`qkd_macsec.testbed.examples`). Ends with a per-link table — the
platforms and ends, key ID and age, MKA state on every wire, measured outage — and succeeds only
if every link is live on its newest key with an outage of 0.
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
from qkd_macsec.testbed.builder import Testbed, TestbedOptions, start_testbed
from qkd_macsec.testbed.examples import DEMO_LABS, EXAMPLES_DIR, compose_example, usable_platforms
from qkd_macsec.testbed.links import LinkEnd, link_ends, platform_pair


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
    ends: list[LinkEnd] = field(default_factory=list)
    platforms: str = ""  # "junos-iosxr": the link's platform pair

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
                    "platforms": r.platforms,
                    "ends": [end.to_json() for end in r.ends],
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
                ends=link_ends(testbed.inventory, link),
                platforms=platform_pair(testbed.inventory, link),
            )
        )
    return reports


async def _rotate(testbed: Testbed, rotations: int, report: DemoReport) -> None:
    async with Controller(testbed.inventory) as controller:
        for index in range(rotations):
            report.waves.append(await controller.rotate(all_links=index > 0))
        report.links = link_reports(testbed, controller)


#: Clock offsets and zones per lab: the demo shows that neither costs an outage.
_LAB_OPTIONS: dict[str, dict[str, Any]] = {
    "seed": {"clock_offsets": {"mx10008-23": 0.4, "mx10008-24": -0.3}},
    "multi-vendor": {
        "clock_offsets": {"mx304-12": 0.4, "asr9k-31": -0.3},
        "time_zones": {"asr9k-31": "Europe/Berlin"},
    },
}


def run_demo(
    rotations: int = 3,
    directory: Path | None = None,
    *,
    options: TestbedOptions | None = None,
    example: str | None = None,
    lab: str = "seed",
) -> DemoReport:
    """Start demo lab ``lab`` (or the bundled ``example`` directory), bootstrap it, rotate
    ``rotations - 1`` more times, report."""
    if lab not in DEMO_LABS:
        raise ValueError(f"unknown demo lab {lab!r} (known: {', '.join(DEMO_LABS)})")
    started = time.monotonic()
    workdir = directory or Path(tempfile.mkdtemp(prefix="qkd-macsec-demo-"))
    options = options or TestbedOptions(
        policy={"min_activation_delay": "3s", "clock_tolerance": "1s"}, **_LAB_OPTIONS[lab]
    )
    document = compose_example(EXAMPLES_DIR / (example or DEMO_LABS[lab]), usable_platforms())
    report = DemoReport(workdir)
    with start_testbed(document, workdir, options) as testbed:
        asyncio.run(_rotate(testbed, rotations, report))
    report.seconds = time.monotonic() - started
    return report
