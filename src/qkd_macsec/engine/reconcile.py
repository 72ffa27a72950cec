"""Reconcile the journal with what the routers hold: the devices are the truth.

A journal can be lost, restored from an old backup, or be a second journal on the same routers.
Then "no ACTIVE row" does not mean "never bootstrapped", and the journal's current slot may not
be the one in force. Before a link is planned, every end's key chain (or, in pre-shared-key mode,
its CA binding and live MKA key) is read and compared with the journal; this module decides, with
no I/O, what that means::

    IN_SYNC    every end runs on the journal's current key (or is about to)      → plan as usual
    BOOTSTRAP  no end holds anything, and the journal knows no key               → plan as usual
    ADOPT      every end runs on the same key the journal does not know as current
               → record it as the link's ACTIVE key; the planner rotates forward from it
    CONFLICT   the ends disagree, or hold an entry newer than the journal knows (another
               controller's pending rotation), or the journal's key is on no end → do not touch
    UNREADABLE an end could not be read and the journal knows no key: bootstrapping blind could
               overwrite the key in force → do not touch (a link with a known key proceeds:
               staging itself reads the chain and never prunes what is in force)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from qkd_macsec.devices.base import ChainEntryState


class Verdict(StrEnum):
    IN_SYNC = "in-sync"
    BOOTSTRAP = "bootstrap"
    ADOPT = "adopt"
    CONFLICT = "conflict"
    UNREADABLE = "unreadable"

    @property
    def blocks(self) -> bool:
        """The link must not be rotated in this wave."""
        return self in (Verdict.CONFLICT, Verdict.UNREADABLE)


@dataclass(frozen=True)
class ChainReading:
    """One end's key chain as read, with the device's clock read in the same session."""

    entries: tuple[ChainEntryState, ...]
    device_now: datetime  # the device's clock, read in the same session

    @property
    def in_force(self) -> ChainEntryState | None:
        """The entry the chain runs on now: the latest start-time already passed."""
        passed = [e for e in self.entries if _naive(e.start_time) <= _naive(self.device_now)]
        return max(passed, key=lambda e: _naive(e.start_time), default=None)

    @property
    def pending(self) -> tuple[ChainEntryState, ...]:
        """Entries whose start-time has not come yet."""
        return tuple(e for e in self.entries if _naive(e.start_time) > _naive(self.device_now))


@dataclass(frozen=True)
class CaReading:
    """Pre-shared-key mode, one end: is the link's CA bound to all its interfaces, and which
    CKNs MKA runs on (the driver cannot read a CA's pre-shared key back; MKA names it)."""

    bound: bool
    live_ckns: frozenset[str]


Reading = ChainReading | CaReading | str  # str: the end could not be read (why)


@dataclass(frozen=True)
class JournalView:
    """What the journal says about one link."""

    current_ckn: str | None  # the newest ACTIVE key's CKN
    known_ckns: frozenset[str]  # every CKN the journal has a row for (any phase)


@dataclass(frozen=True)
class Decision:
    link: str
    verdict: Verdict
    message: str
    ckn: str | None = None  # ADOPT: the key every end runs on ('' if MKA could not name it)
    slot: int | None = None  # ADOPT, key-chain mode: its slot (the same on every end)
    start_time: datetime | None = None  # ADOPT: its start-time as a device holds it (UTC)


def _naive(value: datetime) -> datetime:
    """Naive UTC: device clock and start-times compare in one frame, whichever the driver gave."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None)


def short(ckn: str | None) -> str:
    """A CKN in messages: enough to tell keys apart (CKNs are not secret, but are long)."""
    return "none" if not ckn else ckn[:12].lower() + "…"


def _unread(link: str, current: str | None, readings: Mapping[str, Reading]) -> Decision | None:
    """Some end could not be read: keep the journal's key, or refuse to bootstrap blind."""
    down = {d: r for d, r in readings.items() if isinstance(r, str)}
    if not down:
        return None
    why = "; ".join(f"{d}: {r}" for d, r in sorted(down.items()))
    if current is None:
        return Decision(link, Verdict.UNREADABLE, f"cannot read {why}; not bootstrapping blind")
    return Decision(link, Verdict.IN_SYNC, f"not read ({why}); the journal's key is kept")


def decide_chain(link: str, journal: JournalView, readings: Mapping[str, Reading]) -> Decision:
    """Key-chain mode: compare every end's chain with the journal (see the module docstring)."""
    current = journal.current_ckn.lower() if journal.current_ckn else None
    known = {c.lower() for c in journal.known_ckns}
    unread = _unread(link, current, readings)
    if unread is not None:
        return unread
    chains = {d: r for d, r in readings.items() if isinstance(r, ChainReading)}
    if len(chains) != len(readings):
        return Decision(link, Verdict.CONFLICT, "mixed readings (key chain and static key)")

    unknown_pending = sorted(
        f"{d} slot {e.slot} ({short(e.ckn)})"
        for d, r in chains.items()
        for e in r.pending
        if e.ckn.lower() not in known
    )
    if unknown_pending:
        return Decision(
            link,
            Verdict.CONFLICT,
            "entries newer than the journal knows (another controller's rotation?): "
            + ", ".join(unknown_pending),
        )
    if all(not r.entries for r in chains.values()):
        if current is None:
            return Decision(link, Verdict.BOOTSTRAP, "no end holds a key: first key")
        return Decision(
            link,
            Verdict.CONFLICT,
            f"the journal's key {short(current)} is on no end and the chains are empty",
        )
    if current is not None and all(
        any(e.ckn.lower() == current for e in r.pending) for r in chains.values()
    ):
        return Decision(link, Verdict.IN_SYNC, f"every end is about to run on {short(current)}")
    forces = {d: r.in_force for d, r in chains.items()}
    ckns = {(f.ckn.lower() if f else None) for f in forces.values()}
    if len(ckns) == 1 and None not in ckns:
        (ckn,) = ckns
        assert ckn is not None
        if ckn == current:
            return Decision(link, Verdict.IN_SYNC, f"every end runs on {short(ckn)}")
        slots = {f.slot for f in forces.values() if f is not None}
        if len(slots) != 1:
            return Decision(
                link,
                Verdict.CONFLICT,
                f"every end runs on {short(ckn)} but in different slots {sorted(slots)}",
            )
        starts = [f.start_time for f in forces.values() if f is not None]
        return Decision(
            link,
            Verdict.ADOPT,
            f"every end runs on {short(ckn)} (slot {next(iter(slots))}), which the journal "
            + ("does not know" if current is None else f"has not as current ({short(current)})"),
            ckn=ckn,
            slot=next(iter(slots)),
            start_time=max(starts),
        )
    per_end = ", ".join(
        f"{d}: {short(f.ckn) if f else 'nothing in force'}" for d, f in sorted(forces.items())
    )
    return Decision(link, Verdict.CONFLICT, f"the ends run on different keys ({per_end})")


def decide_static(link: str, journal: JournalView, readings: Mapping[str, Reading]) -> Decision:
    """Pre-shared-key mode: a CA configured on the ends is never taken for a first bootstrap."""
    current = journal.current_ckn.lower() if journal.current_ckn else None
    unread = _unread(link, current, readings)
    if unread is not None:
        return unread
    cas = {d: r for d, r in readings.items() if isinstance(r, CaReading)}
    if len(cas) != len(readings):
        return Decision(link, Verdict.CONFLICT, "mixed readings (key chain and static key)")
    bound = sorted(d for d, r in cas.items() if r.bound)
    if not bound:
        if current is None:
            return Decision(link, Verdict.BOOTSTRAP, "no end has the CA configured: first key")
        return Decision(link, Verdict.IN_SYNC, "no end has the CA configured; the journal's kept")
    if len(bound) != len(cas):
        unbound = sorted(set(cas) - set(bound))
        return Decision(
            link,
            Verdict.CONFLICT,
            f"the CA is configured on {', '.join(bound)} but not on {', '.join(unbound)}",
        )
    common = frozenset.intersection(*(r.live_ckns for r in cas.values()))
    common = frozenset(c.lower() for c in common)
    if current is not None and (current in common or not common):
        return Decision(
            link, Verdict.IN_SYNC, f"the CA is configured on every end ({short(current)})"
        )
    if len(common) == 1:
        (ckn,) = common
        return Decision(
            link, Verdict.ADOPT, f"every end runs on {short(ckn)}, unknown to the journal", ckn=ckn
        )
    return Decision(
        link,
        Verdict.ADOPT,
        "the CA is configured on every end (its key could not be named): rotating in place",
        ckn="",
    )


def key_id_from_ckn(ckn: str, prefix: str | None) -> str | None:
    """The QKD key ID behind a seed-format CKN (prefix + UUID without dashes), if it is one."""
    if not prefix:
        return None
    body = ckn.lower()
    prefix = prefix.lower()
    if not body.startswith(prefix):
        return None
    rest = body[len(prefix) :]
    if len(rest) != 32 or any(c not in "0123456789abcdef" for c in rest):
        return None
    return f"{rest[:8]}-{rest[8:12]}-{rest[12:16]}-{rest[16:20]}-{rest[20:]}"


def blocked(decisions: Sequence[Decision]) -> dict[str, str]:
    """Links not to touch in this wave, and why (for the plan's skipped list)."""
    return {d.link: f"{d.verdict}: {d.message}" for d in decisions if d.verdict.blocks}


def journal_view(current_ckn: str | None, known: Collection[str]) -> JournalView:
    return JournalView(current_ckn, frozenset(c for c in known if c))


__all__ = [
    "CaReading",
    "ChainReading",
    "Decision",
    "JournalView",
    "Reading",
    "Verdict",
    "blocked",
    "decide_chain",
    "decide_static",
    "journal_view",
    "key_id_from_ckn",
    "short",
]
