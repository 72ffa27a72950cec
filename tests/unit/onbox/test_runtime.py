"""The runtime's decisions: a master and a slave runtime wired together through small fakes
(config as XML built from a dict, commits parsed from the set lines, a shared fake KME)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from qkd_macsec.core.derive import ckn_for, hybrid_cak_for
from qkd_macsec.core.schedule import link_due
from qkd_macsec.devices.junos_time import parse_start_time, start_time_text
from qkd_macsec.engine.journal import ActiveKey
from qkd_macsec.engine.planner import KeyMode, LinkHistory, LinkView, PlanPolicy, plan_link
from qkd_macsec.onbox.artifact import runtime as runtime_module
from qkd_macsec.onbox.artifact.handoff import Offer
from qkd_macsec.onbox.artifact.runtime import (
    Paths,
    PeerUnreachable,
    RouterIo,
    Runtime,
    RuntimeFailure,
    entry_started,
)
from qkd_macsec.onbox.artifact.settings import LinkSettings, Peer
from qkd_macsec.onbox.artifact.share_file import (
    ShareFile,
    ShareFileError,
    new_share_file_name,
    take_share_file,
)
from qkd_macsec.onbox.artifact.state import load_state, save_state

LINK = "L1"
_SLOT_RE = re.compile(r"key-chain KC1 key (\d+)(?: (key-name|secret|start-time) (.+))?$")


class FakeKme:
    """Issues keys to the master and hands the same bytes to the slave once."""

    def __init__(self) -> None:
        self.issued: dict[str, bytes] = {}
        self.counter = 0
        self.fail_dec = False
        self.tamper = False
        self.dec_calls: list[str] = []

    def enc(self) -> tuple[str, bytes]:
        self.counter += 1
        key_id = f"00000000-0000-4000-8000-{self.counter:012d}"
        key = bytes([self.counter]) * 32
        self.issued[key_id] = key
        return key_id, key

    def dec(self, key_id: str) -> bytes:
        self.dec_calls.append(key_id)
        if self.fail_dec:
            raise RuntimeFailure("KME answered HTTP 503: unavailable")
        try:
            key = self.issued.pop(key_id)
        except KeyError:
            raise RuntimeFailure("KME answered HTTP 404: key not found") from None
        return bytes(b ^ 0xFF for b in key) if self.tamper else key


class FakeRouter(RouterIo):
    def __init__(self, name: str, macros: dict[str, str], kme: FakeKme) -> None:
        self.name = name
        self.macros = macros
        self.kme = kme
        self.chain: dict[int, dict[str, str]] = {}
        self.commits: list[list[str]] = []
        self.logs: list[str] = []
        self.clock = 1_800_000_000.0
        self.peers: dict[str, Runtime] = {}
        self.unreachable: set[str] = set()
        self.lose_answers: set[str] = set()  # the peer acts on an offer, its answer is lost
        self.withdraws_fail = 0  # this many withdraw calls find the peer unreachable
        self.withdraw_calls: list[float] = []  # clock at each withdraw call
        self.sleeps: list[float] = []
        self.published: dict[str, Path] = {}  # peer SAE -> its published/ directory (SCP)
        self.others: list[FakeRouter] = []  # routers whose clocks move with ours
        self.zone_offset_s = 0  # ``system time-zone``: start-times are wall-clock in it
        self.home: Path | None = None  # the script user's home (where file-put lands)
        self.argv: list[str] = []  # every message passed to a peer's script (its command line)

    def utc_offset_s(self) -> int:
        return self.zone_offset_s

    def _read_back(self, start: str) -> str:
        """A start-time as Junos reads it back: the zone's offset appended (evidence §1)."""
        if not start or not self.zone_offset_s:
            return start
        minutes = abs(self.zone_offset_s) // 60
        sign = "-" if self.zone_offset_s < 0 else "+"
        return f"{start} {sign}{minutes // 60:02d}{minutes % 60:02d}"

    def now(self) -> float:
        return self.clock

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        for router in [self, *self.others]:
            router.clock += seconds

    def read_config(self) -> Any:
        root = etree.Element("configuration")
        security = etree.SubElement(root, "security")
        macsec = etree.SubElement(security, "macsec")
        ca = etree.SubElement(macsec, "connectivity-association")
        etree.SubElement(ca, "name").text = "CA1"
        etree.SubElement(ca, "cipher-suite").text = "gcm-aes-256"
        etree.SubElement(ca, "pre-shared-key-chain").text = "KC1"
        iface = etree.SubElement(macsec, "interfaces")
        etree.SubElement(iface, "name").text = "et-0/0/1"
        etree.SubElement(iface, "connectivity-association").text = "CA1"
        macro = etree.SubElement(iface, "apply-macro")
        etree.SubElement(macro, "name").text = "qkd"
        for key, value in self.macros.items():
            data = etree.SubElement(macro, "data")
            etree.SubElement(data, "name").text = key
            etree.SubElement(data, "value").text = value
        chains = etree.SubElement(security, "authentication-key-chains")
        kc = etree.SubElement(chains, "key-chain")
        etree.SubElement(kc, "name").text = "KC1"
        for slot, entry in sorted(self.chain.items()):
            key = etree.SubElement(kc, "key")
            etree.SubElement(key, "name").text = str(slot)
            etree.SubElement(key, "key-name").text = entry.get("key-name", "")
            etree.SubElement(key, "start-time").text = self._read_back(entry.get("start-time", ""))
        return root

    def commit_lines(self, lines: list[str], comment: str, secret_hex: str | None) -> None:
        self.commits.append(lines)
        for line in lines:
            match = _SLOT_RE.search(line)
            assert match is not None, line
            slot = int(match.group(1))
            if line.startswith("delete"):
                self.chain.pop(slot, None)
            else:
                self.chain.setdefault(slot, {})[match.group(2)] = match.group(3).strip('"')

    def enc_key(self, link: LinkSettings, slaves: list[str], bits: int) -> tuple[str, bytes]:
        return self.kme.enc()

    def dec_key(self, link: LinkSettings, master: str, key_id: str) -> bytes:
        return self.kme.dec(key_id)

    def call_peer(
        self,
        link: LinkSettings,
        peer: Peer,
        action: str,
        message: str,
        share: ShareFile | None = None,
    ) -> str:
        self.argv.append(message)
        if action == "withdraw":
            self.withdraw_calls.append(self.clock)
            if self.withdraws_fail > 0:
                self.withdraws_fail -= 1
                raise PeerUnreachable(f"cannot open NETCONF to peer {peer.host}:{peer.port}")
        if peer.sae in self.unreachable:
            raise PeerUnreachable(f"cannot open NETCONF to peer {peer.host}:{peer.port}")
        runtime = self.peers[peer.sae]
        if share is not None:  # file-put: 0600 in the peer user's home, as the RPC writes it
            home = runtime.io.home  # type: ignore[attr-defined]
            (home / share.name).write_bytes(share.data)
            (home / share.name).chmod(0o600)
        answer = runtime.accept(message) if action == "accept" else runtime.withdraw(message)
        if action == "accept" and peer.sae in self.lose_answers:
            raise RuntimeFailure("peer op-script failed: RPCTimeoutError")
        return "some output\n" + answer.to_json() + "\n"

    def _remote(self, peer: Peer, name: str) -> str | None:
        path = self.published[peer.sae] / name
        return path.read_text() if path.exists() else None

    def take_share(self, name: str) -> bytes:
        assert self.home is not None
        try:
            return take_share_file(str(self.home), name)
        except ShareFileError as exc:
            raise RuntimeFailure(str(exc)) from None

    def fetch_published(self, link: LinkSettings, peer: Peer) -> str | None:
        return self._remote(peer, f"{link.link}.json")

    def fetch_ack(self, link: LinkSettings, peer: Peer) -> str | None:
        return self._remote(peer, f"{link.link}.ack.json")

    def log(self, message: str) -> None:
        self.logs.append(message)

    def ckns(self) -> dict[int, str]:
        return {slot: entry["key-name"] for slot, entry in self.chain.items()}


