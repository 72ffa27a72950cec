"""Links between simulated devices: MKA session state and exact outage accounting.

The fabric keeps, per device, every committed configuration with the real (wall) time it took
effect, and the device's clock offset over time (device-local = real + offset). What a link
does at real time t follows from both ends' committed configuration and clocks, plus one piece
of memory per end: the *preceding* key, kept after a key switch until the new key is live on
the link or ``preceding_hold_s`` has passed, whichever comes first.

State only changes at breakpoints — commits, offset changes, key-chain start-times (shifted by
the device's offset into real time) and preceding-key expiries — so each link is evaluated
event by event with a cursor, and outage is the exact sum of down intervals since the link was
first live. Nothing is sampled.

Liveness compares what the peers would derive: the same CKN and the same ICK and KEK
(802.1X KDF over the zero-filled CAK), not the configured strings.

For key-chain ends, a chain ``tolerance`` longer than the hold extends how long the preceding
key is kept (the chain's clock-skew allowance).

The same segments give the device's MACsec syslog (:meth:`Fabric.log_events`): a new primary
CAK, a CAK activated on a link, a CKN the peer speaks that this end lacks, as real dot1xd logs
them at a rollover (shared/reference/junos-field-evidence.md §4).

A group CA (one master, several members) is modelled as one link per master-member pair; each
link tracks the master's preceding key on its own.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from qkd_macsec.macsec import derive_ick, derive_kek, key_check_value
from qkd_macsec.sim.config import Configuration, InterfaceMacsec, macsec_interfaces

__all__ = ["Fabric", "LinkEnd", "LogEvent", "MkaPeer", "MkaSession", "sci"]

_NEVER = -math.inf


@dataclass(frozen=True)
class LinkEnd:
    device: str
    interface: str

    def __str__(self) -> str:
        return f"{self.device}:{self.interface}"


def sci(end: LinkEnd) -> str:
    """A stable secure channel identifier for an end: ``MAC/port`` as Junos prints it
    (``Outbound SCI: 20:ED:47:F6:51:64/1``, evidence §2), port 1, Juniper OUI 00:05:86."""
    digest = hashlib.sha256(f"sci|{end.device}|{end.interface}".encode()).digest()
    return "00:05:86:" + ":".join(f"{b:02X}" for b in digest[:3]) + "/1"


@dataclass(frozen=True)
class MkaPeer:
    """A peer of a live session: its member identifier and outbound SCI."""

    member_id: str
    sci: str


@dataclass
class MkaSession:
    """One row of ``show security mka sessions`` for an interface.

    A primary session is "live" when its key is live on a link, else "in-progress"; a
    preceding session (the previous key, kept for the hold) is "live" or "active".
    ``live_since`` is the real time the key became live on the link (None when not live).
    """

    interface: str
    cak_name: str
    cak_type: str  # "primary" | "preceding"
    status: str  # "live" | "active" | "in-progress"
    member_id: str
    key_server: bool
    kcv: str
    sci: str = ""
    peers: tuple[MkaPeer, ...] = ()
    live_since: float | None = None


@dataclass(frozen=True, order=True)
class LogEvent:
    """A MACsec syslog event of one device at real time ``at`` (evidence §4 names the tags)."""

    at: float
    tag: str
    interface: str = ""
    ckn: str = ""
    sci_out: str = ""
    sci_in: str = ""


PRIMARY_CAK_IN_USE = "DOT1XD_MACSEC_SC_PRIMARY_CAK_IN_USE"
CAK_ACTIVATED = "DOT1XD_MACSEC_SC_CAK_ACTIVATED"
UNKNOWN_CAK = "DOT1XD_MACSEC_SC_UNKNOWN_CAK_ERR"
CKN_LENGTH_WARNING = "MACSEC_CKN_LENGTH_WARNING"
#: Same-instant events in the order a device logs them: the commit's warning, the new primary,
#: then the activation (evidence §4: PRIMARY_CAK_IN_USE precedes CAK_ACTIVATED).
_LOG_ORDER = {CKN_LENGTH_WARNING: 0, PRIMARY_CAK_IN_USE: 1, UNKNOWN_CAK: 2, CAK_ACTIVATED: 3}
#: Junos recommends a CKN of all 64 hex digits and logs a warning at commit otherwise (§4).
FULL_CKN_DIGITS = 64


@dataclass(frozen=True)
class _Key:
    """A CAK/CKN as MKA sees it: identified by CKN and the derived ICK/KEK."""

    ckn: str
    cak: bytes = field(repr=False)
    ick: bytes = field(repr=False)
    kek: bytes = field(repr=False)
    kcv: str = ""

    @property
    def ident(self) -> tuple[str, bytes, bytes]:
        return (self.ckn, self.ick, self.kek)


@dataclass(frozen=True)
class _EndState:
    active: _Key | None = None
    preceding: _Key | None = None
    preceding_until: float = _NEVER

    def holds(self, key: _Key) -> bool:
        return any(k is not None and k.ident == key.ident for k in (self.active, self.preceding))


@dataclass(frozen=True)
class _Segment:
    start: float
    a: _EndState
    b: _EndState
    live: _Key | None


@dataclass
class _Device:
    offsets: list[tuple[float, float]]  # (from real time, offset), sorted
    commits: list[tuple[float, dict[str, InterfaceMacsec]]] = field(default_factory=list)

    def offset_at(self, t: float) -> float:
        i = bisect.bisect_right(self.offsets, t, key=lambda e: e[0]) - 1
        return self.offsets[max(i, 0)][1]

    def views_at(self, t: float) -> dict[str, InterfaceMacsec] | None:
        i = bisect.bisect_right(self.commits, t, key=lambda e: e[0]) - 1
        return self.commits[i][1] if i >= 0 else None

    def first_commit(self) -> float | None:
        return self.commits[0][0] if self.commits else None

    def next_change(self, t: float) -> float:
        """Next commit or offset change strictly after t."""
        nxt = math.inf
        i = bisect.bisect_right(self.commits, t, key=lambda e: e[0])
        if i < len(self.commits):
            nxt = self.commits[i][0]
        j = bisect.bisect_right(self.offsets, t, key=lambda e: e[0])
        if j < len(self.offsets):
            nxt = min(nxt, self.offsets[j][0])
        return nxt


@dataclass
class _LinkSim:
    a: LinkEnd
    b: LinkEnd | None  # None: an interface with no peer (reported by sessions())
    cursor: float = _NEVER
    segments: list[_Segment] = field(default_factory=list)

    def reset(self) -> None:
        self.cursor = _NEVER
        self.segments = []

    def segment_at(self, t: float) -> _Segment | None:
        i = bisect.bisect_right(self.segments, t, key=lambda s: s.start) - 1
        return self.segments[i] if i >= 0 else None


def _utc_epoch(local: datetime) -> float:
    if local == datetime.min:
        return _NEVER
    return local.replace(tzinfo=UTC).timestamp()


def member_id(end: LinkEnd, ckn: str) -> str:
    """A stable 96-bit MKA member identifier for one end's session with one CAK."""
    return hashlib.sha256(f"{end.device}|{end.interface}|{ckn}".encode()).hexdigest()[:24]


