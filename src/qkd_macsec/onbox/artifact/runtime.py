"""What one run of the script does: the master's rotation, the peer's accept/withdraw, the seed's
SCP pull, and recovery of a rotation a crash left half done.

The I/O is behind :class:`RouterIo` (local config, commits, peers, KME, files), so the decisions
are unit-tested with a fake; ``main`` wires the real one. Order on the master, per due link:
enc_keys → record the pending rotation (atomic state write) → stage locally with start-time T →
offer {link, key_ID, slot, T} to every peer (each does dec_keys, stages, acks in the same call) →
all acked: adopt; any refusal or error: withdraw from every peer that may hold the entry and remove
the local entry, before T. A pending rotation found at start-up (crash) is resolved the same way.

The rule every path keeps: every failure leaves every link on a key both ends share. A withdraw
that cannot be delivered is retried (back-off, bounded) until shortly before T; if it still fails
the master keeps its own entry rather than remove it (see :meth:`Runtime._resolve` for why), and a
peer never removes an entry whose start-time has passed (see :meth:`Runtime.withdraw`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import time
from dataclasses import dataclass, field, replace
from typing import Any

from qkd_macsec.core.derive import (
    DerivationError,
    cak_bytes_for,
    ckn_for,
    confirmation_tag,
    hybrid_cak_for,
    new_hybrid_share,
    suite_key_bytes,
)
from qkd_macsec.core.key_ids import keyid_is_stale
from qkd_macsec.core.private_files import PUBLIC_MODE, read_text_limited, write_atomic
from qkd_macsec.core.schedule import (
    DEFAULT_BACKOFF,
    WITHDRAW_MAX_ATTEMPTS,
    link_due,
    withdraw_deadline,
    withdraw_wait,
)
from qkd_macsec.core.slots import next_free_slot, slots_to_prune
from qkd_macsec.devices.junos_setlines import KEY_CHAIN_SLOTS, key_entry_lines, key_removal_line
from qkd_macsec.devices.junos_time import parse_start_time, start_time_text
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
from qkd_macsec.onbox.artifact.settings import LinkSettings, Peer, chain_entries, read_link_settings
from qkd_macsec.onbox.artifact.share_file import ShareFile, new_share_file_name
from qkd_macsec.onbox.artifact.state import (
    KeyRecord,
    LinkState,
    PendingRotation,
    load_state,
    save_state,
)

KEEP_PREVIOUS = 1
CRASH_ENV = "QKD_ONBOX_CRASH_AT"  # test-harness fault: exit abruptly at a named step
CRASH_POINTS = ("after-local-stage", "after-peer-ack", "peer-after-stage")
# How a pending rotation ended (``Runtime._resolve``).
WITHDRAWN, ADOPTED, KEPT = "withdrawn", "adopted", "kept"


class RuntimeFailure(Exception):
    """A step of a rotation that failed; the message is safe to log (no key material)."""


class PeerUnreachable(RuntimeFailure):
    """The request never reached the peer (no session opened): it cannot have acted on it."""


class RouterIo:
    """The edges a run needs; ``main`` supplies the real ones, tests a fake."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def utc_offset_s(self) -> int:
        """This router's ``system time-zone`` offset from UTC now (seconds east): start-times
        are written in the device's wall clock. The default is a router kept on UTC."""
        return 0

    def read_config(self) -> Any:
        raise NotImplementedError

    def commit_lines(self, lines: list[str], comment: str, secret_hex: str | None) -> None:
        raise NotImplementedError

    def enc_key(self, link: LinkSettings, slaves: list[str], bits: int) -> tuple[str, bytes]:
        raise NotImplementedError

    def dec_key(self, link: LinkSettings, master: str, key_id: str) -> bytes:
        raise NotImplementedError

    def call_peer(
        self,
        link: LinkSettings,
        peer: Peer,
        action: str,
        message: str,
        share: ShareFile | None = None,
    ) -> str:
        """Run ``peer``'s script with ``action`` and ``message``; with ``share``, first put S in
        the named file in the peer user's home (S never goes in the message: argv is public)."""
        raise NotImplementedError

    def take_share(self, name: str) -> bytes:
        """S from the share file ``name`` the master put in this user's home; the file is deleted
        whatever happens (raises ``RuntimeFailure`` when it is missing or not to be trusted)."""
        raise NotImplementedError

    def fetch_published(self, link: LinkSettings, peer: Peer) -> str | None:
        raise NotImplementedError

    def fetch_ack(self, link: LinkSettings, peer: Peer) -> str | None:
        """SCP transport: the slave's ``published/<link>.ack.json`` (None if it has none)."""
        raise NotImplementedError

    def log(self, message: str) -> None:
        raise NotImplementedError


