"""What ``qkd-macsec status`` shows per link: the journal's view, plus MKA state read live.

:func:`link_status` is pure (journal records and MKA readings in, rows out); :func:`read_mka_live`
is the only part that talks to devices (one read-only NETCONF session per device, in parallel).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text

from qkd_macsec.devices.base import DeviceError, MkaSessionState
from qkd_macsec.engine.journal import JournalBackend, Phase
from qkd_macsec.engine.sessions import DriverFor, live_ckn, read_mka
from qkd_macsec.inventory import Inventory
from qkd_macsec.report.tables import Column, FitTable, short_id

#: Per device: its MKA sessions, or the (redacted) reason they could not be read.
MkaReadings = Mapping[str, Sequence[MkaSessionState] | str]


#: Per device: its platform's inventory name (``junos``, ``iosxr``).
PlatformOf = Mapping[str, str]


@dataclass(frozen=True)
class EndState:
    device: str
    interface: str
    state: str  # "newest" | "old" | "down" | "unreachable"
    platform: str = ""


@dataclass(frozen=True)
class LinkStatus:
    link: str
    key_id: str | None
    key_age_s: float | None
    last_rotation: datetime | None
    last_phase: str | None
    last_error: str | None
    open: bool
    failures: int
    ends: tuple[EndState, ...] | None  # None: MKA state not read (no --live)
    #: The platforms of the link's ends, master's first, each once (empty: not known).
    platforms: tuple[str, ...] = ()

    @property
    def platform_pair(self) -> str:
        """``junos``, or ``junos/iosxr`` on a mixed link ("" when not known)."""
        return "/".join(self.platforms)

    @property
    def mka(self) -> str:
        if self.ends is None:
            return "-"
        total = len(self.ends)
        counts: dict[str, int] = defaultdict(int)
        for end in self.ends:
            counts[end.state] += 1
        if counts["newest"] == total:
            return f"live on newest {total}/{total}"
        states = ("newest", "old", "down", "unreachable")
        return ", ".join(f"{s} {counts[s]}/{total}" for s in states if counts[s])

    @property
    def outage(self) -> str:
        """Known only from a live read: ends with no live MKA session right now."""
        if self.ends is None:
            return "-"
        down = sum(1 for end in self.ends if end.state == "down")
        if any(end.state == "unreachable" for end in self.ends):
            return "unknown" if not down else f"now: {down} end(s) down"
        return "none now" if not down else f"now: {down} end(s) down"

    @property
    def needs_attention(self) -> bool:
        return self.open or self.last_phase == Phase.FAILED.value


def end_states(
    ends: Sequence[tuple[str, str]],
    newest_ckn: str | None,
    readings: MkaReadings,
    platform_of: PlatformOf | None = None,
) -> tuple[EndState, ...]:
    """Classify each (device, interface) end from the devices' MKA sessions (each read through
    its own platform's driver, in vendor-neutral form)."""
    out = []
    platform_of = platform_of or {}
    for device, interface in ends:
        platform = platform_of.get(device, "")
        sessions = readings.get(device, "not read")
        if isinstance(sessions, str):
            out.append(EndState(device, interface, "unreachable", platform))
            continue
        live = live_ckn(sessions, interface)
        if not live:
            state = "down"
        elif newest_ckn is not None and newest_ckn.lower() in live:
            state = "newest"
        else:
            state = "old"
        out.append(EndState(device, interface, state, platform))
    return tuple(out)


def link_ends(inventory: Inventory) -> dict[str, list[tuple[str, str]]]:
    """Every link's (device, interface) ends."""
    return {
        link.name: [
            (host.name, interface)
            for host, end in inventory.link_ends(link)
            for interface in end.interfaces
        ]
        for link in inventory.links
    }


def platform_of(inventory: Inventory) -> dict[str, str]:
    """Every host's platform (its inventory name)."""
    return {name: host.platform for name, host in inventory.hosts.items()}


def link_platforms(inventory: Inventory) -> dict[str, tuple[str, ...]]:
    """Every link's ends' platforms, master's first (``("junos", "iosxr")``)."""
    return {
        link.name: tuple(inventory.hosts[h].platform for h in link.host_names)
        for link in inventory.links
    }


