"""Chaos fault: controller failover — an active controller dies mid-wave while a standby waits.

Two real CLI processes on the run's journal: the active one (``rotate --force``) holds the
lease and is SIGKILLed a drawn number of seconds into its wave; the standby (``rotate --wait``)
was already queued on the lease, takes it over when it frees (at once for the SQLite journal's
flock; within the TTL for a PostgreSQL journal), recovers the killed one's in-flight rotations
by the device-as-truth rules and rotates what is due. The run's end-state checks (every link
live on a shared key, outage 0, nothing left open) then cover the handover; this module
reports whether the kill landed mid-wave (fired), and whether the standby took over within
:data:`FAILOVER_LIMIT_S` and finished cleanly (observed).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qkd_macsec.engine.backends import lease_holder
from qkd_macsec.engine.journal_url import JOURNAL_ENV, JournalLocation, parse_journal_location
from qkd_macsec.pki.files import write_private
from qkd_macsec.testbed.builder import Testbed

#: The standby must hold the lease this soon after the active one's SIGKILL.
FAILOVER_LIMIT_S = 15.0
START_TIMEOUT_S = 60.0
STANDBY_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class FailoverOutcome:
    killed_mid_wave: bool  # the active one was still running when killed
    takeover_s: float | None  # SIGKILL → the standby holds the lease (None: never seen)
    standby_code: int | None  # the standby's exit code (None: it had to be killed)
    problem: str | None = None

    @property
    def clean(self) -> bool:
        return (
            self.problem is None
            and self.standby_code == 0
            and self.takeover_s is not None
            and self.takeover_s <= FAILOVER_LIMIT_S
        )


async def _start(
    testbed: Testbed, out: Path, env: dict[str, str], *args: str
) -> asyncio.subprocess.Process:
    write_private(out, b"")
    with out.open("ab") as sink:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "qkd_macsec",
            *args,
            "-i",
            str(testbed.inventory_path),
            env=env,
            stdout=sink,
            stderr=sink,
        )


async def _until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await asyncio.to_thread(condition):
            return True
        await asyncio.sleep(0.05)
    return False


async def failover_wave(
    testbed: Testbed,
    kill_after_s: float,
    outputs: tuple[Path, Path],
    journal: str | None = None,
) -> FailoverOutcome:
    """One failover: ``outputs`` receive the active and standby's output (no secrets);
    ``journal`` names a journal other than the inventory's (a PostgreSQL URL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QKD_MACSEC_CRASH")}
    location: JournalLocation = testbed.inventory.policy.journal
    if journal is not None:
        env[JOURNAL_ENV] = journal
        location = parse_journal_location(journal)

    def holder_is(pid: int) -> bool:
        holder = lease_holder(location)
        return holder is not None and holder.pid == pid

    active = await _start(testbed, outputs[0], env, "rotate", "--force")
    standby: asyncio.subprocess.Process | None = None
    try:
        if not await _until(lambda: holder_is(active.pid), START_TIMEOUT_S):
            return FailoverOutcome(False, None, None, "the active controller never held the lease")
        standby = await _start(testbed, outputs[1], env, "rotate", "--wait=120")
        standby_pid = standby.pid
        queued = await _until(
            lambda: "note: waiting" in outputs[1].read_text(errors="replace"), START_TIMEOUT_S
        )
        if not queued:
            return FailoverOutcome(False, None, None, "the standby never queued on the lease")
        await asyncio.sleep(kill_after_s)
        running = active.returncode is None
        if running:
            active.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        await active.wait()
        took = await _until(
            lambda: holder_is(standby_pid) or standby.returncode is not None,
            FAILOVER_LIMIT_S * 4,
        )
        takeover = time.monotonic() - killed_at if took else None
        try:
            code: int | None = await asyncio.wait_for(standby.wait(), STANDBY_TIMEOUT_S)
        except TimeoutError:
            code = None
        return FailoverOutcome(running, takeover, code)
    finally:
        for proc in (active, standby):
            if proc is not None and proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
                await proc.wait()


__all__ = ["FAILOVER_LIMIT_S", "FailoverOutcome", "failover_wave"]
