"""Rich tables and JSON summaries of wave results and link status."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from qkd_macsec.engine.events import Observer, ProgressStep
from qkd_macsec.engine.observers import on
from qkd_macsec.engine.results import WaveResult
from qkd_macsec.report.tables import Column, FitTable, short_id


def wave_summary(result: WaveResult) -> dict[str, object]:
    return {
        "wave": result.wave,
        "started": result.started.isoformat(),
        "finished": result.finished.isoformat() if result.finished else None,
        "activation": result.activation.isoformat() if result.activation else None,
        "staged_seconds": round(result.staged_seconds, 3),
        "ok": result.ok,
        "links": {
            name: {
                "ok": r.ok,
                "phase": r.phase.value,
                "reason": r.reason,
                "key_id": r.key_id,
                "kcv": r.kcv,
                "slot": r.slot,
                "verified": r.verified,
                "error": r.error,
            }
            for name, r in result.rotations.items()
        },
        "devices": {
            name: {
                "ok": d.ok,
                "commits": d.commits,
                "session_seconds": round(d.session_seconds, 3),
                "clock_offset": round(d.clock_offset, 3),
                "error": d.error,
            }
            for name, d in result.devices.items()
        },
        "skipped": result.skipped,
        "conflicts": result.conflicts,
    }


def print_wave(
    console: Console, result: WaveResult, *, as_json: bool = False, wide: bool = False
) -> None:
    if as_json:
        console.print_json(json.dumps(wave_summary(result)))
        return
    for name, why in sorted(result.conflicts.items()):
        console.print(f"[red]{name}: not rotated[/]: {why}")
    if not result.rotations:
        console.print(f"wave {result.wave}: nothing due ({len(result.skipped)} link(s) skipped)")
        return
    table = FitTable(
        f"wave {result.wave}",
        [
            Column("link"),
            Column("why"),
            Column("result"),
            Column("key ID"),
            Column("kcv"),
            Column("slot", justify="right"),
            Column("note", wrap=True, optional=True),
        ],
    )
    for name, r in sorted(result.rotations.items()):
        status = Text("ok", style="green") if r.ok else Text(r.phase.value.lower(), style="red")
        table.add_row(
            name,
            r.reason,
            status,
            short_id(r.key_id, wide=wide),
            r.kcv or "-",
            "-" if r.slot is None else str(r.slot),
            r.error or "",
        )
    console.print(table)
    age = ((result.finished or datetime.now(UTC)) - result.started).total_seconds()
    console.print(
        f"{len(result.rotations) - len(result.failed_links)}/{len(result.rotations)} link(s) "
        f"rotated on {len(result.devices)} device(s); staged in {result.staged_seconds:.2f}s, "
        f"wave took {age:.1f}s"
    )


STEP_LABELS = {
    "keys": "keys fetched (links)",
    "staged": "staged (routers)",
    "verified": "live (links)",
}


@contextlib.contextmanager
def wave_progress(enabled: bool) -> Iterator[Observer | None]:
    """A live progress display of a wave on stderr (only for a terminal), as an observer of
    the executor's :class:`~qkd_macsec.engine.events.ProgressStep` events."""
    if not enabled:
        yield None
        return
    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:

        def update(event: ProgressStep) -> None:
            if event.step not in tasks:
                label = STEP_LABELS.get(event.step, event.step)
                tasks[event.step] = progress.add_task(label, total=event.total)
            progress.update(tasks[event.step], completed=event.done, total=event.total)

        yield on(ProgressStep, update)
