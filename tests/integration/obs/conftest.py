"""Fixtures: the seed lab on a running testbed, and a `qkd-macsec` child process helper."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qkd_macsec.testbed.builder import Testbed, TestbedOptions, bundled_example, start_testbed

FAST_POLICY = {"min_activation_delay": "2s", "clock_tolerance": "1s", "dec_keys_wait": "5s"}


@pytest.fixture
def seed_testbed(tmp_path: Path) -> Iterator[Testbed]:
    """The bundled seed lab (4 routers, 2 links) on embedded KMEs and simulated Junos."""
    options = TestbedOptions(policy=FAST_POLICY)
    with start_testbed(bundled_example(), tmp_path / "testbed", options) as testbed:
        yield testbed


class Child:
    """A ``python -m qkd_macsec ...`` process whose stderr lines are collected as they come."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qkd_macsec", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, needle: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if needle in line:
                return line
            if self.proc.poll() is not None and self.lines.empty():
                break
        raise AssertionError(f"no {needle!r} on stderr within {timeout} s: {self.seen[-5:]}")

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._reader.join(timeout=5)
            if self.proc.stderr is not None:
                self.proc.stderr.close()


@pytest.fixture
def child() -> Iterator[type[Child]]:
    """Start children with ``child(*args)``; any still running at the end is killed."""
    started: list[Child] = []

    class Tracked(Child):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    yield Tracked
    for process in started:
        process.stop(timeout=10)
