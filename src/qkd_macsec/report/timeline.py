"""``qkd-macsec report``: a PNG and a self-contained HTML page of rotations, from the journal alone.

Everything is on a wall-clock UTC axis. Each rotation is a mark at its start (ENC: the wave
planned it and asked the KME for its key), coloured by how it ended; a thin band shows how long
each key that took over stayed in force. Above the picture, a summary (results, the median and
worst ENC→active time) and one row per link (results, last key, whether MKA was confirmed live,
measured outage). The HTML draws the same timeline as inline SVG whose marks show key ID, KCV
and durations on hover, and embeds the rotations as JSON: no script or font is fetched.

The journal holds key IDs, CKNs and key check values, never a key: the report shows key IDs and
KCVs only. It does not hold outage either (the routers do not report it to the controller).

Given each link's platforms (``platforms``: link → its ends' platforms, from the inventory), each
link row names its platform pair (``junos``, ``junos/iosxr``) and a per-pair table sums the
rotations of every pair, so a mixed-vendor fleet's links can be judged separately.
"""

from __future__ import annotations

import base64
import html
import json
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from qkd_macsec.engine.journal import JournalBackend, Phase, RotationRecord
from qkd_macsec.engine.posture_record import recorded_postures
from qkd_macsec.report.posture import posture_html

PNG_NAME = "timeline.png"
HTML_NAME = "timeline.html"
MAX_LINKS = 60  # rows in the PNG; the HTML draws and lists every rotation read
OUTAGE_NOT_MEASURED = "not measured by the controller"

OUTCOMES = ("ok", "unverified", "aborted", "failed", "open")
COLOURS = {
    "ok": "#2e7d32",
    "unverified": "#f9a825",
    "aborted": "#ef6c00",
    "failed": "#c62828",
    "open": "#757575",
}
MARKERS = {"ok": "o", "unverified": "D", "aborted": "v", "failed": "X", "open": "s"}
IN_FORCE = "#c8e6c9"
_DIGITS = re.compile(r"(\d+)")
MEANING = {
    "ok": "live on the new key, MKA confirmed on every end",
    "unverified": "the key took over, MKA not seen live on it before the verify timeout",
    "aborted": "undone: the link stayed on its previous key",
    "failed": "could not be undone, needs attention: see qkd-macsec status",
    "open": "in progress, or interrupted (the next run recovers it)",
}


@dataclass(frozen=True)
class TimelineEntry:
    """One rotation as the report shows it (no secrets: IDs and check values only)."""

    rotation_id: int
    link: str
    wave: str
    started: datetime  # PLANNED: the wave's start for this link, right before ENC
    ended: datetime  # its last journal update (for ACTIVE: the ACTIVE event)
    took_over: datetime | None  # when its key went into force (None: it never did)
    outcome: str  # ok | unverified | aborted | failed | open
    key_id: str | None
    kcv: str | None
    error: str | None

    @property
    def mka(self) -> str:
        return {"ok": "live on new CKN", "unverified": "not confirmed"}.get(self.outcome, "-")

    @property
    def seconds(self) -> float:
        """From its start to its last update (for ok: until MKA was confirmed live)."""
        return (self.ended - self.started).total_seconds()

    @property
    def enc_to_active(self) -> float | None:
        """Seconds from ENC (its start) until its key took over; None if it never did."""
        if self.took_over is None:
            return None
        return max(0.0, (self.took_over - self.started).total_seconds())


@dataclass(frozen=True)
class LinkSummary:
    """Per link: how its rotations ended, the key it runs on, and what is known of MKA."""

    link: str
    counts: dict[str, int]
    last_key_id: str | None
    last_kcv: str | None
    last_took_over: datetime | None
    mka: str
    outage: str = OUTAGE_NOT_MEASURED
    platforms: str = ""  # the platform pair, ``junos/iosxr`` ("" when not known)


