"""One controller per journal, through the real CLI (subprocesses) on the simulator.

A second controller exits at once with code 4 while one holds the journal (a `run`, or a
`rotate` with a rotation in flight), `--wait` queues behind it, and a SIGKILLed holder's lease
is taken over by the next controller, whose recovery finishes its rotation hitlessly.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import PIPE
from typing import Any

import pytest

from qkd_macsec.engine.controller import Controller
from qkd_macsec.engine.journal import Journal
from qkd_macsec.engine.lease import FileLeaseBackend, LeaseHeldError
from qkd_macsec.testbed.builder import Testbed
from support.testbed import StartTestbed, cli_command, cli_env
from support.testbed import run_cli as cli

EXIT_LEASE_HELD = 4


class Background(subprocess.Popen[str]):
    output: Path

    def said(self, text: str) -> bool:
        return text in self.output.read_text()


@contextmanager
def background(testbed: Testbed, tmp_path: Path, *args: str) -> Iterator[Background]:
    """A CLI controller in the background; killed at the end if still running."""
    output = tmp_path / f"{args[0]}-{time.monotonic_ns()}.out"
    log = output.open("w")
    proc = Background(
        cli_command(testbed, *args), env=cli_env(), stdout=log, stderr=subprocess.STDOUT, text=True
    )
    proc.output = output
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        log.close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def holder_pid(testbed: Testbed) -> int | None:
    holder = FileLeaseBackend(testbed.inventory.policy.journal).current_holder()
    return holder.pid if holder is not None else None


def phases(testbed: Testbed) -> dict[str, str]:
    """The newest rotation's phase per link, read-only (another process writes the journal)."""
    path = testbed.inventory.policy.journal
    if not path.exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute(
            "SELECT link, phase FROM rotations WHERE id IN (SELECT MAX(id) FROM rotations"
            " GROUP BY link)"
        ).fetchall()
    except sqlite3.OperationalError:  # schema not created yet
        return {}
    finally:
        db.close()
    return {str(link): str(phase) for link, phase in rows}


def assert_hitless_on_newest(testbed: Testbed) -> None:
    journal = Journal(testbed.inventory.policy.journal)
    try:
        assert journal.open_rotations() == []
        for link in testbed.wires:
            (newest,) = journal.active_keys(link, 1)
            assert testbed.live_ckns(link) == [newest.ckn] * len(testbed.wires[link]), link
            assert testbed.outage_seconds(link) == 0.0, link
    finally:
        journal.close()


def assert_refused(done: subprocess.CompletedProcess[str], holder: int, seconds: float) -> None:
    assert done.returncode == EXIT_LEASE_HELD, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # one line, no traceback
    assert lines[0].startswith("error: another controller holds the journal")
    assert f"pid {holder} " in lines[0]
    assert seconds < 20, "refused at once, not after a timeout"


def test_cron_rotate_while_the_service_runs_exits_4_and_wait_queues(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], tmp_path: Path
) -> None:
    testbed = testbed_factory(seed_doc)
    with background(testbed, tmp_path, "run", "--check-interval", "1") as service:
        wait_for(lambda: holder_pid(testbed) == service.pid, "the service to hold the journal")
        started = time.monotonic()
        refused = cli(testbed, "rotate")
        assert_refused(refused, service.pid, time.monotonic() - started)
        assert "(run, since" in refused.stderr
        for other in (("recover",), ("adopt",), ("run",)):
            assert cli(testbed, *other).returncode == EXIT_LEASE_HELD, other

        wait_for(lambda: set(phases(testbed).values()) == {"ACTIVE"}, "the service's bootstrap")
        with background(testbed, tmp_path, "rotate", "--force", "--wait=120") as queued:
            # it tried, found the service holding the journal, and waits for it
            wait_for(lambda: queued.said("note: waiting: another controller"), "the queue note")
            assert queued.said(f"pid {service.pid} ")
            assert queued.poll() is None, "the queued rotate must wait for the service"
            assert holder_pid(testbed) == service.pid
            service.send_signal(signal.SIGTERM)
            assert service.wait(60) == 0
            assert queued.wait(120) == 0
    journal = Journal(testbed.inventory.policy.journal)
    try:
        for link in testbed.wires:
            newest, boot = journal.rotations(link, limit=2)
            assert (boot.reason, newest.reason) == ("bootstrap", "forced")
    finally:
        journal.close()
    assert_hitless_on_newest(testbed)


def test_second_controller_during_an_in_flight_rotation_cannot_touch_it(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], tmp_path: Path
) -> None:
    """The broken interleaving: a second controller's recovery took the first one's in-flight
    rotation for a crashed one and undid it on one end. Now it cannot even start."""
    # room for three refused CLI runs (a process start each) before T on a loaded machine: at
    # 8 s the first rotation sometimes finished first under a parallel suite (and the test failed)
    testbed = testbed_factory(seed_doc, policy={"min_activation_delay": "16s"})
    assert cli(testbed, "rotate").returncode == 0
    with background(testbed, tmp_path, "rotate", "--force") as first:
        wait_for(
            lambda: set(phases(testbed).values()) == {"STAGED"}, "the first rotation in flight"
        )
        configs = {d: testbed.lab.device(d).committed.to_set() for d in testbed.inventory.hosts}
        # the three second controllers start together: one process start's worth of the
        # in-flight window, not three (on a loaded machine a start alone can take seconds)
        started = time.monotonic()
        seconds = [
            subprocess.Popen(
                cli_command(testbed, *args), env=cli_env(), stdout=PIPE, stderr=PIPE, text=True
            )
            for args in (("rotate",), ("recover",), ("rotate", "--force"))
        ]
        for second in seconds:
            out, err = second.communicate(timeout=120)
            refused = subprocess.CompletedProcess(second.args, second.returncode, out, err)
            assert_refused(refused, first.pid, time.monotonic() - started)
        with pytest.raises(LeaseHeldError):  # the library refuses too
            Controller(testbed.inventory)
        assert first.poll() is None, "the checks must have run while the rotation was in flight"
        assert set(phases(testbed).values()) == {"STAGED"}  # untouched
        assert {d: testbed.lab.device(d).committed.to_set() for d in configs} == configs
        assert first.wait(120) == 0
    assert set(phases(testbed).values()) == {"ACTIVE"}
    assert_hitless_on_newest(testbed)


def test_a_sigkilled_holders_lease_is_taken_over_and_its_rotation_finished(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], tmp_path: Path
) -> None:
    testbed = testbed_factory(seed_doc, policy={"min_activation_delay": "5s"})
    assert cli(testbed, "rotate").returncode == 0
    with background(testbed, tmp_path, "rotate", "--force") as doomed:
        wait_for(lambda: set(phases(testbed).values()) == {"STAGED"}, "a rotation in flight")
        doomed.send_signal(signal.SIGKILL)
        assert doomed.wait(30) == -signal.SIGKILL
    started = time.monotonic()
    taken = cli(testbed, "rotate")  # no --wait: the dead holder's lock is already gone
    assert taken.returncode == 0, taken.stdout + taken.stderr
    assert time.monotonic() - started < 60
    assert set(phases(testbed).values()) == {"ACTIVE"}
    assert_hitless_on_newest(testbed)