class Fabric:
    """Devices, links between their interfaces, and what MKA does on each link over time."""

    def __init__(
        self, *, preceding_hold_s: float = 30.0, clock: Callable[[], float] = time.time
    ) -> None:
        self._hold = preceding_hold_s
        self._clock = clock
        self._lock = threading.RLock()
        self._devices: dict[str, _Device] = {}
        self._links: dict[str, _LinkSim] = {}
        self._solo: dict[LinkEnd, _LinkSim] = {}
        self._by_device: dict[str, list[_LinkSim]] = {}
        self._keys: dict[tuple[bytes, str], _Key] = {}

    # ------------------------------------------------------------ topology and inputs

    def add_device(self, name: str, clock_offset_s: float = 0.0) -> None:
        """Register a device (again: only updates its clock offset if it differs)."""
        with self._lock:
            dev = self._devices.get(name)
            if dev is None:
                self._devices[name] = _Device(offsets=[(_NEVER, float(clock_offset_s))])
            elif dev.offset_at(self._clock()) != clock_offset_s:
                self.set_clock_offset(name, clock_offset_s)

    def set_clock_offset(self, name: str, offset_s: float) -> None:
        """From now on, the device's clock reads real time + ``offset_s``."""
        with self._lock:
            dev = self._device(name)
            now = self._clock()
            entry = (now, float(offset_s))
            bisect.insort_right(dev.offsets, entry, key=lambda e: e[0])
            self._invalidate(name, now)

    def add_link(self, a: LinkEnd, b: LinkEnd, name: str | None = None) -> str:
        """Connect two interfaces (devices are registered if new); returns the link name."""
        with self._lock:
            if a == b:
                raise ValueError(f"a link needs two different ends, got {a} twice")
            link = name or f"{a}--{b}"
            if link in self._links:
                raise ValueError(f"link {link!r} already exists")
            for end in (a, b):
                if end.device not in self._devices:
                    self.add_device(end.device)
            sim = _LinkSim(a, b)
            self._links[link] = sim
            for device in {a.device, b.device}:
                self._by_device.setdefault(device, []).append(sim)
            return link

    def on_commit(self, device: str, config: Configuration, at: float | None = None) -> None:
        """Record that ``config`` became the device's committed configuration at ``at``."""
        self.commit_views(device, macsec_interfaces(config), at)

    def commit_views(
        self, device: str, views: dict[str, InterfaceMacsec], at: float | None = None
    ) -> None:
        """Record the effective MACsec keys of each interface from ``at`` on: how a device that
        is not a simulated Junos router (another platform's simulator) joins the fabric."""
        with self._lock:
            if device not in self._devices:
                self.add_device(device)
            t = self._clock() if at is None else at
            bisect.insort_right(self._devices[device].commits, (t, dict(views)), key=lambda e: e[0])
            self._invalidate(device, t)

    # ------------------------------------------------------------ queries

    def links(self) -> list[str]:
        with self._lock:
            return list(self._links)

    def link_ends(self, link: str) -> tuple[LinkEnd, LinkEnd]:
        with self._lock:
            sim = self._link(link)
            assert sim.b is not None
            return sim.a, sim.b

    def device_time(self, device: str, at: float | None = None) -> datetime:
        """The device's clock (an aware UTC datetime) at real time ``at``."""
        with self._lock:
            t = self._clock() if at is None else at
            return datetime.fromtimestamp(t + self._device(device).offset_at(t), UTC)

    def link_live(self, link: str, at: float | None = None) -> bool:
        return self.link_ckn(link, at) is not None

    def link_ckn(self, link: str, at: float | None = None) -> str | None:
        """CKN of the live session on the link, None when the link is not secured."""
        with self._lock:
            t = self._clock() if at is None else at
            sim = self._link(link)
            self._advance(sim, t)
            seg = sim.segment_at(t)
            return seg.live.ckn if seg is not None and seg.live is not None else None

    def outage_seconds(self, link: str, until: float | None = None) -> float:
        """Seconds not live since the link was first live, up to ``until`` (exact)."""
        with self._lock:
            t_end = self._clock() if until is None else until
            sim = self._link(link)
            self._advance(sim, t_end)
            total = 0.0
            seen_live = False
            for i, seg in enumerate(sim.segments):
                if seg.start >= t_end:
                    break
                if seg.live is not None:
                    seen_live = True
                    continue
                if seen_live:
                    stop = sim.segments[i + 1].start if i + 1 < len(sim.segments) else t_end
                    total += min(stop, t_end) - seg.start
            return total

    def timeline(
        self, link: str, until: float | None = None
    ) -> list[tuple[float, bool, str | None]]:
        """Each change of (live, CKN) on the link up to ``until``: (real time, live, ckn)."""
        with self._lock:
            t_end = self._clock() if until is None else until
            sim = self._link(link)
            self._advance(sim, t_end)
            out: list[tuple[float, bool, str | None]] = []
            for seg in sim.segments:
                if seg.start > t_end:
                    break
                entry = (seg.start, seg.live is not None, seg.live.ckn if seg.live else None)
                if not out or out[-1][1:] != entry[1:]:
                    out.append(entry)
            return out

    def sessions(
        self, device: str, interface: str | None = None, at: float | None = None
    ) -> list[MkaSession]:
        """MKA sessions the device reports at ``at`` (all MACsec interfaces, or one)."""
        with self._lock:
            t = self._clock() if at is None else at
            views = self._device(device).views_at(t) or {}
            names = [interface] if interface is not None else sorted(views)
            out: list[MkaSession] = []
            for itf in names:
                if itf in views:
                    out.extend(self._interface_sessions(LinkEnd(device, itf), views[itf], t))
            return out

    def now(self) -> float:
        """The fabric's real time (the clock every query defaults to)."""
        return self._clock()

    def log_events(self, device: str, until: float | None = None) -> list[LogEvent]:
        """The device's MACsec syslog events up to ``until``, oldest first.

        From each link's segments (interfaces on links; a peerless interface logs nothing):
        a new active key on an end → ``PRIMARY_CAK_IN_USE``; a key becoming live on the link
        → ``CAK_ACTIVATED`` (with both SCIs); the peer's active CKN missing from this end's
        keys → ``UNKNOWN_CAK_ERR``, once per episode. Each commit configuring a CKN shorter
        than 64 digits → mgd's ``MACSEC_CKN_LENGTH_WARNING``.
        """
        with self._lock:
            t_end = self._clock() if until is None else until
            found: set[LogEvent] = set()
            for at, views in self._device(device).commits:
                if at <= t_end and any(_short_ckn(view) for view in views.values()):
                    found.add(LogEvent(at, CKN_LENGTH_WARNING))
            for sim in self._by_device.get(device, []):
                if sim.b is None:
                    continue
                self._advance(sim, t_end)
                for end, peer, pick in ((sim.a, sim.b, 0), (sim.b, sim.a, 1)):
                    if end.device == device:
                        found.update(_end_events(sim.segments, end, peer, pick, t_end))
            return sorted(found, key=lambda e: (e.at, _LOG_ORDER.get(e.tag, 9), e))

    # ------------------------------------------------------------ internals

    def _device(self, name: str) -> _Device:
        try:
            return self._devices[name]
        except KeyError:
            raise KeyError(f"unknown device {name!r}") from None

    def _link(self, name: str) -> _LinkSim:
        try:
            return self._links[name]
        except KeyError:
            raise KeyError(f"unknown link {name!r}") from None

    def _invalidate(self, device: str, t: float) -> None:
        """Forget evaluations that an input at time ``t`` may have changed."""
        for sim in self._by_device.get(device, []):
            if sim.cursor >= t:
                sim.reset()

    def _key(self, ckn: str, cak: bytes) -> _Key:
        cached = self._keys.get((cak, ckn))
        if cached is None:
            raw = bytes.fromhex(ckn)
            cached = _Key(
                ckn, cak, derive_ick(cak, raw), derive_kek(cak, raw), key_check_value(cak, raw)
            )
            self._keys[(cak, ckn)] = cached
        return cached

    def _active(self, end: LinkEnd | None, t: float) -> _Key | None:
        """The key an end uses at real time t (static, or the latest started chain key)."""
        if end is None:
            return None
        dev = self._devices[end.device]
        views = dev.views_at(t)
        view = views.get(end.interface) if views is not None else None
        if view is None:
            return None
        if view.static is not None:
            return self._key(view.static.ckn, view.static.cak)
        offset = dev.offset_at(t)
        current = None
        for key in view.chain:
            if t >= _utc_epoch(key.start) - offset:
                current = key
        return self._key(current.ckn, current.cak) if current is not None else None

    def _next_event(self, end: LinkEnd | None, t: float) -> float:
        """Next instant after t when this end's active key may change."""
        if end is None:
            return math.inf
        dev = self._devices[end.device]
        nxt = dev.next_change(t)
        views = dev.views_at(t)
        view = views.get(end.interface) if views is not None else None
        if view is not None and view.static is None:
            offset = dev.offset_at(t)
            for key in view.chain:
                threshold = _utc_epoch(key.start) - offset
                if t < threshold < nxt:
                    nxt = threshold
        return nxt

    def _start_time(self, sim: _LinkSim) -> float | None:
        firsts = [
            self._devices[end.device].first_commit() for end in (sim.a, sim.b) if end is not None
        ]
        known = [f for f in firsts if f is not None]
        return min(known) if known else None

    def _advance(self, sim: _LinkSim, until: float) -> None:
        """Process every event up to and including ``until``."""
        if not sim.segments:
            start = self._start_time(sim)
            if start is None or start > until:
                return
            self._step(sim, start, _EndState(), _EndState())
        while True:
            last = sim.segments[-1]
            nxt = min(
                self._next_event(sim.a, sim.cursor),
                self._next_event(sim.b, sim.cursor),
                *(
                    s.preceding_until
                    for s in (last.a, last.b)
                    if s.preceding is not None and s.preceding_until > sim.cursor
                ),
            )
            if nxt > until:
                return
            self._step(sim, nxt, last.a, last.b)

    def _step(self, sim: _LinkSim, t: float, a: _EndState, b: _EndState) -> None:
        a = self._switch(a, self._active(sim.a, t), t, self._hold_for(sim.a, t))
        b = self._switch(b, self._active(sim.b, t), t, self._hold_for(sim.b, t))
        # A preceding key goes when the new key is live (the peer holds it) or its hold ends.
        if a.preceding is not None and (
            a.preceding_until <= t or (a.active is not None and b.holds(a.active))
        ):
            a = replace(a, preceding=None, preceding_until=_NEVER)
        if b.preceding is not None and (
            b.preceding_until <= t or (b.active is not None and a.holds(b.active))
        ):
            b = replace(b, preceding=None, preceding_until=_NEVER)
        live = _live_key(a, b)
        sim.cursor = t
        prev = sim.segments[-1] if sim.segments else None
        if prev is None or (prev.a, prev.b) != (a, b):
            sim.segments.append(_Segment(t, a, b, live))

    def _hold_for(self, end: LinkEnd | None, t: float) -> float:
        """How long this end keeps a preceding key: the hold, or a longer chain tolerance."""
        if end is None:
            return self._hold
        views = self._devices[end.device].views_at(t)
        view = views.get(end.interface) if views is not None else None
        tolerance = view.tolerance_s if view is not None and view.static is None else 0
        return max(self._hold, float(tolerance))

    @staticmethod
    def _switch(state: _EndState, new: _Key | None, t: float, hold: float) -> _EndState:
        old = state.active
        if (old is None and new is None) or (
            old is not None and new is not None and old.ident == new.ident
        ):
            return state
        if old is not None and new is not None:
            return _EndState(new, old, t + hold)
        return _EndState(new)

    def _interface_sessions(
        self, end: LinkEnd, view: InterfaceMacsec, t: float
    ) -> list[MkaSession]:
        states: list[tuple[_EndState, _Key | None, LinkEnd | None]] = []
        since: dict[tuple[str, bytes, bytes], float] = {}
        for sim in self._by_device.get(end.device, []):
            if sim.b is not None and end in (sim.a, sim.b):
                self._advance(sim, t)
                seg = sim.segment_at(t)
                if seg is None:
                    continue
                mine, peer = (seg.a, sim.b) if sim.a == end else (seg.b, sim.a)
                states.append((mine, seg.live, peer))
                if seg.live is not None:
                    began = _live_since(sim, seg.live, t)
                    ident = seg.live.ident
                    since[ident] = min(since.get(ident, began), began)
        if not states:
            solo = self._solo.get(end)
            if solo is None:
                solo = self._solo[end] = _LinkSim(end, None)
                self._by_device.setdefault(end.device, []).append(solo)
            self._advance(solo, t)
            seg = solo.segment_at(t)
            if seg is not None:
                states.append((seg.a, None, None))
        if not states:
            return []
        state = states[0][0]
        out: list[MkaSession] = []
        for key, cak_type in ((state.active, "primary"), (state.preceding, "preceding")):
            if key is None:
                continue
            peers = [
                peer for _, live, peer in states if live is not None and live.ident == key.ident
            ]
            is_live = bool(peers)
            status = "live" if is_live else ("in-progress" if cak_type == "primary" else "active")
            out.append(
                MkaSession(
                    interface=end.interface,
                    cak_name=key.ckn,
                    cak_type=cak_type,
                    status=status,
                    member_id=member_id(end, key.ckn),
                    key_server=is_live and self._is_key_server(end, view, peers, key.ckn, t),
                    kcv=key.kcv,
                    sci=sci(end),
                    peers=tuple(
                        MkaPeer(member_id(p, key.ckn), sci(p)) for p in peers if p is not None
                    ),
                    live_since=since.get(key.ident) if is_live else None,
                )
            )
        return out

    def _is_key_server(
        self,
        end: LinkEnd,
        view: InterfaceMacsec,
        peers: list[LinkEnd | None],
        ckn: str,
        t: float,
    ) -> bool:
        """Lowest (key-server-priority, member id) wins, as in 802.1X."""
        mine = (view.key_server_priority, member_id(end, ckn))
        for peer in peers:
            if peer is None:
                continue
            peer_views = self._devices[peer.device].views_at(t) or {}
            peer_view = peer_views.get(peer.interface)
            prio = peer_view.key_server_priority if peer_view is not None else 16
            if (prio, member_id(peer, ckn)) < mine:
                return False
        return True