@dataclass(frozen=True)
class PairSummary:
    """Per platform pair (``junos``, ``junos/iosxr``): its links' rotations by result and the
    median ENC→active time."""

    pair: str
    links: int
    counts: dict[str, int]
    enc_to_active_median: float | None


@dataclass(frozen=True)
class Summary:
    rotations: int
    links: int
    counts: dict[str, int]
    first: datetime | None
    last: datetime | None
    enc_to_active_median: float | None
    worst: TimelineEntry | None  # the slowest ENC→active
    per_link: list[LinkSummary] = field(default_factory=list)
    per_pair: list[PairSummary] = field(default_factory=list)


@dataclass(frozen=True)
class ReportFiles:
    png: Path
    html: Path
    links: int
    rotations: int
    counts: dict[str, int] = field(default_factory=dict)  # rotations by result
    pairs: dict[str, dict[str, int]] = field(default_factory=dict)  # platform pair -> counts

    @property
    def results(self) -> str:
        """``49 ok, 3 unverified, ...`` (results with no rotation left out)."""
        return ", ".join(f"{n} {name}" for name in OUTCOMES if (n := self.counts.get(name, 0)))


def link_order(link: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting ``l2`` before ``l10``: digit runs compare as numbers."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(link))


def outcome(record: RotationRecord) -> str:
    if record.phase is Phase.ACTIVE:
        return "ok" if record.error is None else "unverified"
    if record.phase is Phase.ABORTED:
        return "aborted"
    if record.phase is Phase.FAILED:
        return "failed"
    return "open"


def timeline_entries(records: Iterable[RotationRecord]) -> list[TimelineEntry]:
    """Journal records (any order) as entries, oldest first.

    A key takes over at its start-time (key-chain mode), else when the rotation became
    ACTIVE: for a finished ACTIVE rotation that is its last update, the ACTIVE event.
    """
    entries = []
    for record in records:
        result = outcome(record)
        took_over = None
        if result in ("ok", "unverified"):
            took_over = record.start_time or record.updated
        entries.append(
            TimelineEntry(
                rotation_id=record.id,
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
    entries.sort(key=lambda e: (e.started, e.link, e.rotation_id))
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


def platform_pair(platforms: Sequence[str]) -> str:
    """A link's platforms as one label, master's first, each once: ``junos/iosxr``."""
    return "/".join(dict.fromkeys(platforms))


def summarize(
    entries: Sequence[TimelineEntry], platforms: Mapping[str, Sequence[str]] | None = None
) -> Summary:
    """The numbers above the picture: totals, ENC→active median and worst, per link, and per
    platform pair (links whose platforms are not known are left out of that one)."""
    pairs = {link: platform_pair(names) for link, names in (platforms or {}).items()}
    by_link: dict[str, list[TimelineEntry]] = defaultdict(list)
    for entry in entries:
        by_link[entry.link].append(entry)
    per_link = []
    for link in sorted(by_link, key=link_order):
        rows = by_link[link]  # oldest first
        counts = Counter(e.outcome for e in rows)
        current = next((e for e in reversed(rows) if e.took_over is not None), None)
        if current is None:
            mka = "no key has taken over yet"
        elif current.outcome == "ok":
            mka = "yes: live on the newest key on every end"
        else:
            mka = f"no: {current.error or 'not confirmed'}"
        per_link.append(
            LinkSummary(
                link=link,
                counts={name: counts.get(name, 0) for name in OUTCOMES},
                last_key_id=current.key_id if current else None,
                last_kcv=current.kcv if current else None,
                last_took_over=current.took_over if current else None,
                mka=mka,
                platforms=pairs.get(link, ""),
            )
        )
    timed = [e for e in entries if e.enc_to_active is not None]
    seconds = [e.enc_to_active for e in timed if e.enc_to_active is not None]
    totals = Counter(e.outcome for e in entries)
    return Summary(
        rotations=len(entries),
        links=len(by_link),
        counts={name: totals.get(name, 0) for name in OUTCOMES},
        first=min((e.started for e in entries), default=None),
        last=max((e.ended for e in entries), default=None),
        enc_to_active_median=statistics.median(seconds) if seconds else None,
        worst=max(timed, key=lambda e: e.enc_to_active or 0.0) if timed else None,
        per_link=per_link,
        per_pair=_per_pair(entries, pairs),
    )


def _per_pair(entries: Sequence[TimelineEntry], pairs: Mapping[str, str]) -> list[PairSummary]:
    by_pair: dict[str, list[TimelineEntry]] = defaultdict(list)
    for entry in entries:
        if entry.link in pairs:
            by_pair[pairs[entry.link]].append(entry)
    out = []
    for pair in sorted(by_pair):
        rows = by_pair[pair]
        counts = Counter(e.outcome for e in rows)
        seconds = [e.enc_to_active for e in rows if e.enc_to_active is not None]
        out.append(
            PairSummary(
                pair=pair,
                links=len({e.link for e in rows}),
                counts={name: counts.get(name, 0) for name in OUTCOMES},
                enc_to_active_median=statistics.median(seconds) if seconds else None,
            )
        )
    return out


def _utc(instant: datetime | None, seconds: bool = True) -> str:
    if instant is None:
        return "-"
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[name]} {name}" for name in OUTCOMES if counts[name])


# -- PNG ------------------------------------------------------------------------------------
def _num(instant: datetime) -> float:
    """Matplotlib's date number for ``instant`` (``matplotlib.dates`` has no type hints)."""
    return float(mdates.date2num(instant))  # type: ignore[no-untyped-call]


def render_png(entries: Sequence[TimelineEntry], path: Path, now: datetime) -> int:
    """Draw the timeline (at most :data:`MAX_LINKS` links, most recently rotated) over the
    ENC→active time of each rotation; returns how many links are drawn."""
    latest: dict[str, datetime] = {}
    for entry in entries:
        latest[entry.link] = max(latest.get(entry.link, entry.ended), entry.ended)
    links = sorted(
        sorted(latest, key=lambda k: latest[k], reverse=True)[:MAX_LINKS], key=link_order
    )
    row = {link: index for index, link in enumerate(links)}
    summary = summarize(entries)

    height = 3.4 + 0.3 * max(len(links), 1)
    figure = Figure(figsize=(12, height), dpi=100)
    grid = figure.add_gridspec(2, 1, height_ratios=[max(len(links), 2) * 0.3 + 0.6, 1.6])
    axes = figure.add_subplot(grid[0])
    speed = figure.add_subplot(grid[1], sharex=axes)

    for link, spans in in_force_spans(entries, now).items():
        if link in row:  # one collection per link: thousands of artists take seconds to add
            axes.broken_barh(
                [(_num(start), _num(end) - _num(start)) for start, end in spans],
                (row[link] - 0.12, 0.24),
                facecolors=IN_FORCE,
                edgecolors="none",
            )
    for name in OUTCOMES:
        mine = [e for e in entries if e.outcome == name and e.link in row]
        if not mine:
            continue
        axes.scatter(
            [_num(e.started) for e in mine],
            [row[e.link] for e in mine],
            s=46,
            marker=MARKERS[name],
            color=COLOURS[name],
            edgecolors="black",
            linewidths=0.5,
            zorder=3,
        )
        timed = [e for e in mine if e.enc_to_active is not None]
        if timed:
            speed.scatter(
                [_num(e.started) for e in timed],
                [e.enc_to_active or 0.0 for e in timed],
                s=22,
                marker=MARKERS[name],
                color=COLOURS[name],
                edgecolors="black",
                linewidths=0.4,
                zorder=3,
            )
    axes.set_yticks(range(len(links)), labels=links)
    axes.set_ylim(-0.8, max(len(links), 1) - 0.2)
    axes.invert_yaxis()
    axes.grid(axis="x", alpha=0.3)
    axes.tick_params(axis="x", labelbottom=False)
    counts = _counts_line(summary.counts) or "none"
    axes.set_title(
        f"qkd-macsec rotations: {summary.rotations} on {summary.links} link(s) ({counts}); "
        f"{_utc(summary.first, False)} to {_utc(summary.last, False)} UTC",
        fontsize=10,
        loc="left",
    )
    if summary.enc_to_active_median is not None:
        speed.axhline(summary.enc_to_active_median, color="#555555", linestyle="--", linewidth=1)
        worst = summary.worst
        assert worst is not None
        speed.annotate(
            f"worst: {worst.link}",
            (_num(worst.started), worst.enc_to_active or 0.0),
            xytext=(8, -4),
            textcoords="offset points",
            fontsize=8,
        )
        speed.set_title(
            f"ENC→active per rotation: median {_secs(summary.enc_to_active_median)}, "
            f"worst {_secs(worst.enc_to_active)} ({worst.link}, {_utc(worst.started)} UTC)",
            fontsize=9,
            loc="left",
        )
    else:
        speed.set_title("ENC→active per rotation: no key has taken over", fontsize=9, loc="left")
    speed.set_ylabel("seconds")
    highest = max((e.enc_to_active or 0.0 for e in entries), default=0.0)
    speed.set_ylim(0, max(highest * 1.2, 1.0))
    speed.grid(alpha=0.3)
    locator = mdates.AutoDateLocator(tz=UTC, minticks=4, maxticks=10)  # type: ignore[no-untyped-call]
    speed.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    speed.xaxis.set_major_formatter(formatter)
    speed.set_xlabel("time (UTC)")
    if not entries:
        speed.set_xlim(_num(now - timedelta(hours=1)), _num(now))

    handles: list[Patch | Line2D] = [
        Line2D(
            [],
            [],
            marker=MARKERS[name],
            color=COLOURS[name],
            markeredgecolor="black",
            markeredgewidth=0.5,
            linestyle="none",
            label=name,
        )
        for name in OUTCOMES
    ]
    handles.append(Patch(facecolor=IN_FORCE, label="key in force"))
    handles.append(Line2D([], [], color="#555555", linestyle="--", label="median ENC→active"))
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    figure.tight_layout()
    figure.savefig(path, format="png")
    return len(links)


# -- HTML -----------------------------------------------------------------------------------
SVG_WIDTH = 1100
SVG_LABEL = 180  # left margin for link names
SVG_RIGHT = 20
SVG_ROW = 22
SVG_TOP = 10
SVG_AXIS = 34

_TICK_STEPS = [
    timedelta(seconds=s)
    for s in (
        *(1, 2, 5, 10, 15, 30),
        *(60 * m for m in (1, 2, 5, 10, 15, 30)),
        *(3600 * h for h in (1, 2, 3, 6, 12)),
        *(86400 * d for d in (1, 2, 7, 14, 28)),
    )
]


def time_ticks(start: datetime, end: datetime, most: int = 10) -> list[datetime]:
    """Round UTC instants between ``start`` and ``end``, at most ``most`` of them."""
    span = max(end - start, timedelta(seconds=1))
    step = next((s for s in _TICK_STEPS if span / s <= most), _TICK_STEPS[-1])
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = epoch + step * -(-(start - epoch) // step)  # ceiling to a multiple of step
    ticks = []
    while first <= end:
        ticks.append(first)
        first += step
    return ticks


def _tick_label(instant: datetime, previous: datetime | None, step_seconds: float) -> str:
    """``HH:MM`` (``:SS`` below a minute's step), with the date when it changes."""
    clock = "%H:%M:%S" if step_seconds < 60 else "%H:%M"
    if previous is None or previous.date() != instant.date():
        return instant.strftime(f"%Y-%m-%d {clock}")
    return instant.strftime(clock)


def _tooltip(entry: TimelineEntry) -> str:
    lines = [
        f"{entry.link}: {entry.outcome} (rotation {entry.rotation_id}, wave {entry.wave})",
        f"started {_utc(entry.started)} UTC",
        f"key ID {entry.key_id or '-'}, KCV {entry.kcv or '-'}",
        f"duration {_secs(entry.seconds)}, ENC→active {_secs(entry.enc_to_active)}",
    ]
    if entry.took_over is not None:
        lines.append(f"took over {_utc(entry.took_over)} UTC; MKA {entry.mka}")
    if entry.error:
        lines.append(f"error: {entry.error}")
    return "\n".join(lines)


def render_svg(entries: Sequence[TimelineEntry], now: datetime) -> str:
    """The timeline as inline SVG: one ``<circle class="mark RESULT">`` per rotation, with a
    ``<title>`` (the browser's hover tooltip) holding its key ID, KCV and durations."""
    links = sorted({e.link for e in entries}, key=link_order)
    row = {link: index for index, link in enumerate(links)}
    start = min((e.started for e in entries), default=now - timedelta(hours=1))
    end = max([now, *(e.ended for e in entries)])
    pad = max((end - start) * 0.02, timedelta(seconds=1))
    start, end = start - pad, end + pad
    plot = SVG_WIDTH - SVG_LABEL - SVG_RIGHT
    height = SVG_TOP + SVG_ROW * max(len(links), 1) + SVG_AXIS
    bottom = SVG_TOP + SVG_ROW * max(len(links), 1)

    def x(instant: datetime) -> float:
        return SVG_LABEL + plot * ((instant - start) / (end - start))

    def y(link: str) -> float:
        return SVG_TOP + SVG_ROW * row[link] + SVG_ROW / 2

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{SVG_WIDTH}" '
        f'height="{height}" viewBox="0 0 {SVG_WIDTH} {height}" role="img" '
        f'aria-label="rotations per link over time (UTC)">'
    ]
    for index, link in enumerate(links):
        top = SVG_TOP + SVG_ROW * index
        if index % 2:
            parts.append(
                f'<rect x="{SVG_LABEL}" y="{top}" width="{plot}" height="{SVG_ROW}" '
                'fill="#f5f5f5"/>'
            )
        label = link if len(link) <= 26 else link[:25] + "…"
        parts.append(
            f'<text x="{SVG_LABEL - 6}" y="{top + SVG_ROW / 2 + 4}" text-anchor="end" '
            f'class="link">{html.escape(label)}<title>{html.escape(link)}</title></text>'
        )
    ticks = time_ticks(start, end)
    step = (ticks[1] - ticks[0]).total_seconds() if len(ticks) > 1 else 60.0
    previous = None
    for tick in ticks:
        tx = x(tick)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{SVG_TOP}" x2="{tx:.1f}" y2="{bottom}" class="grid"/>'
            f'<text x="{tx:.1f}" y="{bottom + 14}" text-anchor="middle" class="tick">'
            f"{_tick_label(tick, previous, step)}</text>"
        )
        previous = tick
    parts.append(
        f'<text x="{SVG_LABEL + plot / 2}" y="{bottom + 30}" text-anchor="middle" '
        'class="axis">time (UTC)</text>'
    )
    for link, spans in in_force_spans(entries, now).items():
        for span_start, span_end in spans:
            parts.append(
                f'<rect class="in-force" x="{x(span_start):.1f}" y="{y(link) - 3:.1f}" '
                f'width="{max(x(span_end) - x(span_start), 0.5):.1f}" height="6" '
                f'fill="{IN_FORCE}"><title>{html.escape(link)}: key in force from '
                f"{_utc(span_start)} to {_utc(span_end)} UTC</title></rect>"
            )
    for entry in entries:
        colour = COLOURS[entry.outcome]
        parts.append(
            f'<circle class="mark {entry.outcome}" data-rotation="{entry.rotation_id}" '
            f'cx="{x(entry.started):.1f}" cy="{y(entry.link):.1f}" r="5" fill="{colour}">'
            f"<title>{html.escape(_tooltip(entry))}</title></circle>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def rotation_data(entries: Sequence[TimelineEntry]) -> list[dict[str, object]]:
    """The rotations as the HTML embeds them (key IDs and KCVs only, never a CKN or key)."""
    return [
        {
            "rotation": e.rotation_id,
            "link": e.link,
            "wave": e.wave,
            "result": e.outcome,
            "colour": COLOURS[e.outcome],
            "started": _iso(e.started),
            "took_over": None if e.took_over is None else _iso(e.took_over),
            "key_id": e.key_id,
            "kcv": e.kcv,
            "seconds": round(e.seconds, 3),
            "enc_to_active": None if e.enc_to_active is None else round(e.enc_to_active, 3),
            "mka": e.mka,
            "error": e.error,
        }
        for e in entries
    ]


def _json_for_script(value: object) -> str:
    """JSON safe inside ``<script>``: no ``</script>`` or comment opener can appear."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _cell(value: object) -> str:
    if value is None:
        return "<td>-</td>"
    if isinstance(value, datetime):
        value = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return f"<td>{html.escape(str(value))}</td>"


def _summary_table(summary: Summary) -> str:
    worst = summary.worst
    rows = [
        ("rotations", f"{summary.rotations} rotation(s) on {summary.links} link(s)"),
        *((f"{name}", f"{summary.counts[name]} ({MEANING[name]})") for name in OUTCOMES),
        ("first start (UTC)", _utc(summary.first)),
        ("last update (UTC)", _utc(summary.last)),
        ("median ENC→active", _secs(summary.enc_to_active_median)),
        (
            "worst ENC→active",
            "-"
            if worst is None
            else f"{_secs(worst.enc_to_active)} ({worst.link}, {_utc(worst.started)} UTC)",
        ),
        ("measured outage", OUTAGE_NOT_MEASURED),
    ]
    body = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
    )
    return f'<table class="summary"><tbody>\n{body}\n</tbody></table>'


def _pairs_table(summary: Summary) -> str:
    """Rotations per platform pair (empty when no link's platforms are known)."""
    if not summary.per_pair:
        return "<p>Platforms not known (the report was written without an inventory).</p>"
    head = "".join(f"<th>{name}</th>" for name in OUTCOMES)
    rows = "\n".join(
        "<tr>"
        + _cell(p.pair)
        + _cell(p.links)
        + "".join(_cell(p.counts[name]) for name in OUTCOMES)
        + _cell(_secs(p.enc_to_active_median))
        + "</tr>"
        for p in summary.per_pair
    )
    return (
        f'<table class="pairs"><thead><tr><th>platforms</th><th>links</th>{head}'
        f"<th>median ENC→active</th></tr></thead><tbody>\n{rows}\n</tbody></table>"
    )


def _links_table(summary: Summary) -> str:
    head = "".join(f"<th>{name}</th>" for name in OUTCOMES)
    rows = "\n".join(
        "<tr>"
        + _cell(s.link)
        + _cell(s.platforms or None)
        + "".join(_cell(s.counts[name]) for name in OUTCOMES)
        + _cell(s.last_key_id)
        + _cell(s.last_kcv)
        + _cell(s.last_took_over)
        + _cell(s.mka)
        + _cell(s.outage)
        + "</tr>"
        for s in summary.per_link
    )
    return (
        f'<table class="links"><thead><tr><th>link</th><th>platforms</th>{head}'
        "<th>last key ID</th>"
        "<th>last KCV</th><th>took over (UTC)</th><th>MKA confirmed live</th>"
        f"<th>measured outage</th></tr></thead><tbody>\n{rows}\n</tbody></table>"
    )


def render_html(
    entries: Sequence[TimelineEntry],
    png: Path,
    path: Path,
    drawn: int,
    now: datetime,
    transport: str = "",
    platforms: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """A self-contained page: summary, per-link and per-platform-pair tables, SVG timeline,
    PNG, every rotation."""
    summary = summarize(entries, platforms)
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
                f"{e.seconds:.2f}",
                None if e.enc_to_active is None else f"{e.enc_to_active:.2f}",
                e.error,
            )
        )
        + "</tr>"
        for e in reversed(entries)
    )
    note = "" if drawn >= summary.links else f" The picture shows the {drawn} most recent links."
    legend = " ".join(
        f'<span class="key"><svg width="12" height="12"><circle cx="6" cy="6" r="5" '
        f'fill="{COLOURS[name]}"/></svg> {name}</span>'
        for name in OUTCOMES
    )
    styles = "\n".join(
        f"tr.{name} td:nth-child(3) {{ color: {COLOURS[name]}; font-weight: bold; }}"
        for name in OUTCOMES
    )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>qkd-macsec rotation report</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin-bottom: 1em; }}