MASTER_MACROS = {
    "link": LINK,
    "role": "master",
    "sae": "sae-a",
    "peers": "sae-b@10.0.0.2:830",
    "kme-host": "kme-a",
    "rotate-every": "100",
    "activation-delay": "30",
}
SLAVE_MACROS = {
    "link": LINK,
    "role": "slave",
    "sae": "sae-b",
    "master": "sae-a@10.0.0.1:830",
    "kme-host": "kme-b",
}


class Pair:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.kme = FakeKme()
        self.a = FakeRouter("a", dict(MASTER_MACROS), self.kme)
        self.b = FakeRouter("b", dict(SLAVE_MACROS), self.kme)
        self.slave = self.runtime(self.b, "b")
        self.a.peers["sae-b"] = self.slave
        self.a.others.append(self.b)
        self.a.published["sae-b"] = tmp / "b" / "pub"
        self.b.published["sae-a"] = tmp / "a" / "pub"
        for router in (self.a, self.b):
            router.home = tmp / router.name / "home"
            router.home.mkdir(parents=True)

    def runtime(self, io: FakeRouter, name: str) -> Runtime:
        return Runtime(io, Paths(str(self.tmp / name / "state.json"), str(self.tmp / name / "pub")))

    def master(self) -> Runtime:
        return self.runtime(self.a, "a")  # a fresh process per event, as on the router

    def pull(self) -> Any:
        return self.runtime(self.b, "b").on_timer()  # the slave's own timer (SCP transport)

    def tick(self, advance: float = 0.0) -> Any:
        self.a.clock += advance
        self.b.clock += advance
        return self.master().on_timer()

    def state(self, name: str) -> Any:
        return load_state(str(self.tmp / name / "state.json"))[LINK]


