"""``qkd-macsec report``: a PNG and HTML timeline of rotations per link, from the journal alone.

Per link, each rotation is a bar from its start (PLANNED) to its last update, coloured by how it
ended; a marker shows the instant its key took over, and a thin band shows how long that key was
in force (until the next key took over, or now). MKA state is what verification found: a filled
marker means the new CKN was seen live on every end; a hollow one means it was not confirmed.
The journal holds no keys, so neither does the report.
"""

from __future__ import annotations

import base64
import html
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from qkd_macsec.engine.journal import Journal, Phase, RotationRecord

PNG_NAME = "timeline.png"
HTML_NAME = "timeline.html"
MAX_LINKS = 60  # rows in the picture; the HTML table lists every rotation read

COLOURS = {
    "ok": "#2e7d32",
    "unverified": "#f9a825",
    "aborted": "#ef6c00",
    "failed": "#c62828",
    "open": "#757575",
}


@dataclass(frozen=True)
class TimelineEntry:
    """One rotation as the report shows it (no secrets: IDs and check values only)."""

    link: str
    wave: str
    started: datetime
    ended: datetime
    took_over: datetime | None  # when its key went into force (None: it never did)
    outcome: str  # ok | unverified | aborted | failed | open
    key_id: str | None
    kcv: str | None
    error: str | None

    @property
    def mka(self) -> str:
        return {"ok": "live on new CKN", "unverified": "not confirmed"}.get(self.outcome, "-")


@dataclass(frozen=True)
class ReportFiles:
    png: Path
    html: Path
    links: int
    rotations: int


def outcome(record: RotationRecord) -> str:
    if record.phase is Phase.ACTIVE:
        return "ok" if record.error is None else "unverified"
    if record.phase is Phase.ABORTED:
        return "aborted"
    if record.phase is Phase.FAILED:
        return "failed"
    return "open"


def timeline_entries(records: Iterable[RotationRecord]) -> list[TimelineEntry]:
    """Journal records (any order) as entries, oldest first."""
    entries = []
    for record in records:
        result = outcome(record)
        took_over = None
        if result in ("ok", "unverified"):
            took_over = record.start_time or record.updated
        entries.append(
            TimelineEntry(
                link=record.link,
                wave=record.wave,
                started=record.created,
                ended=max(record.updated, record.created),
                took_over=took_over,
                outcome=result,
                key_id=record.key_id,
                kcv=record.kcv,
                error=record.error,
            )
        )
    entries.sort(key=lambda e: (e.started, e.link))
    return entries


