"""The journal lease: one holder, a second refused at once or queued, a dead holder's taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qkd_macsec.engine.lease import (
    FileLeaseBackend,
    LeaseHeldError,
    LeaseLostError,
    acquire_journal,
    lock_path,
)

HOLDER = """
import sys
from qkd_macsec.engine.lease import acquire_journal
lease = acquire_journal(sys.argv[1], "holder")
print("held", lease.token, flush=True)
sys.stdin.read()  # until killed
"""


def test_second_acquire_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    first = acquire_journal(journal, "run")
    started = time.monotonic()
    with pytest.raises(LeaseHeldError) as caught:
        acquire_journal(journal, "rotate")
    assert time.monotonic() - started < 1.0
    message = str(caught.value)
    assert f"pid {os.getpid()}" in message
    assert "(run, since" in message
    assert "\n" not in message
    assert oct(lock_path(journal).stat().st_mode & 0o777) == "0o600"
    first.release()
    second = acquire_journal(journal, "rotate")
    assert second.token == first.token + 1  # fencing token grows with each holder
    second.release()
    second.release()  # idempotent


def test_wait_queues_until_the_holder_releases(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    first = acquire_journal(journal, "run")
    waiting = threading.Event()
    got: list[int] = []

    def queue() -> None:
        waiting.set()
        got.append(acquire_journal(journal, "rotate", wait=30).token)

    thread = threading.Thread(target=queue)
    thread.start()
    assert waiting.wait(5)
    assert got == []  # it cannot have the lease while the first holds it
    first.release()
    thread.join(10)
    assert got == [first.token + 1]


def test_wait_gives_up_at_its_deadline(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    held = acquire_journal(journal, "run")
    started = time.monotonic()
    with pytest.raises(LeaseHeldError, match="after waiting"):
        acquire_journal(journal, "rotate", wait=0.5)
    assert 0.5 <= time.monotonic() - started < 3.0
    held.release()


def test_a_sigkilled_holders_lease_is_taken_over(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(journal)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().startswith("held")
            holder = FileLeaseBackend(journal).current_holder()
            assert holder is not None
            assert holder.pid == proc.pid
            assert holder.command == "holder"
            with pytest.raises(LeaseHeldError):
                acquire_journal(journal, "rotate")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            proc.kill()
            proc.wait()
    assert FileLeaseBackend(journal).current_holder() is None  # the kernel released it
    lease = acquire_journal(journal, "rotate")
    assert lease.holder.pid == os.getpid()
    lease.release()


def test_a_deleted_lock_file_is_noticed_by_the_holder(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    lease = acquire_journal(journal, "run")
    lease.check()
    lock_path(journal).unlink()
    other = acquire_journal(journal, "rotate")  # a new file: a second holder became possible
    with pytest.raises(LeaseLostError):
        lease.check()
    other.check()
    other.release()
    lease.release()
    with pytest.raises(LeaseLostError):
        lease.check()


def test_in_memory_journal_needs_no_lease() -> None:
    acquire_journal(":memory:", "test").check()


def test_a_journal_reached_through_a_symlink_is_one_journal(tmp_path: Path) -> None:
    real = tmp_path / "var" / "journal.sqlite"
    real.parent.mkdir()
    link = tmp_path / "journal.sqlite"
    link.symlink_to(real)
    held = acquire_journal(real, "run")
    with pytest.raises(LeaseHeldError):
        acquire_journal(link, "rotate")
    held.release()