@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    return Pair(tmp_path)


def test_bootstrap_stages_both_ends_with_one_start_time(pair: Pair) -> None:
    report = pair.tick()
    assert report.rotated == [LINK]
    assert report.ok
    key_id = pair.state("a").current.key_id
    assert pair.a.ckns() == pair.b.ckns() == {0: ckn_for(key_id)}
    assert pair.a.chain[0]["start-time"] == pair.b.chain[0]["start-time"] == "2027-01-15.08:00:30"
    assert pair.state("b").current.key_id == key_id
    assert pair.state("a").pending is None


def test_not_due_until_interval_after_start(pair: Pair) -> None:
    pair.tick()
    assert pair.tick(advance=129).skipped == {LINK: "not due"}  # start +30, interval 100
    assert pair.tick(advance=1).rotated == [LINK]
    assert sorted(pair.a.chain) == [0, 1] == sorted(pair.b.chain)


def test_slots_cycle_and_prune_keeping_current_and_previous(pair: Pair) -> None:
    pair.tick()
    for _ in range(4):
        pair.tick(advance=200)
    assert sorted(pair.a.chain) == [2, 3, 4] == sorted(pair.b.chain)
    assert pair.a.ckns() == pair.b.ckns()


def test_peer_refusal_withdraws_local_entry(pair: Pair) -> None:
    pair.tick()
    before = pair.a.ckns()
    pair.kme.fail_dec = True
    report = pair.tick(advance=200)
    assert LINK in report.failed
    assert "503" in report.failed[LINK]
    assert "withdrawn" in report.failed[LINK]
    assert pair.a.ckns() == before == pair.b.ckns()
    state = pair.state("a")
    assert state.pending is None
    assert state.failures == 1


def test_peer_unreachable_withdraws(pair: Pair) -> None:
    pair.tick()
    before = pair.a.ckns()
    pair.a.unreachable.add("sae-b")
    report = pair.tick(advance=200)
    assert "cannot open NETCONF" in report.failed[LINK]
    assert pair.a.ckns() == before == pair.b.ckns()


def test_confirmation_mismatch_is_a_failure_and_both_ends_withdraw(pair: Pair) -> None:
    pair.tick()
    before = pair.a.ckns()
    pair.kme.tamper = True  # the slave gets different bytes for the same key ID
    report = pair.tick(advance=200)
    assert "confirmation tag differs" in report.failed[LINK]
    assert pair.a.ckns() == before == pair.b.ckns()
    assert pair.state("b").current.key_id == pair.state("a").current.key_id