@dataclass
class Paths:
    state: str
    published_dir: str

    def published(self, link: str) -> str:
        return os.path.join(self.published_dir, f"{link}.json")

    def ack(self, link: str) -> str:
        return os.path.join(self.published_dir, f"{link}.ack.json")


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


def removal_lines(chain: str, slots: list[int]) -> list[str]:
    return [key_removal_line(chain, slot) for slot in slots]


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
            if state.pending.transport == "scp":
                if not self._confirm_scp(link, state, report):
                    return
            else:
                kept = state.pending.kept
                self.io.log(
                    f"link {link.link}: resolving rotation {state.pending.key_id} "
                    + ("whose withdraw was not delivered" if kept else "left by a crash")
                )
                outcome = self._resolve(link, state)
                report.recovered.append(link.link)
                if outcome == KEPT:
                    report.failed[link.link] = (
                        f"rotation {state.pending.key_id if state.pending else ''} unresolved: "
                        "withdraw still not delivered; keeping the entry the peer may hold"
                    )
                    return
            config = self.io.read_config()
        last = state.current.start if state.current else None
        now = self.io.now()
        due, why, when = link_due(
            last, link.interval_s, now, state.failures, state.last_failure, state.diverged
        )
        cap = DEFAULT_BACKOFF.diverged_cap_s
        if not due and state.diverged and when is not None and when - now <= cap:
            # The ends may hold different keys and MKA keeps the preceding one only briefly:
            # the off-box rule re-keys within 5 s; on-box nobody else will run us that soon.
            self.io.sleep(when - now)
            now = self.io.now()
            due = True
        if not due:
            report.skipped[link.link] = why
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
        slot = next_free_slot(set(keep), current_slot, KEY_CHAIN_SLOTS)
        start = float(int(now + link.delay_s))
        start_text = start_time_text(start, self.io.utc_offset_s())  # this router's wall clock
        slaves = [peer.sae for peer in link.peers]
        try:
            key_id, key = self.io.enc_key(link, slaves, suite_key_bytes(link.suite) * 8)
        except RuntimeFailure as exc:
            raise self._fail(state, f"enc_keys failed: {exc}") from None
        ckn = ckn_for(key_id, link.ckn_prefix, link.ckn_mode)
        # Hybrid: S lives in this run's memory and, for the moment of one offer, in a 0600 file
        # on the peer that the peer's script deletes at once; a crash loses it, which
        # costs nothing, as resolving a pending rotation only withdraws or adopts, never re-stages.
        share = new_hybrid_share() if link.key_derivation == "hybrid" else b""
        cak, truncated = link_cak(link, key, ckn, share)
        if truncated:
            self.io.log(f"link {link.link}: key {key_id} has {len(key) * 8} bits, truncated")
        expected = confirmation_tag(cak, key_id)
        # No peer has been offered it yet: a crash before the offer needs no withdraw.
        state.pending = PendingRotation(
            key_id, slot, start, keep, slaves, absent=list(slaves), transport=link.transport
        )
        if link.transport == "scp":
            state.pending.confirm = expected
        self._save()  # the intent is on disk before the device changes
        prune = slots_to_prune([s for s in present if s != slot], keep)
        lines = removal_lines(link.key_chain, [*prune, *([slot] if slot in present else [])])
        lines += key_entry_lines(link.key_chain, slot, ckn, cak.hex(), start_text)
        try:
            self.io.commit_lines(lines, f"qkd-onbox {link.link} key {key_id}", cak.hex())
        except RuntimeFailure as exc:
            state.pending = None
            raise self._fail(state, f"local stage failed: {exc}") from None
        self.io.log(f"link {link.link}: staged key {key_id} in slot {slot} from {start_text}")
        crash_point("after-local-stage")
        # On the wire the start-time is UTC; each end writes it in its own zone (``_accept``).
        offer = Offer(link.link, key_id, slot, start_time_text(start), tuple(keep), link.sae)
        if link.transport == "scp":
            # Adopted only once every slave's ack file confirms it (``_confirm_scp``): adopting
            # now would let the next rotation prune the key a slave that never fetched is on.
            self._publish(link, offer)
            self._save()
            return
        state.pending.absent = []
        self._save()  # from here on a peer may hold it
        problems = self._offer_all(link, offer, expected, state, share)
        crash_point("after-peer-ack")
        if problems:
            outcome = self._resolve(link, state)
            if outcome == WITHDRAWN:
                raise self._fail(state, "; ".join(problems) + " — rotation withdrawn")
            if outcome == ADOPTED:
                raise RuntimeFailure("; ".join(problems) + f" — peers hold {key_id}: kept")
            raise RuntimeFailure(
                "; ".join(problems)
                + f" — withdraw not delivered; keeping {key_id} (the peer may hold it)"
            )
        state.adopt(KeyRecord(key_id, slot, start), KEEP_PREVIOUS)
        state.pending = None
        self._save()

    def _offer_all(
        self, link: LinkSettings, offer: Offer, expected: str, state: LinkState, share: bytes
    ) -> list[str]:
        """Offer to every peer in parallel; record who acked and who certainly did not stage.
        A hybrid offer names a share file, fresh per peer, that the call puts S in."""

        def one(peer: Peer) -> tuple[str | None, bool]:  # (problem, certainly not staged)
            secret = ShareFile(new_share_file_name(), share) if share else None
            sent = replace(offer, hybrid_share_file=secret.name) if secret else offer
            try:
                answer = self.io.call_peer(link, peer, "accept", sent.to_json(), secret)
            except PeerUnreachable as exc:
                return f"peer {peer.sae}: {exc}", True
            except RuntimeFailure as exc:
                return f"peer {peer.sae}: {exc}", False
            try:
                ack = parse_ack(last_json_line(answer))
            except HandoffError as exc:
                return f"peer {peer.sae}: {exc}", False
            if (ack.link, ack.key_ID, ack.slot) != (offer.link, offer.key_ID, offer.slot):
                return f"peer {peer.sae}: acknowledged a different rotation", False
            if not ack.ok:  # a refusal is answered only when nothing was committed
                return f"peer {peer.sae} refused: {ack.reason}", True
            if ack.confirm != expected:
                return f"peer {peer.sae}: confirmation tag differs (not the same key)", False
            return None, False

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(link.peers))) as pool:
            results = list(pool.map(one, link.peers))
        problems = []
        pending = state.pending
        assert pending is not None
        # One result per peer (pool.map); no ``strict=``: Junos's Python may predate 3.10.
        for peer, (problem, absent) in zip(link.peers, results):  # noqa: B905
            if problem is None:
                pending.acked.append(peer.sae)
            else:
                problems.append(problem)
                if absent:
                    pending.absent.append(peer.sae)
        self._save()
        return problems

    def _withdraw_once(self, link: LinkSettings, peer: Peer, message: str) -> str:
        """One withdraw: ``"absent"`` (the peer does not hold the entry), ``"held"`` (it holds
        it and it has started), else the reason it failed."""
        try:
            ack = parse_ack(last_json_line(self.io.call_peer(link, peer, "withdraw", message)))
        except (RuntimeFailure, HandoffError) as exc:
            return str(exc)
        body = parse_withdraw(message)
        if (ack.link, ack.key_ID, ack.slot) != (body.link, body.key_ID, body.slot):
            return "answered for a different entry"
        if ack.ok:
            return "absent"
        if ack.held:
            return "held"
        return f"refused: {ack.reason}"

    def _resolve(self, link: LinkSettings, state: LinkState) -> str:
        """Bring a failed (or crash-left) rotation to an end where both ends share a key.

        Every peer that may hold the entry (it acked, answered garbage, or its answer was lost)
        gets a withdraw, retried with back-off until shortly before the start-time T. Then:

        * every peer confirmed it does not hold the entry → remove ours: all stay on the current
          key (``WITHDRAWN``);
        * every peer holds it and it has started there (a peer never removes a started entry)
          → it is the key both ends are on: adopt it (``ADOPTED``; re-keyed soon if any tag was
          unconfirmed);
        * some peer could not be asked → keep our entry (``KEPT``). Why keep rather than remove:
          with both the current key and the new entry in our chain, we hold whichever key the
          peer ends on; removing ours is irreversible (the CAK is gone, the KME key consumed), so
          if the peer has staged the entry it would go to it at T alone and the link would drop
          once MKA's preceding-key hold ends. Keeping it is wrong only if the peer never staged
          it, and a later run can still fix that: its withdraw then answers "absent" (even after
          T) and we remove ours, or "held" and we adopt. The pending record stays on disk.
        """
        pending = state.pending
        assert pending is not None
        message = Withdraw(link.link, pending.key_id, pending.slot).to_json()
        asked = [p for p in link.peers if p.sae not in pending.absent]
        held: list[str] = []
        errors: dict[str, str] = {}
        deadline = withdraw_deadline(pending.start, link.delay_s)
        attempt = 0
        while True:
            attempt += 1
            for peer in [p for p in asked if p.sae not in pending.absent and p.sae not in held]:
                outcome = self._withdraw_once(link, peer, message)
                if outcome == "absent":
                    pending.absent.append(peer.sae)
                    errors.pop(peer.sae, None)
                elif outcome == "held":
                    held.append(peer.sae)
                    errors.pop(peer.sae, None)
                else:
                    errors[peer.sae] = outcome
            if not errors or attempt >= WITHDRAW_MAX_ATTEMPTS:
                break
            wait = withdraw_wait(attempt)
            if self.io.now() + wait > deadline:
                break
            self.io.log(
                f"link {link.link}: withdraw of {pending.key_id} not delivered to "
                + ", ".join(f"{sae} ({why})" for sae, why in sorted(errors.items()))
                + f"; retry {attempt + 1} in {wait:.1f} s"
            )
            self.io.sleep(wait)
        if errors:
            pending.kept = True
            state.diverged = True
            state.failures += 1
            state.last_failure = self.io.now()
            self._save()
            self.io.log(
                f"link {link.link}: withdraw of {pending.key_id} not delivered to "
                + ", ".join(sorted(errors))
                + f" after {attempt} attempt(s): keeping slot {pending.slot} (the peer may hold it)"
            )
            return KEPT
        if held and len(held) == len(link.peers):
            confirmed = set(held) <= set(pending.acked)
            state.adopt(KeyRecord(pending.key_id, pending.slot, pending.start), KEEP_PREVIOUS)
            state.pending = None
            if not confirmed:  # the same key ID, but no tag proved the same CAK: re-key soon
                state.diverged = True
                state.failures = 1
                state.last_failure = self.io.now()
            self._save()
            self.io.log(f"link {link.link}: every peer is on {pending.key_id}: adopted")
            return ADOPTED
        state.pending = None
        if held:
            # Group CA: some members are on it, others never had it; no key is shared by all.
            # Keep ours (we then share a key with each member) and re-key promptly: the next
            # stage prunes this entry everywhere as it is neither current nor previous.
            state.diverged = True
            self.io.log(
                f"link {link.link}: {', '.join(held)} hold {pending.key_id}, others do not: re-key"
            )
        else:  # no peer holds it: remove ours, every end stays on the current key
            state.diverged = False
            self._remove_local(link, pending.key_id, pending.slot)
        self._save()
        return WITHDRAWN

    def _remove_local(self, link: LinkSettings, key_id: str, slot: int) -> None:
        config = self.io.read_config()
        present = chain_entries(config, link.key_chain)
        ckn = ckn_for(key_id, link.ckn_prefix, link.ckn_mode)
        if present.get(slot, ("", ""))[0] == ckn:
            self.io.commit_lines(
                removal_lines(link.key_chain, [slot]),
                f"qkd-onbox {link.link} withdraw {key_id}",
                None,
            )

    def _publish(self, link: LinkSettings, offer: Offer) -> None:
        body = offer.published().to_json()  # never S (settings refuse hybrid over SCP anyway)
        write_atomic(self.paths.published(link.link), body.encode(), PUBLIC_MODE)

    def _confirm_scp(self, link: LinkSettings, state: LinkState, report: RunReport) -> bool:
        """SCP transport: adopt the published key once every slave's ack file confirms it (same
        key ID and the right confirmation tag). True when nothing is pending any more."""
        pending = state.pending
        assert pending is not None
        waiting: list[str] = []
        refused: list[str] = []
        unverified = False
        for peer in link.peers:
            if peer.sae in pending.acked:
                continue
            try:
                text = self.io.fetch_ack(link, peer)
                ack = None if text is None else parse_ack(text)
            except (RuntimeFailure, HandoffError) as exc:
                waiting.append(f"{peer.sae} ({exc})")
                continue
            if ack is None or (ack.key_ID, ack.slot) != (pending.key_id, pending.slot):
                waiting.append(peer.sae)  # not pulled yet (or its ack is for an older key)
            elif ack.held:  # it is on the key (staged by a run that died before its ack)
                pending.acked.append(peer.sae)
                unverified = True
            elif not ack.ok:
                refused.append(f"{peer.sae}: {ack.reason}")
            elif ack.confirm != pending.confirm:
                waiting.append(f"{peer.sae} (confirmation tag differs: not the same key)")
            else:
                pending.acked.append(peer.sae)
        if refused and not [p for p in link.peers if p.sae in pending.acked]:
            # No slave staged it (they say so): unpublish and remove ours, even past T (we then
            # fall back to the current key, which they are on).
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.paths.published(link.link))
            self._remove_local(link, pending.key_id, pending.slot)
            state.pending = None
            report.failed[link.link] = "; ".join(refused) + " — key unpublished and removed"
            state.failures += 1
            state.last_failure = self.io.now()
            self._save()
            return False
        if waiting or refused:
            self._save()
            report.skipped[link.link] = f"key {pending.key_id} not confirmed yet by " + ", ".join(
                waiting + refused
            )
            return False
        state.adopt(KeyRecord(pending.key_id, pending.slot, pending.start), KEEP_PREVIOUS)
        state.pending = None
        if unverified:  # no tag proved the same CAK: re-key soon (the diverged rule)
            state.diverged = True
            state.failures = 1
            state.last_failure = self.io.now()
        self._save()
        self.io.log(f"link {link.link}: every slave confirmed key {pending.key_id}: adopted")
        return True

    # ------------------------------------------------------------------ peer side
    def accept(self, message: str) -> Ack:
        """An offer from the master: dec_keys, stage, answer (never raises for bad input)."""
        try:
            offer = parse_offer(message)
        except HandoffError as exc:
            return Ack("invalid", "invalid", 0, False, reason=str(exc))
        try:
            share = self.io.take_share(offer.hybrid_share_file) if offer.hybrid_share_file else b""
            tag = self._accept(offer, share)
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

    def _accept(self, offer: Offer, share: bytes) -> str:
        config = self.io.read_config()
        link = self._slave_link(config, offer.link, offer.master)
        state = self._state(link.link)
        last = state.current.key_id if state.current else None
        if keyid_is_stale(last, offer.key_ID, link.keyid_check):
            raise RuntimeFailure(f"key ID {offer.key_ID} is stale (kme-keyid-check)")
        start = parse_start_time(offer.start_time)
        start_text = start_time_text(start, self.io.utc_offset_s())  # this router's wall clock
        if (link.key_derivation == "hybrid") != bool(share):
            raise RuntimeFailure(
                f"link {link.link} is key-derivation {link.key_derivation} here, but the offer "
                + ("carries no hybrid share" if not share else "carries one")
            )
        key = self.io.dec_key(link, offer.master, offer.key_ID)
        ckn = ckn_for(offer.key_ID, link.ckn_prefix, link.ckn_mode)
        cak, _ = link_cak(link, key, ckn, share)
        present = chain_entries(config, link.key_chain)
        prune = slots_to_prune([s for s in present if s != offer.slot], list(offer.keep))
        lines = removal_lines(
            link.key_chain, [*prune, *([offer.slot] if offer.slot in present else [])]
        )
        lines += key_entry_lines(link.key_chain, offer.slot, ckn, cak.hex(), start_text)
        self.io.commit_lines(lines, f"qkd-onbox {link.link} key {offer.key_ID}", cak.hex())
        crash_point("peer-after-stage")
        state.adopt(KeyRecord(offer.key_ID, offer.slot, start), KEEP_PREVIOUS)
        self._save()
        self.io.log(f"link {link.link}: staged key {offer.key_ID} in slot {offer.slot}")
        return confirmation_tag(cak, offer.key_ID)

    def withdraw(self, message: str) -> Ack:
        """Remove a pending entry the master withdraws; never one that has started.

        An entry whose start-time has passed (this router's clock) is the key MKA is on, or about
        to be: removing it would leave this end on an older key alone. It is kept and the answer
        says so (``held``), which tells the master both ends are on it.
        """
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
            entry = chain_entries(config, link.key_chain).get(request.slot)
            if entry is not None and entry[0] == ckn:
                if entry_started(entry[1], self.io.now()):
                    self.io.log(
                        f"link {link.link}: refused to withdraw key {request.key_ID}: "
                        f"its start-time {entry[1] or '(none)'} has passed"
                    )
                    return Ack(
                        request.link,
                        request.key_ID,
                        request.slot,
                        False,
                        reason="entry has started: kept",
                        held=True,
                    )
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
            self._ack_again(link, offer, config)
            return
        try:
            tag = self._accept(offer, b"")  # SCP carries no S: hybrid needs the push transport
        except (RuntimeFailure, DerivationError, HandoffError, ValueError) as exc:
            self._refuse_pulled(link, offer, str(exc))
            raise
        ack = Ack(offer.link, offer.key_ID, offer.slot, True, confirm=tag)
        write_atomic(self.paths.ack(link.link), ack.to_json().encode(), PUBLIC_MODE)
        report.rotated.append(link.link)

    def _ack_again(self, link: LinkSettings, offer: Offer, config: Any) -> None:
        """A run that staged this key died before writing its ack: answer ``held`` (we are on
        it, or will be at T) so the master is not left waiting; no tag (the CAK is not kept),
        so the master re-keys soon."""
        try:
            if parse_ack(read_text_limited(self.paths.ack(link.link), 8192)).key_ID == offer.key_ID:
                return
        except (OSError, HandoffError):
            pass
        ckn = ckn_for(offer.key_ID, link.ckn_prefix, link.ckn_mode)
        if chain_entries(config, link.key_chain).get(offer.slot, ("", ""))[0] != ckn:
            return
        answer = Ack(
            offer.link, offer.key_ID, offer.slot, False, reason="staged earlier", held=True
        )
        write_atomic(self.paths.ack(link.link), answer.to_json().encode(), PUBLIC_MODE)

    def _refuse_pulled(self, link: LinkSettings, offer: Offer, why: str) -> None:
        """Tell the master (ack file) that we do not hold the pulled key, so it removes its own.

        Only if true: a run that crashed after staging this very entry leaves it in our chain
        while the KME no longer hands out the key. Such an entry is removed first if it has not
        started; if it has, we are on it and say so (``held``) instead of refusing. Without a
        readable configuration we write nothing: the master keeps waiting, which is safe.
        """
        try:
            config = self.io.read_config()
            ckn = ckn_for(offer.key_ID, link.ckn_prefix, link.ckn_mode)
            entry = chain_entries(config, link.key_chain).get(offer.slot)
            held = False
            if entry is not None and entry[0] == ckn:
                held = entry_started(entry[1], self.io.now())
                if not held:
                    self.io.commit_lines(
                        removal_lines(link.key_chain, [offer.slot]),
                        f"qkd-onbox {link.link} withdraw {offer.key_ID}",
                        None,
                    )
        except (RuntimeFailure, DerivationError) as exc:
            self.io.log(f"link {link.link}: no answer for key {offer.key_ID} written: {exc}")
            return
        answer = Ack(offer.link, offer.key_ID, offer.slot, False, reason=why, held=held)
        write_atomic(self.paths.ack(link.link), answer.to_json().encode(), PUBLIC_MODE)


def link_cak(link: LinkSettings, key: bytes, ckn: str, share: bytes) -> tuple[bytes, bool]:
    """The link's CAK (and whether the QKD key was truncated): the seed's, or the hybrid one
    from the QKD key and S (``core.derive``, the same rule as off-box)."""
    if link.key_derivation == "hybrid":
        return hybrid_cak_for(key, share, link.suite, ckn)
    return cak_bytes_for(key, link.suite)


def entry_started(start_text: str, now: float) -> bool:
    """Whether a key-chain entry's start-time has passed at ``now`` (device clock). An entry with
    no readable start-time counts as started: Junos uses such a key at once."""
    try:
        return parse_start_time(start_text) <= now
    except ValueError:
        return True
