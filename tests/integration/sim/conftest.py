"""A two-router lab on a background thread, and PyEZ devices opened against it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jnpr.junos import Device

from qkd_macsec.sim.lab import Lab, LabThread, run_lab_in_thread

PASSWORD = "lab-Pw-7f3c9e1d"  # a canary: must never show up in logs
HOLD_S = 0.4  # preceding-key hold, small so outage tests are quick
MINUTE_S = 0.2  # one commit-confirmed "minute"


def lab_dict(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "preceding_hold_s": HOLD_S,
        "minute_s": MINUTE_S,
        "devices": [
            {
                "name": "mx304-11",
                "user": "lab",
                "password": PASSWORD,
                "config": "set system host-name mx304-11",
            },
            {"name": "mx304-12", "user": "lab", "password": PASSWORD},
            {"name": "mx304-13", "user": "lab", "password": PASSWORD, "base11": True},
        ],
        "links": [{"a": "mx304-11:et-0/0/9", "b": "mx304-12:et-0/0/9"}],
    }
    data.update(overrides)
    return data


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabThread]:
    running = run_lab_in_thread(Lab.from_dict(lab_dict(), state_dir=tmp_path / "state"))
    try:
        yield running
    finally:
        running.stop()


OpenDevice = Callable[..., Device]


@pytest.fixture
def open_device(lab: LabThread) -> Iterator[OpenDevice]:
    """Open a PyEZ Device on a lab router (closed at teardown)."""
    opened: list[Device] = []

    def _open(name: str = "mx304-11", **kwargs: Any) -> Device:
        options: dict[str, Any] = {"user": "lab", "password": PASSWORD, "gather_facts": False}
        options.update(kwargs)
        dev = Device("127.0.0.1", port=lab.port(name), **options)
        dev.open()
        opened.append(dev)
        return dev

    yield _open
    for dev in opened:
        if dev.connected:
            # a test may have broken this session on purpose
            with contextlib.suppress(Exception):
                dev.close()


WaitFor = Callable[..., None]


def _wait_for(predicate: Callable[[], bool], within: float = 10.0, step: float = 0.02) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(step)


@pytest.fixture
def wait_for() -> WaitFor:
    """Poll a predicate until it holds, failing after a deadline."""
    return _wait_for


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def ssh_config(lab: LabThread, tmp_path: Path) -> Path:
    """An OpenSSH client config that makes ncclient verify against the lab's known_hosts."""
    path = tmp_path / "ssh_config"
    path.write_text(
        "Host 127.0.0.1\n"
        f"  UserKnownHostsFile {lab.known_hosts_path}\n"
        "  StrictHostKeyChecking yes\n"
    )
    return path
