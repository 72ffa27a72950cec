"""Issue 11 on-box: every failure leaves the link on a key both ends share (real runtimes on
simulated routers): an undeliverable withdraw, a withdraw of a started entry, overlapping runs."""

from __future__ import annotations

import fcntl
import json
import threading
import time
from typing import Any

import pytest

from qkd_macsec.macsec import derive_ckn
from qkd_macsec.testbed.builder import Testbed
from testkit.onbox_harness import OnboxHarness, RunResult

pytestmark = pytest.mark.slow  # real processes wait for real start-times

LINK = "p2p-11-12"
MASTER, SLAVE = "mx304-11", "mx304-12"
IFACE = "et-0/0/10"


def bootstrap(kit: Any, bed: Testbed, harness: OnboxHarness, delay_s: float) -> str:
    result = harness.fire_timer(MASTER)
    assert result.returncode == 0, harness.trace(MASTER)
    ckn = derive_ckn(kit.current_key_id(harness, MASTER, LINK))
    kit.wait_for(lambda: bed.live_ckns(LINK) == [ckn], delay_s + 10, "bootstrap key live")
    kit.wait_until_due(harness, MASTER, LINK)
    return ckn


def test_withdraw_undelivered_until_start_both_ends_go_to_the_new_key(
    onbox_factory: Any, kit: Any
) -> None:
    delay = 12.0  # room for a few withdraw retries before the margin (3 s) ahead of T
    bed, harness = onbox_factory([LINK], delay_s=delay)
    old = bootstrap(kit, bed, harness, delay)
    slave = harness.routers[SLAVE]
    slave.extra_env["QKD_ONBOX_CRASH_AT"] = "peer-after-stage"  # stages, then no answer
    slave.unreachable_after.add("accept")  # ... and the router is gone right after

    result = harness.fire_timer(MASTER)

    assert result.returncode == 1
    trace = harness.trace(MASTER)
    assert "retry 2 in" in trace
    assert "keeping slot" in trace
    pending = kit.state_of(harness, MASTER)["links"][LINK]["pending"]
    assert pending["kept"]
    half = derive_ckn(pending["key_id"])
    master = kit.chain_slots(bed, MASTER, IFACE)
    assert master == kit.chain_slots(bed, SLAVE, IFACE)  # the master kept what the slave has
    assert set(master.values()) == {old, half}
    kit.wait_for(
        lambda: time.time() >= pending["start"] + 1.5, delay + 5, "the half-done start-time"
    )
    assert bed.live_ckns(LINK) == [half]  # both ends went to it: no one left alone
    assert bed.outage_seconds(LINK) == 0.0

    slave.extra_env.clear()
    bed.lab.refuse_connections(SLAVE, False)
    rerun = harness.fire_timer(MASTER)  # the slave answers "started, kept": adopt, re-key

    assert rerun.returncode == 0, harness.trace(MASTER)
    assert "every peer is on" in harness.trace(MASTER)
    assert "refused to withdraw" in harness.trace(SLAVE)
    new = derive_ckn(kit.current_key_id(harness, MASTER, LINK))
    assert new not in (old, half)
    kit.wait_for(lambda: bed.live_ckns(LINK) == [new], delay + 10, "re-keyed after adoption")
    assert kit.chain_slots(bed, MASTER, IFACE) == kit.chain_slots(bed, SLAVE, IFACE)
    assert bed.outage_seconds(LINK) == 0.0
    kit.assert_no_key_material(bed, harness, result.stdout + result.stderr)


def test_withdraw_delivered_on_a_retry_both_ends_stay_on_the_old_key(
    onbox_factory: Any, kit: Any
) -> None:
    delay = 12.0  # the offer takes seconds under load; leave a window for retries before T - 3s
    bed, harness = onbox_factory([LINK], delay_s=delay)
    old = bootstrap(kit, bed, harness, delay)
    slave = harness.routers[SLAVE]
    slave.extra_env["QKD_ONBOX_CRASH_AT"] = "peer-after-stage"
    slave.unreachable_after.add("accept")
    results: list[RunResult] = []
    run = threading.Thread(target=lambda: results.append(harness.fire_timer(MASTER)))
    run.start()
    try:
        kit.wait_for(lambda: "retry 2 in" in harness.trace(MASTER), 30, "a failed withdraw")
        slave.extra_env.clear()
        bed.lab.refuse_connections(SLAVE, False)  # back before T: a later retry gets through
    finally:
        run.join(60)
    assert [r.returncode for r in results] == [1]
    assert "rotation withdrawn" in harness.trace(MASTER), harness.trace(SLAVE)
    assert "withdrew key" in harness.trace(SLAVE)
    assert list(kit.chain_slots(bed, MASTER, IFACE).values()) == [old]
    assert list(kit.chain_slots(bed, SLAVE, IFACE).values()) == [old]
    assert kit.state_of(harness, MASTER)["links"][LINK]["pending"] is None
    until = time.time() + delay + 1.0  # past the withdrawn key's start-time
    kit.wait_for(lambda: time.time() >= until, delay + 5, "the withdrawn start-time")
    assert bed.live_ckns(LINK) == [old]
    assert bed.outage_seconds(LINK) == 0.0


def test_withdraw_of_a_started_entry_is_refused(onbox_factory: Any, kit: Any) -> None:
    bed, harness = onbox_factory([LINK], delay_s=3.0)
    live = bootstrap(kit, bed, harness, 3.0)
    current = kit.state_of(harness, SLAVE)["links"][LINK]["current"]
    before = kit.chain_slots(bed, SLAVE, IFACE)
    message = json.dumps(
        {"type": "withdraw", "link": LINK, "key_ID": current["key_id"], "slot": current["slot"]}
    )

    answer = harness.run_op(SLAVE, "withdraw", message)

    assert answer.returncode == 0
    ack = json.loads(answer.stdout.strip().splitlines()[-1])
    assert ack["ok"] is False
    assert ack["held"] is True
    assert kit.chain_slots(bed, SLAVE, IFACE) == before
    assert bed.live_ckns(LINK) == [live]
    assert bed.outage_seconds(LINK) == 0.0


def test_two_runs_at_once_one_runs_the_other_exits(onbox_factory: Any, kit: Any) -> None:
    bed, harness = onbox_factory([LINK], delay_s=3.0)
    old = bootstrap(kit, bed, harness, 3.0)
    lock_path = harness.state_lock_path(SLAVE)
    results: list[RunResult] = []
    with open(lock_path, "a+") as held:  # the slave is busy: the master's offer waits on it
        fcntl.flock(held, fcntl.LOCK_EX)
        first = threading.Thread(target=lambda: results.append(harness.fire_timer(MASTER)))
        first.start()
        try:
            kit.wait_for(
                lambda: harness.trace(MASTER).count("staged key") == 2, 20, "first run staged"
            )

            second = harness.fire_timer(MASTER)  # overlaps the first (which holds the lock)

            assert second.returncode == 0
            assert "another run holds" in harness.trace(MASTER)
            assert "this run exits" in harness.trace(MASTER)
            assert first.is_alive()
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
        first.join(60)
    assert [r.returncode for r in results] == [0], harness.trace(MASTER)
    assert harness.trace(MASTER).count("staged key") == 2  # bootstrap + the first run only
    new = derive_ckn(kit.current_key_id(harness, MASTER, LINK))
    assert new != old
    kit.wait_for(lambda: bed.live_ckns(LINK) == [new], 13, "the first run's key live")
    assert bed.outage_seconds(LINK) == 0.0
