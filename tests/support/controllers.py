"""Controllers as background CLI processes (``qkd-macsec run`` and friends) for the HA tests:
started with their own environment, their output in a file, killed at the end if still alive."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from qkd_macsec.testbed.builder import Testbed
from support.testbed import cli_command

_KEY_NAME = re.compile(r'key-name "?([0-9A-Fa-f]+)')


class Background(subprocess.Popen[str]):
    output: Path

    def said(self, text: str) -> bool:
        return text in self.output.read_text()

    def log(self) -> str:
        return self.output.read_text()


@contextmanager
def background(
    testbed: Testbed, directory: Path, env: dict[str, str], *args: str
) -> Iterator[Background]:
    """A CLI process in the background; killed (and reaped) at the end if still running."""
    output = directory / f"{args[0]}-{time.monotonic_ns()}.out"
    with output.open("w") as log:
        proc = Background(
            cli_command(testbed, *args), env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )
    proc.output = output
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> float:
    """Poll ``condition`` until true; the seconds it took (fails after ``timeout``)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.02)
    return time.monotonic() - started


def ckns_added(testbed: Testbed, device: str) -> list[str]:
    """Every key-chain CKN each commit on ``device`` added, oldest commit first (lowercase):
    a CKN appearing twice was staged twice."""
    history = list(reversed(testbed.lab.device(device).history))
    added: list[str] = []
    before: set[str] = set()
    for record in history:
        now = {m.lower() for m in _KEY_NAME.findall(record.config.to_set(mask_secrets=True))}
        added.extend(sorted(now - before))
        before = now
    return added