def test_crash_left_pending_is_withdrawn_everywhere_then_rotation_proceeds(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair.tick()
    first = pair.state("a").current.key_id

    def crash(name: str) -> None:  # the process dies right after the slave acknowledged
        if name == "after-peer-ack":
            raise SystemExit(70)

    monkeypatch.setattr(runtime_module, "crash_point", crash)
    with pytest.raises(SystemExit):
        pair.tick(advance=200)
    monkeypatch.undo()
    half = pair.state("a").pending.key_id
    assert ckn_for(half) in pair.a.ckns().values()
    assert ckn_for(half) in pair.b.ckns().values()

    report = pair.tick()
    assert report.recovered == [LINK]
    assert report.rotated == [LINK]
    current = pair.state("a").current.key_id
    assert current not in (first, half)
    assert ckn_for(half) not in pair.a.ckns().values()
    assert ckn_for(half) not in pair.b.ckns().values()
    assert pair.a.ckns() == pair.b.ckns()
    assert pair.state("b").current.key_id == current


def test_keyid_check_refuses_stale_offer_without_calling_kme(pair: Pair) -> None:
    pair.tick()
    current = pair.state("b").current
    offer = Offer(LINK, current.key_id, current.slot, "2027-01-15.08:00:30", (), "sae-a")
    calls = len(pair.kme.dec_calls)
    ack = pair.slave.accept(offer.to_json())
    assert not ack.ok
    assert "stale" in ack.reason
    assert len(pair.kme.dec_calls) == calls


def test_keyid_check_off_asks_the_kme_anyway(pair: Pair) -> None:
    pair.b.macros["kme-keyid-check"] = "false"
    pair.tick()
    current = pair.state("b").current
    offer = Offer(LINK, current.key_id, current.slot, "2027-01-15.08:00:30", (), "sae-a")
    ack = pair.slave.accept(offer.to_json())
    assert not ack.ok
    assert "404" in ack.reason
    assert pair.kme.dec_calls[-1] == current.key_id


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("not json", "not JSON"),
        ('{"type": "offer", "key": "c2VjcmV0"}', "forbidden field"),
        ('{"type": "ack"}', "expected a offer"),
    ],
)
def test_malformed_offer_is_refused_cleanly(pair: Pair, message: str, reason: str) -> None:
    ack = pair.slave.accept(message)
    assert not ack.ok
    assert reason in ack.reason
    assert pair.b.commits == []


def test_offer_from_wrong_master_is_refused(pair: Pair) -> None:
    offer = Offer(LINK, "00000000-0000-4000-8000-000000000009", 0, "2027-01-15.08:00:30", (), "x")
    ack = pair.slave.accept(offer.to_json())
    assert not ack.ok
    assert "not this link's master" in ack.reason
    assert pair.kme.dec_calls == []


def test_withdraw_is_idempotent_and_restores_previous(pair: Pair) -> None:
    pair.tick()
    pair.tick(advance=200)
    state = pair.state("b")
    message = (
        f'{{"type": "withdraw", "link": "{LINK}", "key_ID": "{state.current.key_id}", '
        f'"slot": {state.current.slot}}}'
    )
    assert pair.slave.withdraw(message).ok
    assert pair.slave.withdraw(message).ok
    assert sorted(pair.b.chain) == [0]
    assert pair.state("b").current.slot == 0


def test_no_key_material_in_state_logs_or_commit_comments(pair: Pair, tmp_path: Path) -> None:
    pair.tick()
    pair.tick(advance=200)
    pair.kme.fail_dec = True
    pair.tick(advance=200)
    keys = [bytes([n]) * 32 for n in range(1, pair.kme.counter + 1)]
    texts = [p.read_text() for p in tmp_path.rglob("*.json")] + pair.a.logs + pair.b.logs
    for key in keys:
        for text in texts:
            assert key.hex() not in text


# ---------------------------------------------------------------- issue 11: the same rules on-box


def withdraw_message(key_id: str, slot: int) -> str:
    return f'{{"type": "withdraw", "link": "{LINK}", "key_ID": "{key_id}", "slot": {slot}}}'


def test_withdraw_retried_with_backoff_until_delivered_removes_both(pair: Pair) -> None:
    pair.tick()
    before = pair.a.ckns()
    pair.a.lose_answers.add("sae-b")  # the slave stages, its answer is lost: it may hold it
    pair.a.withdraws_fail = 2  # ... and the first two withdraws cannot reach it
    report = pair.tick(advance=200)
    assert "rotation withdrawn" in report.failed[LINK]
    assert len(pair.a.withdraw_calls) == 3
    assert pair.a.sleeps == [0.5, 1.0]
    assert pair.a.ckns() == before == pair.b.ckns()
    assert pair.state("a").pending is None
    assert pair.state("b").current.key_id == pair.state("a").current.key_id


