"""The core rules on their own: slots for any slot count, the back-off and due decision (the same
answer as the planner's for every history), derivation, key IDs, private files, KME wire checks
and the Junos start-time text."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qkd_macsec.core.derive import (
    SUITE_KEY_BYTES,
    DerivationError,
    cak_bytes_for,
    ckn_for,
    confirmation_tag,
    suite_key_bytes,
)
from qkd_macsec.core.etsi014_wire import WireError, container_keys, decode_key, key_id_problem
from qkd_macsec.core.key_ids import canonical_key_id, keyid_is_stale
from qkd_macsec.core.private_files import PUBLIC_MODE, write_atomic
from qkd_macsec.core.schedule import Backoff, link_due, retry_delay
from qkd_macsec.core.slots import next_free_slot, slots_to_prune
from qkd_macsec.devices.junos_time import StartTimeError, parse_start_time, start_time_text
from qkd_macsec.engine.journal import ActiveKey
from qkd_macsec.engine.planner import KeyMode, LinkHistory, LinkView, PlanPolicy, plan_link
from qkd_macsec.macsec.suites import CipherSuite

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_slots_follow_the_given_slot_count() -> None:
    assert next_free_slot({0, 1}, None, 4) == 2
    assert next_free_slot({3, 0}, 3, 4) == 1  # wraps after the last slot of a 4-slot chain
    assert next_free_slot(set(), 63, 64) == 0
    with pytest.raises(ValueError, match="every key-chain slot"):
        next_free_slot({0, 1, 2, 3}, 0, 4)
    assert slots_to_prune([5, 1, 2, 3], [2, 1]) == [3, 5]


def test_backoff_policy_is_a_parameter() -> None:
    quick = Backoff(base_s=1.0, max_s=4.0, diverged_cap_s=0.5)
    assert [retry_delay(n, 600, backoff=quick) for n in range(5)] == [0, 1, 2, 4, 4]
    assert retry_delay(3, 600, diverged=True, backoff=quick) == 0.5
    assert retry_delay(3, 3.0) == 3.0  # capped at the interval


@given(
    interval=st.sampled_from([30, 100, 600, 86400]),
    age=st.one_of(st.none(), st.integers(0, 100_000)),
    failures=st.integers(0, 12),
    failed_ago=st.one_of(st.none(), st.integers(0, 5000)),
    diverged=st.booleans(),
    mode=st.sampled_from(list(KeyMode)),
)
def test_the_planner_and_the_on_box_decision_agree(
    interval: int,
    age: int | None,
    failures: int,
    failed_ago: int | None,
    diverged: bool,
    mode: KeyMode,
) -> None:
    """Same history, same answer: due or not, and when (the diverged 5 s cap included)."""
    active = () if age is None else (ActiveKey("l", "k", "", 0, NOW - timedelta(seconds=age), 1),)
    last_failure = None if failed_ago is None else NOW - timedelta(seconds=failed_ago)
    history = LinkHistory(
        active=active,
        last_failure=last_failure,
        consecutive_failures=failures,
        diverged=diverged,
    )
    planned, _, when = plan_link(LinkView("l", interval, mode), history, NOW, PlanPolicy())
    now = NOW.timestamp()
    due, _, at = link_due(
        None if age is None else now - age,
        interval,
        now,
        failures,
        None if failed_ago is None else now - failed_ago,
        diverged,
    )
    assert due is (planned is not None)
    assert at == (None if when is None else when.timestamp())


SEED_KEY = base64.b64decode(
    "nK45tzFFjDA42/1Ko5B6Hz2wi35gr72VsiHyVbMD9X9qxRbH0Ke8D4NpHUy1nX96JeVF4x0p0q0iDLH9ldIb4Q=="
)
SEED_KEY_ID = "d9b6fa63-dd88-47d2-8afe-94fcecf40d19"


def test_derivation_seed_vector_and_refusals() -> None:
    cak, truncated = cak_bytes_for(SEED_KEY, "gcm-aes-xpn-256")
    assert cak.hex() == "9cae39b731458c3038dbfd4aa3907a1f3db08b7e60afbd95b221f255b303f57f"
    assert truncated
    assert ckn_for(SEED_KEY_ID) == "abcd1234abcd5678abcd1234abcd5678" + SEED_KEY_ID.replace("-", "")
    hashed = hashlib.sha256(SEED_KEY_ID.encode()).hexdigest()
    assert ckn_for(SEED_KEY_ID, mode="sha256") == hashed
    assert ckn_for("not-a-uuid") == hashlib.sha256(b"not-a-uuid").hexdigest()
    with pytest.raises(DerivationError, match="QKD key kid-9 has 128 bits; gcm-aes-256 needs 256"):
        cak_bytes_for(bytes(16), "gcm-aes-256", "kid-9")
    with pytest.raises(DerivationError, match="not a MACsec cipher suite"):
        cak_bytes_for(bytes(32), "des")
    with pytest.raises(DerivationError, match="CKN prefix"):
        ckn_for(SEED_KEY_ID, prefix="abc")
    with pytest.raises(DerivationError, match="CKN mode"):
        ckn_for(SEED_KEY_ID, mode="md5")
    tag = confirmation_tag(cak, SEED_KEY_ID)
    assert tag == confirmation_tag(cak, SEED_KEY_ID) != confirmation_tag(bytes(32), SEED_KEY_ID)
    assert cak.hex() not in tag


def test_every_cipher_suite_has_one_key_length() -> None:
    assert set(SUITE_KEY_BYTES) == {suite.value for suite in CipherSuite}
    for suite in CipherSuite:
        assert suite.key_bytes == SUITE_KEY_BYTES[suite.value] == suite_key_bytes(suite.value)
    assert CipherSuite.GCM_AES_XPN_256.key_bits == 256
    assert CipherSuite.GCM_AES_128.cak_hex_len == 32


def test_key_ids_compare_in_canonical_form() -> None:
    assert canonical_key_id(" " + SEED_KEY_ID.upper().replace("-", "") + " ") == SEED_KEY_ID
    assert canonical_key_id("{" + SEED_KEY_ID + "}") == "{" + SEED_KEY_ID + "}"  # not a bare UUID
    assert canonical_key_id("kid-1") == "kid-1"
    assert keyid_is_stale(SEED_KEY_ID, SEED_KEY_ID.upper(), True)
    assert not keyid_is_stale(SEED_KEY_ID, SEED_KEY_ID.upper(), False)
    assert not keyid_is_stale(None, "kid-1", True)


def test_private_files_are_0600_from_creation_and_public_ones_0644(tmp_path: Path) -> None:
    secret = tmp_path / "new" / "dir" / "secret"
    write_atomic(secret, b"s")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700 & ~_umask()
    public = tmp_path / "public"
    public.write_bytes(b"old")
    public.chmod(0o600)
    write_atomic(str(public), b"new", PUBLIC_MODE)
    assert stat.S_IMODE(public.stat().st_mode) == 0o644
    assert public.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "public"]  # no temp left


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_key_container_checks() -> None:
    assert container_keys({"Keys": [1]}) == [1]
    assert container_keys({"keys": [2], "Keys": [1]}) == [2]
    assert container_keys([]) is None
    assert decode_key("AAE") == b"\x00\x01"  # missing padding tolerated
    for bad, why in (("A", "not valid base64"), ("AA AA", "not valid base64"), ("", "empty")):
        with pytest.raises(WireError, match=why):
            decode_key(bad)
    assert key_id_problem("kid-1") is None
    assert key_id_problem("") == "has an empty key_ID"
    assert key_id_problem("k\x00") == "has a key_ID with control characters"
    assert key_id_problem("k" * 257) == "has a key_ID longer than 256 characters"


def test_start_time_text_in_the_device_zone_round_trips() -> None:
    epoch = datetime(2026, 12, 1, 7, 30, 58, tzinfo=UTC).timestamp()
    assert start_time_text(epoch) == "2026-12-01.07:30:58"
    assert start_time_text(epoch + 0.9, utc_offset_s=3600) == "2026-12-01.08:30:58"
    assert parse_start_time("2026-12-1.08:30:58 +0100") == epoch
    for bad in ("tomorrow", "2026-02-30.00:00:00", "٢٠٢٦-12-01.07:30:58"):
        with pytest.raises(StartTimeError, match="not a Junos start-time"):
            parse_start_time(bad)
    with pytest.raises(StartTimeError, match=r"outside 1970\.\.2037"):
        start_time_text(datetime(2040, 1, 1, tzinfo=UTC).timestamp())