def in_force_spans(
    entries: Sequence[TimelineEntry], now: datetime
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Per link, how long each key that took over stayed in force."""
    by_link: dict[str, list[datetime]] = defaultdict(list)
    for entry in entries:
        if entry.took_over is not None:
            by_link[entry.link].append(entry.took_over)
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for link, starts in by_link.items():
        starts.sort()
        ends = [*starts[1:], max(now, starts[-1])]
        spans[link] = list(zip(starts, ends, strict=True))
    return spans


def render_png(entries: Sequence[TimelineEntry], path: Path, now: datetime) -> int:
    """Draw the timeline (at most :data:`MAX_LINKS` links, most recently rotated); returns
    how many links are drawn."""
    latest: dict[str, datetime] = {}
    for entry in entries:
        latest[entry.link] = max(latest.get(entry.link, entry.ended), entry.ended)
    links = sorted(sorted(latest, key=lambda k: latest[k], reverse=True)[:MAX_LINKS])
    row = {link: index for index, link in enumerate(links)}
    origin = min((e.started for e in entries), default=now)

    def x(instant: datetime) -> float:
        return (instant - origin).total_seconds()

    figure = Figure(figsize=(12, 1.6 + 0.32 * max(len(links), 1)), dpi=100)
    axes = figure.add_subplot()
    for link, spans in in_force_spans(entries, now).items():
        if link in row:
            for start, end in spans:
                axes.broken_barh(
                    [(x(start), x(end) - x(start))],
                    (row[link] - 0.08, 0.16),
                    facecolors="#a5d6a7",
                )
    for entry in entries:
        if entry.link not in row:
            continue
        y = row[entry.link]
        width = max(x(entry.ended) - x(entry.started), 1e-3)
        axes.broken_barh(
            [(x(entry.started), width)], (y - 0.3, 0.6), facecolors=COLOURS[entry.outcome]
        )
        if entry.took_over is not None:
            filled = entry.outcome == "ok"
            axes.plot(
                [x(entry.took_over)],
                [y],
                marker="v",
                markersize=8,
                color="black",
                markerfacecolor="black" if filled else "white",
                linestyle="none",
            )
    axes.set_yticks(range(len(links)), labels=links)
    axes.set_ylim(-0.8, max(len(links), 1) - 0.2)
    axes.invert_yaxis()
    axes.set_xlabel(f"seconds since {origin.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")
    axes.set_title("qkd-macsec rotations per link")
    axes.grid(axis="x", alpha=0.3)
    handles: list[Patch | Line2D] = [
        Patch(facecolor=colour, label=name) for name, colour in COLOURS.items()
    ]
    handles.append(Patch(facecolor="#a5d6a7", label="key in force"))
    handles.append(
        Line2D([], [], marker="v", color="black", linestyle="none", label="took over (MKA live)")
    )
    handles.append(
        Line2D(
            [],
            [],
            marker="v",
            color="black",
            markerfacecolor="white",
            linestyle="none",
            label="took over (MKA not confirmed)",
        )
    )
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    figure.tight_layout()
    figure.savefig(path, format="png")
    return len(links)


def _cell(value: object) -> str:
    if value is None:
        return "<td>-</td>"
    if isinstance(value, datetime):
        value = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return f"<td>{html.escape(str(value))}</td>"


def render_html(entries: Sequence[TimelineEntry], png: Path, path: Path, drawn: int) -> None:
    """A self-contained page: the PNG inline, then every rotation as a table row."""
    image = base64.b64encode(png.read_bytes()).decode("ascii")
    rows = "\n".join(
        f'<tr class="{e.outcome}">'
        + "".join(
            _cell(v)
            for v in (
                e.link,
                e.wave,
                e.outcome,
                e.mka,
                e.key_id,
                e.kcv,
                e.started,
                e.took_over,
                f"{(e.ended - e.started).total_seconds():.2f}",
                e.error,
            )
        )
        + "</tr>"
        for e in reversed(entries)
    )
    links = len({e.link for e in entries})
    note = "" if drawn >= links else f" (picture: the {drawn} most recently rotated)"
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>qkd-macsec rotation timeline</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; font-size: 0.85em; }}
td, th {{ border: 1px solid #ccc; padding: 2px 6px; text-align: left; }}
tr.ok td:nth-child(3) {{ color: {COLOURS["ok"]}; }}
tr.unverified td:nth-child(3) {{ color: {COLOURS["unverified"]}; }}
tr.aborted td:nth-child(3) {{ color: {COLOURS["aborted"]}; }}
tr.failed td:nth-child(3) {{ color: {COLOURS["failed"]}; }}
</style></head><body>
<h1>qkd-macsec rotation timeline</h1>
<p>{len(entries)} rotation(s) on {links} link(s){html.escape(note)}.</p>
<img alt="rotation timeline" src="data:image/png;base64,{image}">
<table><thead><tr><th>link</th><th>wave</th><th>result</th><th>MKA</th><th>key ID</th>
<th>KCV</th><th>started (UTC)</th><th>took over (UTC)</th><th>seconds</th><th>error</th></tr>
</thead><tbody>
{rows}
</tbody></table></body></html>
"""
    path.write_text(page, encoding="utf-8")


def write_report(
    journal: Journal,
    out: Path,
    *,
    links: Iterable[str] | None = None,
    limit: int = 5000,
    now: datetime | None = None,
) -> ReportFiles:
    """Write ``timeline.png`` and ``timeline.html`` into ``out`` from the last ``limit``
    rotations (of ``links`` only, if given)."""
    now = now or datetime.now(UTC)
    wanted = None if links is None else set(links)
    records = [r for r in journal.rotations(limit=limit) if wanted is None or r.link in wanted]
    entries = timeline_entries(records)
    out.mkdir(parents=True, exist_ok=True)
    png, page = out / PNG_NAME, out / HTML_NAME
    drawn = render_png(entries, png, now)
    render_html(entries, png, page, drawn)
    return ReportFiles(png, page, len({e.link for e in entries}), len(entries))