def test_withdraw_undelivered_until_start_master_keeps_the_key_the_peer_may_hold(
    pair: Pair,
) -> None:
    pair.tick()
    old = pair.state("a").current
    pair.a.lose_answers.add("sae-b")
    pair.a.withdraws_fail = 1000  # the slave stays unreachable
    report = pair.tick(advance=200)
    assert "withdraw not delivered" in report.failed[LINK]
    state = pair.state("a")
    pending = state.pending
    assert pending is not None
    assert pending.kept
    assert state.diverged
    # retries stopped before the start-time, leaving the margin (5 s: less than a third of 30 s)
    assert pair.a.withdraw_calls[-1] <= pending.start - 5
    assert pair.a.clock <= pending.start - 5
    assert len(pair.a.withdraw_calls) > 2
    # both ends hold the new entry next to the old: whichever the slave is on, the master has it
    assert (
        pair.a.ckns()
        == pair.b.ckns()
        == {old.slot: ckn_for(old.key_id), 1: ckn_for(pending.key_id)}
    )
    assert state.current == old

    # After T the slave is reachable again: its withdraw refuses (started) — it is on the key —
    # so the master adopts it, and as no tag confirmed the CAK, re-keys within 5 s.
    pair.a.lose_answers.clear()
    pair.a.withdraws_fail = 0
    pair.a.sleeps.clear()
    report = pair.tick(advance=pending.start - pair.a.clock + 1)
    assert report.recovered == [LINK]
    assert report.rotated == [LINK]
    assert report.ok
    assert pair.a.sleeps
    assert sum(pair.a.sleeps) <= 5.0
    state = pair.state("a")
    assert state.previous[0].key_id == pending.key_id  # adopted, then rotated from it
    assert not state.diverged
    assert state.pending is None
    assert pair.a.ckns() == pair.b.ckns()
    staged = {old.key_id, pending.key_id, state.current.key_id}  # previous, current, new
    assert set(pair.a.ckns().values()) == {ckn_for(k) for k in staged}


def test_kept_entry_is_removed_when_the_peer_later_says_it_never_had_it(pair: Pair) -> None:
    pair.tick()
    before = pair.a.ckns()
    pair.kme.fail_dec = True  # the slave refuses (not staged) ...
    pair.a.lose_answers.add("sae-b")  # ... but the refusal is lost: the master cannot know
    pair.a.withdraws_fail = 1000
    pair.tick(advance=200)
    pending = pair.state("a").pending
    assert pending is not None
    assert pending.kept
    assert pair.a.ckns() != before  # kept: the slave might have staged it
    pair.a.lose_answers.clear()
    pair.a.withdraws_fail = 0
    report = pair.tick(advance=pending.start - pair.a.clock + 1)  # past T: the ends differ now
    assert report.recovered == [LINK]
    # the slave answered "not here", so the master removed its entry, back on the shared key;
    # the re-key right after fails again (the slave's KME is still down) and is withdrawn
    assert pair.a.ckns() == before == pair.b.ckns()
    assert pair.state("a").pending is None


def test_unreachable_at_connect_needs_no_withdraw(pair: Pair) -> None:
    pair.tick()
    pair.a.unreachable.add("sae-b")
    pair.tick(advance=200)
    assert pair.a.withdraw_calls == []  # the offer never reached it: nothing to withdraw
    assert not pair.state("a").diverged


def test_peer_withdraw_removes_a_pending_entry_but_never_a_started_one(pair: Pair) -> None:
    pair.tick()
    pair.tick(advance=200)
    state = pair.state("b")
    current = state.current
    start = pair.b.chain[current.slot]["start-time"]
    assert pair.b.clock < current.start  # staged, not started: removable
    # now past its start-time in the slave's clock: refused, and said to be held
    pair.b.clock = current.start
    ack = pair.slave.withdraw(withdraw_message(current.key_id, current.slot))
    assert not ack.ok
    assert ack.held
    assert "started" in ack.reason
    assert pair.b.chain[current.slot]["start-time"] == start
    assert pair.state("b").current == current
    assert any("refused to withdraw" in line for line in pair.b.logs)
    # an entry with no readable start-time is in use at once: also kept
    pair.b.chain[current.slot]["start-time"] = ""
    assert pair.slave.withdraw(withdraw_message(current.key_id, current.slot)).held
    # one second before its start-time it is still pending, and goes
    pair.b.chain[current.slot]["start-time"] = start
    pair.b.clock = current.start - 1
    assert pair.slave.withdraw(withdraw_message(current.key_id, current.slot)).ok
    assert current.slot not in pair.b.chain


