"""Crash recovery: finish or undo every rotation the journal shows as open.

Key material never reaches disk, so after a crash the engine cannot re-install a key; it reads
what the devices actually hold and decides from that:

- PLANNED / KEYS: no device was touched → ABORTED (the fetched key is simply never used).
- STAGING / STAGED / ABORTING, key-chain mode: read the link's chain on every end.
  * every end holds the entry (slot + CKN) and the rotation was not being undone → it is finished:
    STAGED, and after the start-time VERIFY → ACTIVE;
  * otherwise → delete the entry from every end that has it (before its start-time when the
    restart is quick; after it, the end falls back to the entry the other end still runs) → ABORTED.
- Pre-shared-key mode: a half-done static key cannot be taken back without the old CAK, so the
  rotation is ABORTED and the link is re-keyed at once on every end (returned as ``force``).
- A device that cannot be reached leaves its rotation open; the next run tries again.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from qkd_macsec.devices.base import ChainEntryState
from qkd_macsec.engine.events import EndMarked, PhaseChanged
from qkd_macsec.engine.executor import RotationExecutor, _err
from qkd_macsec.engine.journal import Phase, RotationRecord
from qkd_macsec.engine.results import RotationResult, WaveResult
from qkd_macsec.engine.sessions import read_chains, remove_entries
from qkd_macsec.obs.logging import get_logger, notice

log = get_logger("engine.recovery")


@dataclass
class RecoveryResult:
    finished: list[str] = field(default_factory=list)
    undone: list[str] = field(default_factory=list)
    still_open: dict[str, str] = field(default_factory=dict)
    force: list[str] = field(default_factory=list)  # links to re-key now (pre-shared-key mode)
    unknown_links: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)  # a restored journal's stale rotations

    @property
    def touched(self) -> int:
        return len(self.finished) + len(self.undone) + len(self.force) + len(self.superseded)

    @property
    def links(self) -> set[str]:
        """Links whose journal state recovery changed: reconcile them with their devices."""
        return {*self.finished, *self.undone, *self.force, *self.superseded}


def _holds(states: list[ChainEntryState], record: RotationRecord) -> bool:
    return any(
        s.slot == record.slot and s.ckn.lower() == (record.ckn or "").lower() for s in states
    )


def _superseded(states: list[ChainEntryState], record: RotationRecord) -> bool:
    """The chain holds an entry starting after this rotation's own."""
    own = [s for s in states if s.slot == record.slot]
    if not own:
        return False
    start = own[0].start_time.replace(tzinfo=None)
    return any(s.start_time.replace(tzinfo=None) > start for s in states if s.slot != record.slot)


def _chain(read: dict[str, list[ChainEntryState]] | str, chain: str) -> list[ChainEntryState]:
    return [] if isinstance(read, str) else read.get(chain, [])


