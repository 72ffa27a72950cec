"""The seed's transport: the master publishes its key-ID file, the slave pulls it over SCP on its
own timer (host key verified), fetches the key with dec_keys, stages it and publishes an ack; the
master adopts the key only once it has pulled that ack and checked its confirmation tag."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qkd_macsec.macsec import derive_ckn

pytestmark = pytest.mark.slow  # real processes wait for real start-times

LINK = "p2p-11-12"
DELAY_S = 3.0
INTERVAL_S = 6.0


def test_slave_pulls_key_id_file_and_master_adopts_after_its_ack(
    onbox_factory: Any, kit: Any
) -> None:
    # an interval longer than the steps below: the confirming run must not also rotate
    bed, harness = onbox_factory(
        [LINK], delay_s=DELAY_S, interval_s=INTERVAL_S, transport="scp", serve_files=True
    )
    seen = []
    for _ in range(2):
        assert harness.fire_timer("mx304-11").returncode == 0, harness.trace("mx304-11")
        published = harness.routers["mx304-11"].home / "qkd" / "published" / f"{LINK}.json"
        offer = json.loads(published.read_text())
        assert "key" not in offer
        assert set(offer) >= {"key_ID", "slot", "start_time", "link"}
        before = kit.current_key_id(harness, "mx304-11", LINK)
        assert before != offer["key_ID"]  # staged and published, not adopted

        # the master's next event, before the slave has pulled: still not adopted, no new key
        assert harness.fire_timer("mx304-11").returncode == 0
        assert kit.current_key_id(harness, "mx304-11", LINK) == before
        assert json.loads(published.read_text())["key_ID"] == offer["key_ID"]

        pulled = harness.fire_timer("mx304-12")

        assert pulled.returncode == 0, harness.trace("mx304-12")
        assert kit.current_key_id(harness, "mx304-12", LINK) == offer["key_ID"]
        ack = harness.routers["mx304-12"].home / "qkd" / "published" / f"{LINK}.ack.json"
        assert json.loads(ack.read_text())["key_ID"] == offer["key_ID"]
        confirmed = harness.fire_timer("mx304-11")  # pulls the ack over SCP, checks the tag
        assert confirmed.returncode == 0, harness.trace("mx304-11")
        assert kit.current_key_id(harness, "mx304-11", LINK) == offer["key_ID"]
        ckn = derive_ckn(offer["key_ID"])
        kit.wait_for(lambda ckn=ckn: bed.live_ckns(LINK) == [ckn], DELAY_S + 10, "pulled key live")
        seen.append(ckn)
        # the same key-ID file again: kme-keyid-check skips it without a KME call
        again = harness.fire_timer("mx304-12")
        assert again.returncode == 0
        kit.wait_until_due(harness, "mx304-11", LINK)

    assert len(set(seen)) == 2
    assert bed.outage_seconds(LINK) == 0.0
    kit.assert_no_key_material(bed, harness)
