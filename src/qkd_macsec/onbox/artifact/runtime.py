"""What one run of the script does: the master's rotation, the peer's accept/withdraw, the seed's
SCP pull, and recovery of a rotation a crash left half done.

The I/O is behind :class:`RouterIo` (local config, commits, peers, KME, files), so the decisions
are unit-tested with a fake; ``main`` wires the real one. Order on the master, per due link:
enc_keys → record the pending rotation (atomic state write) → stage locally with start-time T →
offer {link, key_ID, slot, T} to every peer (each does dec_keys, stages, acks in the same call) →
all acked: adopt; any refusal or error: withdraw from every peer (idempotent) and remove the local
entry, before T. A pending rotation found at start-up (crash) is withdrawn everywhere first.
"""

from __future__ import annotations

import concurrent.futures
import os
import time
from dataclasses import dataclass, field
from typing import Any

from qkd_macsec.onbox.artifact.derive import (
    DerivationError,
    cak_bytes_for,
    ckn_for,
    confirmation_tag,
    suite_key_bytes,
)
from qkd_macsec.onbox.artifact.handoff import (
    Ack,
    HandoffError,
    Offer,
    Withdraw,
    last_json_line,
    parse_ack,
    parse_offer,
    parse_withdraw,
)
from qkd_macsec.onbox.artifact.rules import (
    next_free_slot,
    parse_start_time,
    rotation_due,
    slots_to_prune,
    start_time_text,
)
from qkd_macsec.onbox.artifact.settings import LinkSettings, Peer, chain_entries, read_link_settings
from qkd_macsec.onbox.artifact.state import (
    KeyRecord,
    LinkState,
    PendingRotation,
    keyid_is_stale,
    load_state,
    save_state,
    write_atomic,
)

KEEP_PREVIOUS = 1
CRASH_ENV = "QKD_ONBOX_CRASH_AT"  # test-harness fault: exit abruptly at a named step
CRASH_POINTS = ("after-local-stage", "after-peer-ack", "peer-after-stage")
KEY_CHAINS = "security authentication-key-chains key-chain"


class RuntimeFailure(Exception):
    """A step of a rotation that failed; the message is safe to log (no key material)."""


class RouterIo:
    """The edges a run needs; ``main`` supplies the real ones, tests a fake."""

    def now(self) -> float:
        return time.time()

    def read_config(self) -> Any:
        raise NotImplementedError

    def commit_lines(self, lines: list[str], comment: str, secret_hex: str | None) -> None:
        raise NotImplementedError

    def enc_key(self, link: LinkSettings, slaves: list[str], bits: int) -> tuple[str, bytes]:
        raise NotImplementedError

    def dec_key(self, link: LinkSettings, master: str, key_id: str) -> bytes:
        raise NotImplementedError

    def call_peer(self, link: LinkSettings, peer: Peer, action: str, message: str) -> str:
        raise NotImplementedError

    def fetch_published(self, link: LinkSettings, peer: Peer) -> str | None:
        raise NotImplementedError

    def log(self, message: str) -> None:
        raise NotImplementedError


@dataclass
class Paths:
    state: str
    published_dir: str

    def published(self, link: str) -> str:
        return os.path.join(self.published_dir, f"{link}.json")


@dataclass
class RunReport:
    rotated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    recovered: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os._exit(70)


def entry_lines(chain: str, slot: int, ckn: str, cak_hex: str, start: str) -> list[str]:
    key = f"set {KEY_CHAINS} {chain} key {slot}"
    return [f"{key} key-name {ckn}", f"{key} secret {cak_hex}", f'{key} start-time "{start}"']


def removal_lines(chain: str, slots: list[int]) -> list[str]:
    return [f"delete {KEY_CHAINS} {chain} key {slot}" for slot in slots]