td, th {{ border: 1px solid #ccc; padding: 2px 6px; text-align: left; }}
table.summary th {{ background: #f5f5f5; }}
svg.timeline text {{ font-size: 11px; fill: #333; }}
svg.timeline .grid {{ stroke: #ddd; }}
svg.timeline circle.mark {{ stroke: #222; stroke-width: 0.6; }}
svg.timeline circle.mark:hover {{ stroke-width: 2.5; }}
.key {{ margin-right: 1em; font-size: 0.85em; }}
{styles}
tr.classical td:nth-child(3) {{ color: #c62828; font-weight: bold; }}
</style></head><body>
<h1>qkd-macsec rotation report</h1>
<p>From the journal, generated {_utc(now)} UTC. Times are UTC. ENC is a rotation's start (its
wave planned it and asked the KME for the key); active is when its key took over (its
start-time, or the ACTIVE event). Outage is {OUTAGE_NOT_MEASURED}: the routers do not report
it.{html.escape(note)}</p>
<h2>Summary</h2>
{_summary_table(summary)}
<h2>Per link</h2>
{_links_table(summary)}
<h2>Per platform pair</h2>
{_pairs_table(summary)}
<h2>Transport</h2>
{transport}
<h2>Timeline</h2>
<p>One mark per rotation at its start, coloured by result; hover for key ID, KCV and
durations. The band is the time each key was in force. {legend}</p>
{render_svg(entries, now)}
<script type="application/json" id="rotations">{_json_for_script(rotation_data(entries))}</script>
<details><summary>The same as a picture (timeline.png)</summary>
<img alt="rotation timeline" src="data:image/png;base64,{image}">
</details>
<h2>Every rotation</h2>
<table><thead><tr><th>link</th><th>wave</th><th>result</th><th>MKA</th><th>key ID</th>
<th>KCV</th><th>started (UTC)</th><th>took over (UTC)</th><th>seconds</th>
<th>ENC→active (s)</th><th>error</th></tr></thead><tbody>
{rows}
</tbody></table></body></html>
"""
    path.write_text(page, encoding="utf-8")


def write_report(
    journal: JournalBackend,
    out: Path,
    *,
    links: Iterable[str] | None = None,
    limit: int = 5000,
    now: datetime | None = None,
    platforms: Mapping[str, Sequence[str]] | None = None,
) -> ReportFiles:
    """Write ``timeline.png`` and ``timeline.html`` into ``out`` from the last ``limit``
    rotations (of ``links`` only, if given); ``platforms`` (link → its ends' platforms) adds
    the platform pairs."""
    now = now or datetime.now(UTC)
    wanted = None if links is None else set(links)
    records = [r for r in journal.rotations(limit=limit) if wanted is None or r.link in wanted]
    entries = timeline_entries(records)
    out.mkdir(parents=True, exist_ok=True)
    png, page = out / PNG_NAME, out / HTML_NAME
    drawn = render_png(entries, png, now)
    transport = posture_html(recorded_postures(journal))
    render_html(entries, png, page, drawn, now, transport, platforms)
    counts = Counter(e.outcome for e in entries)
    pairs = {
        p.pair: {name: n for name, n in p.counts.items() if n}
        for p in summarize(entries, platforms).per_pair
    }
    return ReportFiles(png, page, len({e.link for e in entries}), len(entries), dict(counts), pairs)
