"""Fixtures for the security checks: a running seed-lab testbed, the CLI as a subprocess, and a
canary scan over everything a run wrote."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from qkd_macsec.testbed.builder import Testbed, TestbedOptions, bundled_example, start_testbed
from support.sim_timing import use_simulator_session_estimate
from testkit.chaos.canary import collect_secrets

FAST_POLICY = {"min_activation_delay": "2s", "clock_tolerance": "1s", "dec_keys_wait": "3s"}

RunCli = Callable[..., subprocess.CompletedProcess[str]]
Scan = Callable[[Testbed, bytes], list[str]]


@pytest.fixture(autouse=True)
def simulator_session_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process controllers plan their first wave for simulated routers (see the module)."""
    use_simulator_session_estimate(monkeypatch)


@pytest.fixture
def testbed(tmp_path: Path) -> Iterator[Testbed]:
    """The seed lab (one group CA, one point-to-point link) on KMEs and simulated routers."""
    with ExitStack() as stack:
        yield stack.enter_context(
            start_testbed(
                copy.deepcopy(bundled_example()),
                tmp_path / "testbed",
                TestbedOptions(policy=FAST_POLICY),
            )
        )


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """``run_cli(*args, prelude=...)``: the real CLI in a fresh process (``prelude`` runs first
    in that process, e.g. to install an audit hook)."""

    def run(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
        code = f"{prelude}\nfrom qkd_macsec.cli import main\nmain()"
        env = {k: v for k, v in os.environ.items() if k != "QKD_MACSEC_CRASH_AT"}
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


@pytest.fixture
def scan() -> Scan:
    """``scan(testbed, data)``: labels of the testbed's secrets found in ``data`` (the router
    password, every CAK any router committed, every private key body) — never the secrets."""

    def find(testbed: Testbed, data: bytes) -> list[str]:
        return sorted({label for label, needle in collect_secrets(testbed) if needle in data})

    return find