class Runtime:
    def __init__(self, io: RouterIo, paths: Paths) -> None:
        self.io = io
        self.paths = paths
        self.states: dict[str, LinkState] = load_state(paths.state)

    def _state(self, link: str) -> LinkState:
        return self.states.setdefault(link, LinkState())

    def _save(self) -> None:
        save_state(self.paths.state, self.states)

    # ------------------------------------------------------------------ timer event
    def on_timer(self) -> RunReport:
        report = RunReport()
        links = read_link_settings(self.io.read_config())
        for name in sorted(links):
            link = links[name]
            try:
                config = self.io.read_config()
                if link.role == "master":
                    self._master(link, config, report)
                elif link.transport == "scp":
                    self._pull(link, config, report)
                else:
                    report.skipped[name] = "slave (the master pushes)"
            except (RuntimeFailure, DerivationError, HandoffError) as exc:
                report.failed[name] = str(exc)
                self.io.log(f"link {name}: {exc}")
        return report

    def _master(self, link: LinkSettings, config: Any, report: RunReport) -> None:
        state = self._state(link.link)
        if state.pending is not None:
            self._recover(link, state)
            report.recovered.append(link.link)
            config = self.io.read_config()
        last = state.current.start if state.current else None
        now = self.io.now()
        if not rotation_due(last, link.interval_s, now):
            report.skipped[link.link] = "not due"
            return
        self._rotate(link, config, state, now)
        report.rotated.append(link.link)

    def _fail(self, state: LinkState, message: str) -> RuntimeFailure:
        state.failures += 1
        state.last_failure = self.io.now()
        self._save()
        return RuntimeFailure(message)

    def _rotate(self, link: LinkSettings, config: Any, state: LinkState, now: float) -> None:
        present = chain_entries(config, link.key_chain)
        keep = state.kept_slots(KEEP_PREVIOUS)
        current_slot = state.current.slot if state.current else None
        slot = next_free_slot(set(keep), current_slot)
        start_text = start_time_text(now + link.delay_s)
        start = parse_start_time(start_text)
        slaves = [peer.sae for peer in link.peers]
        try:
            key_id, key = self.io.enc_key(link, slaves, suite_key_bytes(link.suite) * 8)
        except RuntimeFailure as exc:
            raise self._fail(state, f"enc_keys failed: {exc}") from None
        cak, truncated = cak_bytes_for(key, link.suite)
        if truncated:
            self.io.log(f"link {link.link}: key {key_id} has {len(key) * 8} bits, truncated")
        ckn = ckn_for(key_id, link.ckn_prefix, link.ckn_mode)
        state.pending = PendingRotation(key_id, slot, start, keep, slaves)
        self._save()  # the intent is on disk before the device changes
        prune = slots_to_prune([s for s in present if s != slot], keep)
        lines = removal_lines(link.key_chain, [*prune, *([slot] if slot in present else [])])
        lines += entry_lines(link.key_chain, slot, ckn, cak.hex(), start_text)
        try:
            self.io.commit_lines(lines, f"qkd-onbox {link.link} key {key_id}", cak.hex())
        except RuntimeFailure as exc:
            state.pending = None
            raise self._fail(state, f"local stage failed: {exc}") from None
        self.io.log(f"link {link.link}: staged key {key_id} in slot {slot} from {start_text}")
        crash_point("after-local-stage")
        if link.transport == "scp":
            self._publish(link, Offer(link.link, key_id, slot, start_text, tuple(keep), link.sae))
            state.adopt(KeyRecord(key_id, slot, start), KEEP_PREVIOUS)
            state.pending = None
            self._save()
            return
        offer = Offer(link.link, key_id, slot, start_text, tuple(keep), link.sae)
        expected = confirmation_tag(cak, key_id)
        problems = self._offer_all(link, offer, expected, state)
        crash_point("after-peer-ack")
        if problems:
            self._undo(link, state)
            raise self._fail(state, "; ".join(problems) + " — rotation withdrawn")
        state.adopt(KeyRecord(key_id, slot, start), KEEP_PREVIOUS)
        state.pending = None
        self._save()

    def _offer_all(
        self, link: LinkSettings, offer: Offer, expected: str, state: LinkState
    ) -> list[str]:
        def one(peer: Peer) -> str | None:
            try:
                answer = self.io.call_peer(link, peer, "accept", offer.to_json())
                ack = parse_ack(last_json_line(answer))
            except (RuntimeFailure, HandoffError) as exc:
                return f"peer {peer.sae}: {exc}"
            if (ack.link, ack.key_ID, ack.slot) != (offer.link, offer.key_ID, offer.slot):
                return f"peer {peer.sae}: acknowledged a different rotation"
            if not ack.ok:
                return f"peer {peer.sae} refused: {ack.reason}"
            if ack.confirm != expected:
                return f"peer {peer.sae}: confirmation tag differs (not the same key)"
            return None

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(link.peers))) as pool:
            results = list(pool.map(one, link.peers))
        problems = []
        for peer, problem in zip(link.peers, results, strict=False):
            if problem is None:
                assert state.pending is not None
                state.pending.acked.append(peer.sae)
            else:
                problems.append(problem)
        self._save()
        return problems

    def _undo(self, link: LinkSettings, state: LinkState) -> None:
        """Withdraw the pending rotation from every peer and remove the local entry."""
        pending = state.pending
        assert pending is not None
        withdraw = Withdraw(link.link, pending.key_id, pending.slot).to_json()
        unreached = []
        for peer in link.peers:
            try:
                self.io.call_peer(link, peer, "withdraw", withdraw)
            except RuntimeFailure as exc:
                unreached.append(f"{peer.sae} ({exc})")
        config = self.io.read_config()
        present = chain_entries(config, link.key_chain)
        ckn = ckn_for(pending.key_id, link.ckn_prefix, link.ckn_mode)
        if present.get(pending.slot, ("", ""))[0] == ckn:
            self.io.commit_lines(
                removal_lines(link.key_chain, [pending.slot]),
                f"qkd-onbox {link.link} withdraw {pending.key_id}",
                None,
            )
        if unreached:
            self.io.log(f"link {link.link}: withdraw not delivered to {', '.join(unreached)}")
        state.pending = None
        self._save()

    def _recover(self, link: LinkSettings, state: LinkState) -> None:
        assert state.pending is not None
        self.io.log(
            f"link {link.link}: withdrawing rotation {state.pending.key_id} left by a crash"
        )
        self._undo(link, state)

    def _publish(self, link: LinkSettings, offer: Offer) -> None:
        write_atomic(self.paths.published(link.link), offer.to_json().encode(), 0o644)

    # ------------------------------------------------------------------ peer side
    def accept(self, message: str) -> Ack:
        """An offer from the master: dec_keys, stage, answer (never raises for bad input)."""
        try:
            offer = parse_offer(message)
        except HandoffError as exc:
            return Ack("invalid", "invalid", 0, False, reason=str(exc))
        try:
            tag = self._accept(offer)
        except (RuntimeFailure, DerivationError, HandoffError, ValueError) as exc:
            self.io.log(f"link {offer.link}: refused key {offer.key_ID}: {exc}")
            return Ack(offer.link, offer.key_ID, offer.slot, False, reason=str(exc))
        return Ack(offer.link, offer.key_ID, offer.slot, True, confirm=tag)

    def _slave_link(self, config: Any, link_name: str, master: str) -> LinkSettings:
        links = read_link_settings(config)
        link = links.get(link_name)
        if link is None or link.role != "slave":
            raise RuntimeFailure(f"this router is not a slave of link {link_name}")
        if link.master is None or link.master.sae != master:
            raise RuntimeFailure(f"link {link_name}: {master} is not this link's master")
        return link

    def _accept(self, offer: Offer) -> str:
        config = self.io.read_config()
        link = self._slave_link(config, offer.link, offer.master)
        state = self._state(link.link)
        last = state.current.key_id if state.current else None
        if keyid_is_stale(last, offer.key_ID, link.keyid_check):
            raise RuntimeFailure(f"key ID {offer.key_ID} is stale (kme-keyid-check)")
        start = parse_start_time(offer.start_time)
        key = self.io.dec_key(link, offer.master, offer.key_ID)
        cak, _ = cak_bytes_for(key, link.suite)
        ckn = ckn_for(offer.key_ID, link.ckn_prefix, link.ckn_mode)
        present = chain_entries(config, link.key_chain)
        prune = slots_to_prune([s for s in present if s != offer.slot], list(offer.keep))
        lines = removal_lines(
            link.key_chain, [*prune, *([offer.slot] if offer.slot in present else [])]
        )
        lines += entry_lines(link.key_chain, offer.slot, ckn, cak.hex(), offer.start_time)
        self.io.commit_lines(lines, f"qkd-onbox {link.link} key {offer.key_ID}", cak.hex())
        crash_point("peer-after-stage")
        state.adopt(KeyRecord(offer.key_ID, offer.slot, start), KEEP_PREVIOUS)
        self._save()
        self.io.log(f"link {link.link}: staged key {offer.key_ID} in slot {offer.slot}")
        return confirmation_tag(cak, offer.key_ID)

    def withdraw(self, message: str) -> Ack:
        try:
            request = parse_withdraw(message)
        except HandoffError as exc:
            return Ack("invalid", "invalid", 0, False, reason=str(exc))
        try:
            config = self.io.read_config()
            links = read_link_settings(config)
            link = links.get(request.link)
            if link is None:
                raise RuntimeFailure(f"no link {request.link} here")
            ckn = ckn_for(request.key_ID, link.ckn_prefix, link.ckn_mode)
            if chain_entries(config, link.key_chain).get(request.slot, ("", ""))[0] == ckn:
                self.io.commit_lines(
                    removal_lines(link.key_chain, [request.slot]),
                    f"qkd-onbox {link.link} withdraw {request.key_ID}",
                    None,
                )
            state = self._state(link.link)
            if state.current is not None and state.current.key_id == request.key_ID:
                state.current = state.previous.pop(0) if state.previous else None
                self._save()
        except (RuntimeFailure, DerivationError) as exc:
            return Ack(request.link, request.key_ID, request.slot, False, reason=str(exc))
        self.io.log(f"link {request.link}: withdrew key {request.key_ID}")
        return Ack(request.link, request.key_ID, request.slot, True)

    # ------------------------------------------------------------------ seed's SCP pull
    def _pull(self, link: LinkSettings, config: Any, report: RunReport) -> None:
        master = link.master
        assert master is not None
        text = self.io.fetch_published(link, master)
        if text is None:
            report.skipped[link.link] = "master has published no key ID yet"
            return
        offer = parse_offer(text)
        state = self._state(link.link)
        last = state.current.key_id if state.current else None
        if keyid_is_stale(last, offer.key_ID, link.keyid_check):
            report.skipped[link.link] = f"same key ID {offer.key_ID} (kme-keyid-check)"
            return
        self._accept(offer)
        report.rotated.append(link.link)