def link_status(
    links: Mapping[str, Sequence[tuple[str, str]]],
    journal: JournalBackend,
    now: datetime,
    readings: MkaReadings | None = None,
    platforms: PlatformOf | None = None,
) -> list[LinkStatus]:
    """One row per link from the journal (and the MKA readings, when there are any);
    ``platforms`` (device → platform) labels each link and end with its platforms."""
    rows = []
    platforms = platforms or {}
    for name, ends in links.items():
        pair = tuple(dict.fromkeys(platforms[d] for d, _ in ends if d in platforms))
        active = journal.active_keys(name, 1)
        last = journal.last_attempt(name)
        newest = active[0] if active else None
        rows.append(
            LinkStatus(
                link=name,
                key_id=newest.key_id if newest else None,
                key_age_s=(now - newest.activated).total_seconds() if newest else None,
                last_rotation=last.updated if last else None,
                last_phase=last.phase.value if last else None,
                last_error=last.error if last else None,
                open=bool(last and last.phase.is_open),
                failures=journal.consecutive_failures(name),
                ends=None
                if readings is None
                else end_states(ends, newest.ckn if newest else None, readings, platforms),
                platforms=pair,
            )
        )
    return rows


def read_mka_live(
    links: Mapping[str, Sequence[tuple[str, str]]],
    drivers: DriverFor,
    *,
    workers: int = 16,
    redact: Callable[[str], str] = str,
) -> dict[str, Sequence[MkaSessionState] | str]:
    """Read MKA sessions from every device the links touch (read-only, in parallel)."""
    interfaces: dict[str, list[str]] = defaultdict(list)
    for ends in links.values():
        for device, interface in ends:
            interfaces[device].append(interface)

    def one(device: str) -> tuple[str, Sequence[MkaSessionState] | str]:
        try:
            return device, read_mka(drivers, device, interfaces[device])
        except DeviceError as exc:
            return device, redact(f"{type(exc).__name__}: {exc}")

    if not interfaces:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(interfaces)))) as pool:
        return dict(pool.map(one, interfaces))


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _compact_mka(row: LinkStatus) -> str:
    """The MKA cell in a few characters: ``live 3/3`` or the counts of ends not on the newest."""
    if row.ends is None:
        return "-"
    if row.mka.startswith("live on newest"):
        return f"live {len(row.ends)}/{len(row.ends)}"
    return row.mka


def status_table(rows: Sequence[LinkStatus], now: datetime, *, wide: bool = False) -> FitTable:
    """The table ``qkd-macsec status`` prints: readable at 80 columns (``--wide``: full IDs).

    MKA and outage columns appear only when MKA state was read (``--live``); the platform
    column (``junos``, ``junos/iosxr``) when the links span more than one platform (a
    single-vendor fleet's table is unchanged; ``--json`` always names the platforms).
    """
    live = any(row.ends is not None for row in rows)
    mixed = len({p for row in rows for p in row.platforms}) > 1
    columns = [
        Column("link"),
        *([Column("platform")] if mixed else []),
        Column("key ID"),
        Column("age", justify="right"),
        Column("last"),
        *([Column("MKA"), Column("outage")] if live else []),
        Column("fails", justify="right"),
        Column("note", wrap=True, optional=True),
    ]
    table = FitTable("links", columns)
    for row in rows:
        last = "-"
        if row.last_rotation is not None:
            last = f"{row.last_phase} {_age((now - row.last_rotation).total_seconds())}"
        mka = _compact_mka(row)
        cells: list[str | Text] = [
            row.link,
            *([row.platform_pair] if mixed else []),
            short_id(row.key_id, wide=wide),
            _age(row.key_age_s),
        ]
        cells.append(last)
        if live:
            cells += [Text(mka, style="green" if mka.startswith("live") else "yellow"), row.outage]
        cells += [
            Text(str(row.failures), style="red") if row.failures else "0",
            row.last_error or "",
        ]
        table.add_row(*cells)
    return table


def status_json(rows: Sequence[LinkStatus]) -> list[dict[str, object]]:
    return [
        {
            "link": row.link,
            "platforms": list(row.platforms),
            "key_id": row.key_id,
            "key_age_s": None if row.key_age_s is None else round(row.key_age_s, 1),
            "last_rotation": None if row.last_rotation is None else row.last_rotation.isoformat(),
            "last_phase": row.last_phase,
            "last_error": row.last_error,
            "open": row.open,
            "failures": row.failures,
            "mka": None if row.ends is None else row.mka,
            "ends": None if row.ends is None else [_end_json(e) for e in row.ends],
            "outage": None if row.ends is None else row.outage,
        }
        for row in rows
    ]


def _end_json(end: EndState) -> dict[str, object]:
    """One end in ``--json`` (``platform`` when the end's platform is known)."""
    out: dict[str, object] = {"device": end.device, "interface": end.interface}
    if end.platform:
        out["platform"] = end.platform
    out["state"] = end.state
    return out