def _live_key(a: _EndState, b: _EndState) -> _Key | None:
    """The key both ends hold, preferring the newest (active on both, then active on one)."""
    for mine, theirs in (
        (a.active, b.active),
        (a.active, b.preceding),
        (a.preceding, b.active),
        (a.preceding, b.preceding),
    ):
        if mine is not None and theirs is not None and mine.ident == theirs.ident:
            return mine
    return None


def _live_since(sim: _LinkSim, key: _Key, t: float) -> float:
    """When ``key`` last became live on the link, as of real time ``t``."""
    i = bisect.bisect_right(sim.segments, t, key=lambda s: s.start) - 1
    began = sim.segments[i].start
    while i >= 0:
        live = sim.segments[i].live
        if live is None or live.ident != key.ident:
            break
        began = sim.segments[i].start
        i -= 1
    return began


def _short_ckn(view: InterfaceMacsec) -> bool:
    ckns = [view.static.ckn] if view.static is not None else [k.ckn for k in view.chain]
    return any(len(ckn) < FULL_CKN_DIGITS for ckn in ckns)


def _ckns(state: _EndState) -> set[str]:
    return {k.ckn.lower() for k in (state.active, state.preceding) if k is not None}


def _end_events(
    segments: list[_Segment], end: LinkEnd, peer: LinkEnd, pick: int, t_end: float
) -> set[LogEvent]:
    """One end's dot1xd events from its link's segments (``pick``: 0 = end a, 1 = end b)."""
    events: set[LogEvent] = set()
    prev: _Segment | None = None
    for seg in segments:
        if seg.start > t_end:
            break
        mine, theirs = (seg.a, seg.b) if pick == 0 else (seg.b, seg.a)
        before_mine = before_theirs = _EndState()
        if prev is not None:
            before_mine, before_theirs = (prev.a, prev.b) if pick == 0 else (prev.b, prev.a)
        active = mine.active
        if active is not None and (
            before_mine.active is None or before_mine.active.ident != active.ident
        ):
            events.add(LogEvent(seg.start, PRIMARY_CAK_IN_USE, end.interface, active.ckn))
        live = seg.live
        if live is not None and (
            prev is None or prev.live is None or prev.live.ident != live.ident
        ):
            events.add(
                LogEvent(
                    seg.start,
                    CAK_ACTIVATED,
                    end.interface,
                    live.ckn,
                    _sci_hex(sci(end)),
                    _sci_hex(sci(peer)),
                )
            )
        spoken = theirs.active
        if (
            spoken is not None
            and _ckns(mine)
            and spoken.ckn.lower() not in _ckns(mine)
            and not (
                before_theirs.active is not None
                and before_theirs.active.ckn == spoken.ckn
                and _ckns(before_mine)
                and spoken.ckn.lower() not in _ckns(before_mine)
            )
        ):
            events.add(LogEvent(seg.start, UNKNOWN_CAK, end.interface, spoken.ckn))
        prev = seg
    return events


def _sci_hex(value: str) -> str:
    """``00:05:86:AB:CD:EF/1`` → ``000586ABCDEF0001``, as the syslog prints an SCI (§4)."""
    mac, _, port = value.partition("/")
    return mac.replace(":", "").upper() + f"{int(port or 0):04X}"
