"""A two-router simulator lab (real asyncssh NETCONF server) and Junos drivers pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from qkd_macsec.devices.base import DeviceTarget, Driver
from qkd_macsec.devices.platform import DRIVERS
from qkd_macsec.secret import Secret
from qkd_macsec.sim.lab import Lab, LabThread, run_lab_in_thread

PASSWORDS = {"r1": "lab-pw-r1", "r2": "lab-pw-r2"}
LINK = "r1:et-0/0/9--r2:et-0/0/9"


@pytest.fixture
def lab() -> Iterator[LabThread]:
    spec = {
        "preceding_hold_s": 1.0,
        "minute_s": 1.5,  # commit confirmed: 1 "minute" = 1.5 s
        "devices": [
            {"name": name, "user": "lab", "password": password}
            for name, password in PASSWORDS.items()
        ],
        "links": [{"a": "r1:et-0/0/9", "b": "r2:et-0/0/9", "name": LINK}],
    }
    with run_lab_in_thread(Lab.from_dict(spec)) as running:
        yield running


MakeDriver = Callable[..., Driver]


@pytest.fixture
def make_driver(lab: LabThread) -> Iterator[MakeDriver]:
    """Build (not open) a junos driver for a lab device; every one is closed at teardown."""
    made: list[Driver] = []

    def make(name: str, **overrides: Any) -> Driver:
        values: dict[str, Any] = {
            "name": name,
            "host": lab.host,
            "port": lab.port(name),
            "user": "lab",
            "password": Secret.from_text(PASSWORDS[name]),
            "known_hosts": lab.known_hosts_path,
            "timeout": 10.0,
        }
        values.update(overrides)
        driver = DRIVERS.create(DeviceTarget(**values), "junos")
        made.append(driver)
        return driver

    yield make
    for driver in made:
        driver.close()


@pytest.fixture
def link() -> str:
    """The lab's one link name (for fabric queries)."""
    return LINK