async def recover(executor: RotationExecutor) -> RecoveryResult:
    """Bring every open rotation to ACTIVE or ABORTED (or leave it open if a device is down)."""
    journal = executor.journal
    emit = executor.events.emit  # the journal writes go through the executor's observers

    def phase_changed(record: RotationRecord, phase: Phase, error: str | None = None) -> None:
        emit(PhaseChanged(record.link, record.id, phase, error))

    out = RecoveryResult()
    to_read: dict[str, set[str]] = defaultdict(set)
    candidates: list[RotationRecord] = []
    for record in journal.open_rotations():
        link = executor.links.get(record.link)
        if link is None:
            out.unknown_links.append(record.link)
            out.still_open[record.link] = "link no longer in the inventory"
            continue
        if record.phase in (Phase.PLANNED, Phase.KEYS):
            phase_changed(record, Phase.ABORTED, "interrupted before staging")
            out.undone.append(record.link)
            continue
        if not link.mode.strategy.can_undo:  # nothing to read back: re-key every end
            phase_changed(record, Phase.ABORTED, "interrupted; re-keying all ends")
            out.force.append(record.link)
            continue
        assert link.key_chain is not None
        for end in link.ends:
            to_read[end.device].add(link.key_chain)
        candidates.append(record)
    if not candidates:
        return out

    async def read(device: str) -> tuple[str, dict[str, list[ChainEntryState]] | str]:
        chains = sorted(to_read[device])
        try:
            return device, await read_chains(executor.sessions, device, chains)
        except Exception as exc:  # the rotation stays open; the next run tries again
            return device, _err(exc)

    reads = dict(await asyncio.gather(*(read(d) for d in to_read)))
    undo: dict[str, list[tuple[str, int]]] = defaultdict(list)
    undo_records: dict[str, list[RotationRecord]] = defaultdict(list)
    finish: list[RotationRecord] = []
    for record in candidates:
        link = executor.links[record.link]
        chain = link.key_chain
        assert chain is not None
        assert record.slot is not None
        down = [d for d in link.devices if isinstance(reads[d], str)]
        if down:
            out.still_open[record.link] = "; ".join(f"{d}: {reads[d]}" for d in down)
            continue
        holders = [d for d in link.devices if _holds(_chain(reads[d], chain), record)]
        if len(holders) == len(link.devices) and record.phase is not Phase.ABORTING:
            if any(_superseded(_chain(reads[d], chain), record) for d in holders):
                # A journal restored from a backup taken mid-rotation: the rotation finished
                # long ago and a newer key followed. It was active once; waiting for MKA to be
                # live on it would time out. Adoption then records the key in force.
                phase_changed(
                    record, Phase.ACTIVE, "recovered: superseded by a newer entry on the devices"
                )
                out.superseded.append(record.link)
                continue
            finish.append(record)
            continue
        for device in holders:
            undo[device].append((chain, record.slot))
            undo_records[device].append(record)
        if not holders:
            phase_changed(record, Phase.ABORTED, "recovered: no end held the entry")
            out.undone.append(record.link)
        else:
            phase_changed(record, Phase.ABORTING, "recovered: partially staged")

    async def remove(device: str) -> tuple[str, str | None]:
        try:
            await remove_entries(
                executor.sessions, device, undo[device], comment="qkd-macsec recovery: undo"
            )
        except Exception as exc:  # the rotation stays open; the next run tries again
            return device, _err(exc)
        return device, None

    failures = dict(await asyncio.gather(*(remove(d) for d in undo)))
    undone_ids = {r.id for rs in undo_records.values() for r in rs}
    for rid in undone_ids:
        record = journal.get(rid)
        link = executor.links[record.link]
        stuck = [d for d in link.devices if failures.get(d)]
        if stuck:
            out.still_open[record.link] = "undo failed on " + ", ".join(stuck)
            continue
        for device in link.devices:
            if device in undo:
                emit(EndMarked(record.link, rid, device, removed=True))
        phase_changed(record, Phase.ABORTED, "recovered: staged entries removed")
        out.undone.append(record.link)

    if finish:
        result = WaveResult(wave="recovery", started=datetime.now(UTC))
        for record in finish:
            phase_changed(record, Phase.STAGED)
            result.rotations[record.link] = RotationResult(
                record.link,
                record.id,
                record.reason,
                phase=Phase.STAGED,
                key_id=record.key_id,
                ckn=record.ckn,
                kcv=record.kcv,
                slot=record.slot,
                activation=record.start_time,
            )
        latest = max((r.start_time for r in finish if r.start_time), default=None)
        await executor._activate_and_verify(
            [executor.links[r.link] for r in finish], latest or datetime.now(UTC), result
        )
        out.finished.extend(r.link for r in finish)
    if out.touched or out.still_open:
        notice(
            log,
            "recovery: %d finished, %d undone, %d re-key, %d still open",
            len(out.finished),
            len(out.undone),
            len(out.force),
            len(out.still_open),
        )
    return out
