"""Issue 11 on-box rules in isolation: retry back-off and the diverged cap (the core rule, which
the off-box planner uses too), the withdraw window, and the state lock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qkd_macsec.core import schedule as rules
from qkd_macsec.engine.planner import PlanPolicy
from qkd_macsec.engine.planner import retry_delay as planner_retry_delay
from qkd_macsec.onbox.artifact import main as entry
from qkd_macsec.onbox.artifact.handoff import Ack, HandoffError, Offer, Withdraw, parse_ack
from qkd_macsec.onbox.artifact.state import LockHeld, StateLock


def test_retry_constants_are_the_planner_policy_defaults() -> None:
    policy = PlanPolicy()
    assert policy.retry_base == rules.DEFAULT_BACKOFF.base_s == 30.0
    assert policy.retry_max == rules.DEFAULT_BACKOFF.max_s == 3600.0
    assert policy.diverged_retry == rules.DEFAULT_BACKOFF.diverged_cap_s == 5.0


@pytest.mark.parametrize("failures", [0, 1, 2, 3, 7, 20])
@pytest.mark.parametrize("interval", [0.5, 60.0, 600.0, 86400.0])
def test_retry_delay_equals_the_planner_and_diverged_is_capped(
    failures: int, interval: float
) -> None:
    expected = planner_retry_delay(failures, interval, PlanPolicy())
    assert rules.retry_delay(failures, interval) == expected
    assert rules.retry_delay(failures, interval, diverged=True) == min(expected, 5.0)


def test_link_due_backs_off_then_retries_even_before_the_interval() -> None:
    # current key started at 1000, interval 600; a failure at 1700 (the rotation was due)
    assert rules.link_due(1000, 600, 1700) == (True, "", None)
    due, why, when = rules.link_due(1000, 600, 1710, failures=1, last_failure=1700)
    assert (due, when) == (False, 1730.0)
    assert "backing off" in why
    assert rules.link_due(1000, 600, 1730, failures=1, last_failure=1700)[0]
    # diverged: re-key 5 s after the failure, whatever the back-off would have been
    assert not rules.link_due(1000, 600, 1704, failures=4, last_failure=1700, diverged=True)[0]
    assert rules.link_due(1000, 600, 1705, failures=4, last_failure=1700, diverged=True)[0]
    # a diverged adoption (key started at 2000, not due by interval until 2600) retries at +5 s
    assert rules.link_due(2000, 600, 2005, failures=1, last_failure=2000, diverged=True)[0]
    assert rules.link_due(2000, 600, 2004) == (False, "not due", 2600)


def test_withdraw_window_ends_before_the_start_time() -> None:
    assert rules.withdraw_deadline(1000, 60) == 995  # margin capped at 5 s
    assert rules.withdraw_deadline(1000, 3) == 999  # a third of a short delay
    waits = [rules.withdraw_wait(n) for n in range(1, 8)]
    assert waits == [0.5, 1, 2, 4, 8, 8, 8]


HOLDER = """
import sys
from qkd_macsec.onbox.artifact.state import StateLock
with StateLock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_state_lock_excludes_a_second_process_and_is_released(tmp_path: Path) -> None:
    path = str(tmp_path / "state" / "state.json")
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdin is not None
        try:
            assert holder.stdout.readline().strip() == "locked"
            with pytest.raises(LockHeld, match="another run holds"):
                StateLock(path).acquire()
            with pytest.raises(LockHeld):
                StateLock(path, wait_s=0.3).acquire()  # waits a little, then gives up
            holder.stdin.write("\n")
            holder.stdin.flush()
            assert holder.wait(30) == 0
        finally:
            if holder.poll() is None:
                holder.kill()
    with StateLock(path, wait_s=5):  # free again once the holder exits
        pass
    assert (Path(path + ".lock").stat().st_mode & 0o777) == 0o600


@pytest.fixture
def held_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(entry, "PEER_LOCK_WAIT_S", 0.2)
    lock = StateLock(str(tmp_path / "qkd" / "state" / "state.json"))
    lock.acquire()  # flock locks are per open file: a second open in this process contends
    yield lock
    lock.release()


def test_second_timer_run_exits_cleanly_while_another_holds_the_lock(
    held_lock: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert entry.main([]) == 0
    err = capsys.readouterr().err
    assert "another run holds" in err
    assert "this run exits" in err
    assert not (tmp_path / "qkd" / "state" / "state.json").exists()  # nothing was touched


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("accept", Offer("L1", "kid-1", 3, "2027-01-15.08:00:30", (2,), "sae-a").to_json()),
        ("withdraw", Withdraw("L1", "kid-1", 3).to_json()),
    ],
)
def test_op_script_run_refuses_while_the_lock_is_held(
    held_lock: object, action: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert entry.main(["-action", action, "-message", message]) == 0
    answer = parse_ack(capsys.readouterr().out.strip().splitlines()[-1])
    assert (answer.link, answer.key_ID, answer.slot, answer.ok) == ("L1", "kid-1", 3, False)
    assert answer.reason.startswith("busy")
    assert not answer.held
    assert json.loads(message)["type"] in ("offer", "withdraw")


def test_ack_held_round_trips_and_must_be_bool() -> None:
    ack = Ack("L1", "kid-1", 3, False, reason="entry has started: kept", held=True)
    assert parse_ack(ack.to_json()) == ack
    body = json.loads(ack.to_json())
    del body["held"]  # an older peer: not held
    assert parse_ack(json.dumps(body)).held is False
    with pytest.raises(HandoffError, match="held"):
        parse_ack(json.dumps({**body, "held": "yes"}))
