"""Shared pieces of testbed-based tests: fixture typing, lab documents, session counting, the
CLI as a subprocess against a testbed's inventory."""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.cli.common import CRASH_ENV
from qkd_macsec.testbed.builder import Testbed

StartTestbed = Callable[..., Testbed]


def pre_shared_key_link(document: dict[str, Any], link: str = "p2p-11-12") -> dict[str, Any]:
    """The seed lab cut down to one link in seed-compatible pre-shared-key mode (in place)."""
    document["links"] = [entry for entry in document["links"] if entry["name"] == link]
    document["links"][0]["mode"] = "pre-shared-key"
    document["links"][0].pop("key_chain")
    return document


def count_logins(testbed: Testbed, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every NETCONF session opened on any simulated router is appended to the returned list."""
    opened: list[str] = []
    for name in testbed.inventory.hosts:
        device = testbed.lab.device(name)
        original = device.open_session

        def counting(*args: Any, _original: Any = original, _name: str = name) -> Any:
            opened.append(_name)
            return _original(*args)

        monkeypatch.setattr(device, "open_session", counting)
    return opened


def cli_command(testbed: Testbed, *args: str, inventory: Path | None = None) -> list[str]:
    """``python -m qkd_macsec ARGS -i <the testbed's inventory>`` (or ``inventory``: a variant
    of it, e.g. with a host pointed at another simulator)."""
    path = inventory if inventory is not None else testbed.inventory_path
    return [sys.executable, "-m", "qkd_macsec", *args, "-i", str(path)]


def cli_env(crash_at: str | None = None) -> dict[str, str]:
    """This environment, crashing at ``crash_at`` (``QKD_MACSEC_CRASH_AT``) or nowhere."""
    env = dict(os.environ)
    env.pop(CRASH_ENV, None)
    if crash_at:
        env[CRASH_ENV] = crash_at
    return env


def run_cli(
    testbed: Testbed, *args: str, crash_at: str | None = None, inventory: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to the end (2 min at most), output captured."""
    return subprocess.run(
        cli_command(testbed, *args, inventory=inventory),
        env=cli_env(crash_at),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
