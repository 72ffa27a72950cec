"""Adopt what the routers hold: read every end, decide (engine/reconcile.py), record adoptions.

Runs after recovery (so no rotation of ours is open) and before planning, under the journal's
lease. One read-only NETCONF session per device: its clock, the key chains of the links being
reconciled and, for pre-shared-key links, the CA bindings and live MKA sessions.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from qkd_macsec.engine.executor import RotationExecutor, _err
from qkd_macsec.engine.reconcile import (
    CaReading,
    ChainReading,
    Decision,
    Reading,
    Verdict,
    decide_chain,
    decide_static,
    journal_view,
    key_id_from_ckn,
    short,
)
from qkd_macsec.engine.session_pool import SessionPool
from qkd_macsec.engine.sessions import live_ckn
from qkd_macsec.engine.topology import LinkSpec
from qkd_macsec.macsec import CknMode
from qkd_macsec.obs.logging import get_logger, notice

log = get_logger("engine.adopt")


@dataclass
class _DeviceAsk:
    chains: set[str] = field(default_factory=set)
    interfaces: set[str] = field(default_factory=set)  # pre-shared-key links' interfaces


@dataclass(frozen=True)
class _DeviceRead:
    now: datetime
    chains: dict[str, ChainReading]
    bindings: dict[str, str]
    live: dict[str, frozenset[str]]  # interface -> live CKNs


async def _read_device(pool: SessionPool, device: str, ask: _DeviceAsk) -> _DeviceRead:
    async with pool.session(device) as driver:
        now = (await driver.device_time()).now
        chains = {
            chain: ChainReading(tuple(await driver.key_chain(chain)), now)
            for chain in sorted(ask.chains)
        }
        bindings: dict[str, str] = {}
        live: dict[str, frozenset[str]] = {}
        if ask.interfaces:
            bindings = await driver.macsec_bindings()
            sessions = await driver.mka_sessions(sorted(ask.interfaces))
            live = {i: frozenset(live_ckn(sessions, i)) for i in ask.interfaces}
        return _DeviceRead(now, chains, bindings, live)


def _reading(link: LinkSpec, device: str, read: _DeviceRead | str) -> Reading:
    if isinstance(read, str):
        return read
    if link.mode.strategy.uses_key_chain:
        assert link.key_chain is not None
        return read.chains[link.key_chain]
    interfaces = [i for end in link.ends if end.device == device for i in end.interfaces]
    bound = all(read.bindings.get(i) == link.ca for i in interfaces)
    sets = [read.live.get(i, frozenset()) for i in interfaces]
    return CaReading(bound, frozenset.intersection(*sets) if sets else frozenset())


def _key_id(link: LinkSpec, ckn: str) -> str:
    prefix = link.ckn_prefix if link.ckn_mode is not CknMode.SHA256 else None
    return key_id_from_ckn(ckn, prefix) or "unknown"


async def adopt(executor: RotationExecutor, links: Iterable[str] | None = None) -> list[Decision]:
    """Reconcile ``links`` (default: all) with their devices; record every adoption.

    Links with an open rotation are left to recovery and not reconciled.
    """
    journal = executor.journal
    open_links = {r.link for r in journal.open_rotations()}
    names = list(executor.links) if links is None else [n for n in links if n in executor.links]
    todo = [executor.links[n] for n in names if n not in open_links]
    asks: dict[str, _DeviceAsk] = defaultdict(_DeviceAsk)
    for link in todo:
        for end in link.ends:
            ask = asks[end.device]
            if link.mode.strategy.uses_key_chain:
                assert link.key_chain is not None
                ask.chains.add(link.key_chain)
            else:
                ask.interfaces.update(end.interfaces)

    async def read(device: str) -> tuple[str, _DeviceRead | str]:
        try:
            got = await _read_device(executor.sessions, device, asks[device])
        except Exception as exc:  # decided per link: unreadable blocks only a blind bootstrap
            return device, _err(exc)
        return device, got

    reads = dict(await asyncio.gather(*(read(d) for d in asks)))
    decisions: list[Decision] = []
    for link in todo:
        active = journal.active_keys(link.name, 1)
        view = journal_view(active[0].ckn if active else None, journal.known_ckns(link.name))
        readings = {d: _reading(link, d, reads[d]) for d in link.devices}
        decide = decide_chain if link.mode.strategy.uses_key_chain else decide_static
        decision = decide(link.name, view, readings)
        decisions.append(decision)
        extra = {"link": link.name, "phase": "ADOPT"}
        if decision.verdict is Verdict.ADOPT:
            assert decision.ckn is not None
            start = decision.start_time
            if start is not None and start.tzinfo is None:
                start = start.replace(tzinfo=UTC)
            key_id = _key_id(link, decision.ckn) if decision.ckn else "unknown"
            journal.record_adopted(
                link.name,
                [(end.device, ",".join(end.interfaces)) for end in link.ends],
                key_id=key_id,
                ckn=decision.ckn,
                slot=decision.slot,
                start_time=start,
                detail=decision.message,
            )
            notice(
                log,
                "%s: adopted %s: %s",
                link.name,
                short(decision.ckn),
                decision.message,
                extra=extra,
            )
        elif decision.verdict.blocks:
            log.warning(
                "%s: not rotated: %s: %s",
                link.name,
                decision.verdict,
                decision.message,
                extra=extra,
            )
        else:
            log.info("%s: %s: %s", link.name, decision.verdict, decision.message, extra=extra)
    return decisions


__all__ = ["adopt"]