def scp_pair(pair: Pair) -> Pair:
    pair.a.macros["transport"] = "scp"
    pair.b.macros["transport"] = "scp"
    return pair


def test_scp_master_adopts_only_after_the_slave_confirms(pair: Pair) -> None:
    scp_pair(pair)
    pair.tick()
    published = pair.state("a").pending
    assert published is not None
    assert pair.state("a").current is None  # staged and published, not adopted
    assert pair.tick(advance=1000).skipped[LINK].startswith(f"key {published.key_id} not confirmed")
    assert pair.state("a").pending == published  # still waiting: no new rotation meanwhile
    assert pair.kme.counter == 1
    assert pair.pull().rotated == [LINK]  # the slave fetches, stages, writes its ack
    ack = json.loads((pair.tmp / "b" / "pub" / f"{LINK}.ack.json").read_text())
    assert ack["ok"]
    assert ack["key_ID"] == published.key_id
    report = pair.tick()
    assert any("confirmed key" in line for line in pair.a.logs)
    assert pair.state("a").current.key_id == published.key_id
    assert report.rotated == [LINK]  # long due (1000 s later): the next key goes out
    assert pair.a.ckns() == {
        0: ckn_for(published.key_id),
        1: ckn_for(pair.state("a").pending.key_id),
    }


def test_scp_wrong_tag_is_not_adopted(pair: Pair) -> None:
    scp_pair(pair)
    pair.tick()
    pair.kme.tamper = True
    pair.pull()
    pair.tick()
    state = pair.state("a")
    assert state.current is None
    assert state.pending is not None
    assert "not confirmed" in pair.tick().skipped[LINK]


def test_scp_refusal_unpublishes_and_removes_the_masters_entry(pair: Pair) -> None:
    scp_pair(pair)
    pair.tick()
    pair.b.clock = pair.a.clock = pair.state("a").pending.start + 100  # even past T
    pair.kme.fail_dec = True
    assert LINK in pair.pull().failed
    report = pair.tick()
    assert "removed" in report.failed[LINK]
    assert pair.a.chain == {} == pair.b.chain
    assert not (pair.tmp / "a" / "pub" / f"{LINK}.json").exists()
    assert pair.state("a").pending is None


def test_scp_slave_that_died_before_its_ack_answers_held_and_master_re_keys(pair: Pair) -> None:
    scp_pair(pair)
    pair.tick()
    key_id = pair.state("a").pending.key_id
    pair.pull()
    (pair.tmp / "b" / "pub" / f"{LINK}.ack.json").unlink()  # the run died before writing it
    assert pair.pull().skipped[LINK].startswith("same key ID")  # kme-keyid-check: no KME call
    ack = json.loads((pair.tmp / "b" / "pub" / f"{LINK}.ack.json").read_text())
    assert (ack["key_ID"], ack["held"], ack["confirm"]) == (key_id, True, "")
    pair.tick()
    state = pair.state("a")
    assert state.current.key_id == key_id  # the slave has it: adopted ...
    assert state.diverged  # ... unverified, so re-keyed within 5 s
    assert rules_due_soon(state, pair.a.clock)


def rules_due_soon(state: Any, now: float) -> bool:
    return link_due(
        state.current.start, 100, now + 5, state.failures, state.last_failure, state.diverged
    )[0]


def test_scp_slave_that_died_before_saving_state_removes_its_entry_and_refuses(
    pair: Pair,
) -> None:
    scp_pair(pair)
    pair.tick()
    pair.pull()
    assert pair.b.chain  # staged ...
    (pair.tmp / "b" / "state.json").unlink()  # ... but the run died before recording it
    (pair.tmp / "b" / "pub" / f"{LINK}.ack.json").unlink()
    assert "404" in pair.pull().failed[LINK]  # the KME handed the key out once already
    assert pair.b.chain == {}  # not started: removed before refusing
    ack = json.loads((pair.tmp / "b" / "pub" / f"{LINK}.ack.json").read_text())
    assert ack["ok"] is False
    assert ack["held"] is False
    pair.tick()
    assert pair.a.chain == {}
    assert pair.state("a").pending is None


