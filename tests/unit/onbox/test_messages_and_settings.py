"""Pure parts of the runtime: hand-off messages, apply-macro settings, state files, rules."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from qkd_macsec.core.key_ids import keyid_is_stale
from qkd_macsec.core.private_files import write_atomic
from qkd_macsec.core.schedule import rotation_due
from qkd_macsec.devices.junos_names import format_start_time
from qkd_macsec.devices.junos_time import parse_start_time, start_time_text
from qkd_macsec.onbox.artifact.handoff import (
    Ack,
    HandoffError,
    Offer,
    last_json_line,
    parse_ack,
    parse_offer,
    parse_withdraw,
    share_file_in,
)
from qkd_macsec.onbox.artifact.settings import SettingsError, read_link_settings
from qkd_macsec.onbox.artifact.state import (
    KeyRecord,
    LinkState,
    PendingRotation,
    StateError,
    load_state,
    save_state,
)

OFFER = Offer("L1", "d9b6fa63-dd88-47d2-8afe-94fcecf40d19", 3, "2026-11-26.10:15:00", (1, 2), "a")


def test_offer_round_trip_and_no_key_field() -> None:
    text = OFFER.to_json()
    assert parse_offer(text) == OFFER
    assert set(json.loads(text)) == {
        "type",
        "link",
        "key_ID",
        "slot",
        "start_time",
        "keep",
        "master",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"slot": 64}, "outside 0..63"),
        ({"slot": True}, "not int"),
        ({"key_ID": "a b"}, "not a valid key ID"),
        ({"start_time": "2026-11-26 10:15"}, "YYYY-MM-DD"),
        ({"keep": [1, "2"]}, "keep must list"),
        ({"link": "bad link"}, "not valid"),
        ({"key": "AAAA"}, "forbidden field"),
        ({"cak": "00"}, "forbidden field"),
        ({"type": "ack"}, "expected a offer"),
    ],
)
def test_offer_rejects_bad_fields(change: dict[str, object], message: str) -> None:
    body = json.loads(OFFER.to_json())
    body.update(change)
    with pytest.raises(HandoffError, match=message):
        parse_offer(json.dumps(body))


def test_oversized_and_non_object_messages_are_refused() -> None:
    with pytest.raises(HandoffError, match="too long"):
        parse_offer("{" + " " * 5000 + "}")
    with pytest.raises(HandoffError, match="not a JSON object"):
        parse_ack("[1]")


def test_ack_and_withdraw_round_trip() -> None:
    ack = Ack("L1", "k1", 3, True, confirm="00ff")
    assert parse_ack(ack.to_json()) == ack
    body = json.dumps({"type": "withdraw", "link": "L1", "key_ID": "k1", "slot": 3})
    assert parse_withdraw(body).slot == 3
    with pytest.raises(HandoffError, match="'ok'"):
        parse_ack(json.dumps({"type": "ack", "link": "L1", "key_ID": "k1", "slot": 3}))


def test_last_json_line_picks_the_answer() -> None:
    assert last_json_line('noise\n{"a": 1}\ntrailer {x\n') == '{"a": 1}'
    with pytest.raises(HandoffError):
        last_json_line("no answer here")


def _config(macros: dict[str, dict[str, str]], *, chain: str | None = "KC1") -> etree._Element:
    parts = ["<configuration><security><macsec>"]
    parts.append(
        "<connectivity-association><name>CA1</name><cipher-suite>gcm-aes-xpn-256</cipher-suite>"
        + (f"<pre-shared-key-chain>{chain}</pre-shared-key-chain>" if chain else "")
        + "</connectivity-association>"
    )
    for interface, data in macros.items():
        items = "".join(f"<data><name>{k}</name><value>{v}</value></data>" for k, v in data.items())
        parts.append(
            f"<interfaces><name>{interface}</name><connectivity-association>CA1"
            f"</connectivity-association><apply-macro><name>qkd</name>{items}</apply-macro>"
            "</interfaces>"
        )
    parts.append("</macsec></security></configuration>")
    return etree.fromstring("".join(parts))


MASTER = {
    "link": "L1",
    "role": "master",
    "sae": "a",
    "peers": "b@10.0.0.2:830,c@10.0.0.3:830",
    "kme-host": "kme-a",
}


def test_settings_merge_interfaces_of_one_link() -> None:
    links = read_link_settings(_config({"et-0/0/1": MASTER, "et-0/0/2": MASTER}))
    link = links["L1"]
    assert link.interfaces == ["et-0/0/1", "et-0/0/2"]
    assert [p.sae for p in link.peers] == ["b", "c"]
    assert (link.suite, link.key_chain, link.kme_port, link.keyid_check) == (
        "gcm-aes-xpn-256",
        "KC1",
        443,
        True,
    )


@pytest.mark.parametrize(
    ("macros", "message"),
    [
        ({**MASTER, "peers": "b@host"}, "not SAE@HOST:PORT"),
        ({**MASTER, "peers": "b@h:99999"}, "out of range"),
        ({**MASTER, "role": "boss"}, "role must be one of"),
        ({**MASTER, "kme-ca": "maybe"}, "true or false"),
        ({**MASTER, "rotate-every": "-5"}, "positive"),
        ({**MASTER, "kme-port": "https"}, "kme-port must be a number"),
        ({k: v for k, v in MASTER.items() if k != "sae"}, "needs sae"),
        ({"link": "L1", "role": "slave", "sae": "b", "kme-host": "k"}, "needs master"),
    ],
)
def test_settings_errors_name_interface_and_parameter(macros: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as exc:
        read_link_settings(_config({"et-0/0/1": macros}))
    assert "et-0/0/1" in str(exc.value)


def test_settings_need_a_key_chain_and_agreeing_interfaces() -> None:
    with pytest.raises(SettingsError, match="pre-shared-key-chain"):
        read_link_settings(_config({"et-0/0/1": MASTER}, chain=None))
    with pytest.raises(SettingsError, match="differ"):
        read_link_settings(
            _config({"et-0/0/1": MASTER, "et-0/0/2": {**MASTER, "rotate-every": "5"}})
        )


def test_start_time_matches_the_off_box_renderer() -> None:
    from datetime import UTC, datetime

    for epoch in (0, 1_800_000_000, 2_000_000_000.7):
        off_box = format_start_time(datetime.fromtimestamp(int(epoch), tz=UTC))
        assert start_time_text(epoch) == off_box
        assert parse_start_time(off_box) == int(epoch)
    with pytest.raises(ValueError, match="not a Junos start-time"):
        parse_start_time("tomorrow")


@pytest.mark.parametrize(
    "read_back",
    [
        '"2026-12-1.07:30:58 +0000"',  # how real Junos reads it back (field evidence §1)
        "2026-12-01.07:30:58",
        "2026-12-1.08:30:58 +0100",
        '"2026-12-1.02:30:58 -0500"',
    ],
)
def test_read_back_start_times_in_every_real_form(read_back: str) -> None:
    """The on-box runtime reads its chains back from the device: the normalised, quoted form
    with the zone offset must give the same instant as the one it wrote."""
    assert parse_start_time(read_back) == datetime(2026, 12, 1, 7, 30, 58, tzinfo=UTC).timestamp()


def test_rotation_due() -> None:
    assert rotation_due(None, 600, 0)
    assert not rotation_due(100, 600, 699)
    assert rotation_due(100, 600, 700)


def test_state_round_trip_is_atomic_and_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "state.json"
    state = LinkState(current=KeyRecord("k2", 1, 10.0), previous=[KeyRecord("k1", 0, 5.0)])
    state.pending = PendingRotation("k3", 2, 20.0, [1, 0], ["b"], ["b"])
    save_state(str(path), {"L1": state})
    assert load_state(str(path)) == {"L1": state}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name != "state.json"]  # no temp left


def test_atomic_write_keeps_old_content_when_the_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.json"
    write_atomic(str(path), b"old")

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(str(path), b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "unreadable"),
        ('{"version": 9, "links": {}}', "unknown state version"),
        ('{"version": 1, "links": {"L": {"current": {"slot": 1}}}}', "malformed"),
    ],
)
def test_bad_state_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(StateError, match=message):
        load_state(str(path))


def test_adopt_keeps_one_previous_and_keyid_check() -> None:
    state = LinkState()
    for n in range(3):
        state.adopt(KeyRecord(f"k{n}", n, float(n)))
    assert [r.key_id for r in state.previous] == ["k1"]
    assert state.kept_slots() == [2, 1]
    assert keyid_is_stale("k2", "k2", True)
    assert not keyid_is_stale("k2", "k2", False)
    # the same UUID respelled (upper case, no dashes) is the same key, as off-box
    key_id = "d9b6fa63-dd88-47d2-8afe-94fcecf40d19"
    assert keyid_is_stale(key_id, key_id.upper(), True)
    assert keyid_is_stale(key_id, key_id.replace("-", ""), True)
    assert not keyid_is_stale(key_id, "d9b6fa63-dd88-47d2-8afe-94fcecf40d1a", True)
    assert not keyid_is_stale(None, "k2", True)


# ---------------------------------------------------------------- issue 14: the hybrid CAK's S

SHARE_HEX = bytes(range(32)).hex()
SHARE_FILE = ".qkd-share-" + "0f" * 16


def test_offer_names_the_share_file_for_hybrid_and_never_carries_s() -> None:
    hybrid = Offer(OFFER.link, OFFER.key_ID, 3, OFFER.start_time, (1, 2), "a", SHARE_FILE)
    assert "hybrid_share_file" not in json.loads(OFFER.to_json())  # the seed's offer, unchanged
    body = json.loads(hybrid.to_json())
    assert body["hybrid_share_file"] == SHARE_FILE
    assert "hybrid_share" not in body  # S is put in that file, never in the message (argv)
    parsed = parse_offer(hybrid.to_json())
    assert parsed == hybrid
    assert SHARE_FILE not in parsed.published().to_json()
    assert parsed.published() == OFFER
    assert share_file_in(hybrid.to_json()) == SHARE_FILE
    assert share_file_in(OFFER.to_json()) is None
    assert share_file_in("not json") is None
    assert share_file_in(json.dumps({"hybrid_share_file": "../../etc/passwd"})) is None


@pytest.mark.parametrize("share", [SHARE_HEX, "ab" * 31, "AB" * 32, "zz" * 32, 7])
def test_offer_refuses_s_inline_as_an_old_masters(share: object) -> None:
    body = json.loads(OFFER.to_json())
    body["hybrid_share"] = share
    with pytest.raises(HandoffError, match="hybrid_share"):
        parse_offer(json.dumps(body))


@pytest.mark.parametrize(
    "name", ["../x", "/var/home/remote/" + SHARE_FILE, ".qkd-share-XY", SHARE_HEX, 7, None]
)
def test_offer_refuses_a_share_file_name_the_master_does_not_make(name: object) -> None:
    body = json.loads(OFFER.to_json())
    body["hybrid_share_file"] = name
    with pytest.raises(HandoffError, match="hybrid_share_file"):
        parse_offer(json.dumps(body))


def test_settings_key_derivation_defaults_to_seed_and_hybrid_needs_push() -> None:
    assert read_link_settings(_config({"et-0/0/1": MASTER}))["L1"].key_derivation == "seed"
    hybrid = {**MASTER, "key-derivation": "hybrid"}
    assert read_link_settings(_config({"et-0/0/1": hybrid}))["L1"].key_derivation == "hybrid"
    with pytest.raises(SettingsError, match="needs transport push"):
        read_link_settings(_config({"et-0/0/1": {**hybrid, "transport": "scp"}}))
    with pytest.raises(SettingsError, match="key-derivation must be one of"):
        read_link_settings(_config({"et-0/0/1": {**MASTER, "key-derivation": "quantum"}}))