def test_crash_before_the_offer_needs_no_withdraw(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair.tick()
    before = pair.a.ckns()

    def crash(name: str) -> None:
        if name == "after-local-stage":
            raise SystemExit(70)

    monkeypatch.setattr(runtime_module, "crash_point", crash)
    with pytest.raises(SystemExit):
        pair.tick(advance=200)
    monkeypatch.undo()
    pair.a.unreachable.add("sae-b")  # even with the peer down, recovery knows it has nothing
    report = pair.tick()
    assert report.recovered == [LINK]
    assert pair.a.withdraw_calls == []
    assert pair.a.ckns() == before == pair.b.ckns()
    assert pair.state("a").pending is None


def _fail_once_more(pair: Pair, failures: int, diverged: bool) -> None:
    """Put the master's link in the state a failed rotation leaves (as ``_fail`` records it)."""
    path = str(pair.tmp / "a" / "state.json")
    states = load_state(path)
    states[LINK].failures = failures
    states[LINK].last_failure = pair.a.clock
    states[LINK].diverged = diverged
    save_state(path, states)


@pytest.mark.parametrize("diverged", [True, False])
def test_diverged_link_is_re_keyed_at_the_planners_instant(pair: Pair, diverged: bool) -> None:
    """The pre-shared-key divergence rule on-box: after failures whose back-off (100 s here, the
    interval) would hold the link, a link whose ends may differ is re-keyed 5 s after the last
    failure — the very instant the off-box planner picks for the same history."""
    pair.tick()
    started = pair.state("a").current
    _fail_once_more(pair, failures=6, diverged=diverged)
    failed_at = pair.a.clock
    history = LinkHistory(
        active=(ActiveKey(LINK, started.key_id, "", None, _utc(started.start), 1),),
        last_failure=_utc(failed_at),
        consecutive_failures=6,
        diverged=diverged,
    )
    view = LinkView(LINK, rotation_interval=100, mode=KeyMode.PRE_SHARED_KEY)
    planned, _, retry_at = plan_link(view, history, _utc(failed_at + 1), PlanPolicy())
    assert planned is None
    assert retry_at is not None

    pair.a.sleeps.clear()
    report = pair.tick(advance=1)

    if diverged:
        assert retry_at == _utc(failed_at + 5)
        assert report.rotated == [LINK]
        assert sum(pair.a.sleeps) == pytest.approx(4.0)  # waited for the planner's instant
        assert pair.state("a").current.key_id != started.key_id
        assert pair.a.ckns() == pair.b.ckns()
    else:
        assert retry_at == _utc(failed_at + 100)
        assert report.skipped == {LINK: "backing off after 6 failure(s)"}
        assert pair.a.sleeps == []


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def test_each_end_writes_the_start_time_in_its_own_zone(pair: Pair) -> None:
    """Routers on different ``system time-zone``s: the offer carries T in UTC, each end writes
    T in its own wall clock, and both entries start at the same instant."""
    pair.a.zone_offset_s = 3600  # CET
    pair.b.zone_offset_s = -5 * 3600  # EST
    pair.tick()
    state = pair.state("a")
    start = state.current.start
    assert pair.state("b").current.start == start
    assert pair.a.chain[0]["start-time"] == start_time_text(start + 3600)
    assert pair.b.chain[0]["start-time"] == start_time_text(start - 5 * 3600)
    assert pair.a.chain[0]["start-time"] != pair.b.chain[0]["start-time"]
    for router in (pair.a, pair.b):
        (key,) = router.read_config().iter("start-time")
        assert parse_start_time(key.text) == start  # the read-back names the same instant
    # a peer refuses to withdraw once T has passed on its clock, whatever its zone
    assert not entry_started(pair.b._read_back(pair.b.chain[0]["start-time"]), start - 1)
    assert entry_started(pair.b._read_back(pair.b.chain[0]["start-time"]), start)


# ---------------------------------------------------------------- issue 14: the hybrid CAK


SHARE = bytes(range(0x40, 0x60))


def hybrid_pair(pair: Pair, monkeypatch: pytest.MonkeyPatch, *, slave: str = "hybrid") -> Pair:
    pair.a.macros["key-derivation"] = "hybrid"
    pair.b.macros["key-derivation"] = slave
    monkeypatch.setattr(runtime_module, "new_hybrid_share", lambda: SHARE)
    return pair


def test_hybrid_both_ends_stage_hkdf_of_the_qkd_key_and_the_masters_s(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    hybrid_pair(pair, monkeypatch)
    report = pair.tick()
    assert report.rotated == [LINK]
    assert report.ok, report.failed
    key_id = pair.state("a").current.key_id
    raw = bytes([1]) * 32  # FakeKme's first key
    ckn = ckn_for(key_id)
    expected = hybrid_cak_for(raw, SHARE, "gcm-aes-256", ckn)[0].hex()
    (entry_a,) = pair.a.chain.values()
    (entry_b,) = pair.b.chain.values()
    assert entry_a["secret"] == entry_b["secret"] == expected
    assert expected != raw.hex()
    assert pair.state("b").current.key_id == key_id
    texts = [p.read_text() for p in pair.tmp.rglob("*.json")] + pair.a.logs + pair.b.logs
    texts += [" ".join(c) for c in pair.a.commits if not any("secret" in x for x in c)]
    assert not [t for t in texts if SHARE.hex() in t or expected in t]
    # S went in a file, never in the peer's command line; the peer took the file
    (sent,) = pair.a.argv
    assert SHARE.hex() not in sent
    assert json.loads(sent)["hybrid_share_file"].startswith(".qkd-share-")
    assert list(pair.b.home.iterdir()) == []  # type: ignore[union-attr]


def test_hybrid_share_file_is_fresh_per_offer_and_gone_after_every_outcome(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    hybrid_pair(pair, monkeypatch)
    assert pair.tick().ok
    pair.kme.fail_dec = True  # the peer refuses after taking S: the file is gone all the same
    assert "refused" in pair.tick(advance=200).failed[LINK]
    pair.kme.fail_dec = False
    pair.a.lose_answers.add("sae-b")  # the peer acts, its answer is lost
    assert not pair.tick(advance=200).ok
    offers = [json.loads(m) for m in pair.a.argv if json.loads(m)["type"] == "offer"]
    names = [o["hybrid_share_file"] for o in offers]
    assert len(names) == 3
    assert len(set(names)) == 3
    assert not [m for m in pair.a.argv if SHARE.hex() in m]
    assert list(pair.b.home.iterdir()) == []  # type: ignore[union-attr]


def test_hybrid_slave_refuses_an_offer_whose_share_file_is_missing_or_bad(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    hybrid_pair(pair, monkeypatch)
    home = pair.b.home
    assert home is not None
    for data, mode, why in [(None, 0, "cannot be opened"), (SHARE, 0o644, "mode 0644")]:
        name = new_share_file_name()
        if data is not None:
            (home / name).write_bytes(data)
            (home / name).chmod(mode)
        offer = Offer(
            LINK,
            "00000000-0000-4000-8000-000000000009",
            0,
            "2027-01-15.08:00:30",
            (),
            "sae-a",
            name,
        )
        ack = pair.slave.accept(offer.to_json())
        assert not ack.ok
        assert why in ack.reason
        assert not (home / name).exists()
    assert pair.kme.dec_calls == []  # refused before the KME is asked
    assert pair.b.chain == {}


@pytest.mark.parametrize("slave", ["seed", "missing"])
def test_hybrid_on_one_end_only_is_refused_and_withdrawn(
    pair: Pair, monkeypatch: pytest.MonkeyPatch, slave: str
) -> None:
    hybrid_pair(pair, monkeypatch, slave="seed")
    if slave == "missing":
        pair.b.macros.pop("key-derivation")
    report = pair.tick()
    assert "refused" in report.failed[LINK]
    assert "key-derivation seed" in report.failed[LINK]
    assert pair.a.chain == {}
    assert pair.b.chain == {}
    assert pair.kme.dec_calls == []  # refused before the KME is asked


def test_seed_slave_refuses_an_offer_that_carries_s(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    hybrid_pair(pair, monkeypatch, slave="seed")
    pair.a.macros.pop("key-derivation")
    share = ShareFile(new_share_file_name(), SHARE)
    assert pair.b.home is not None
    (pair.b.home / share.name).write_bytes(share.data)
    (pair.b.home / share.name).chmod(0o600)
    offer = Offer(
        LINK,
        "00000000-0000-4000-8000-000000000009",
        0,
        "2027-01-15.08:00:30",
        (),
        "sae-a",
        share.name,
    )
    ack = pair.slave.accept(offer.to_json())
    assert not ack.ok
    assert "carries one" in ack.reason
    assert SHARE.hex() not in ack.to_json()
    assert not (pair.b.home / share.name).exists()  # taken (and deleted) though refused
