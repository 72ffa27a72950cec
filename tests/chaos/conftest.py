"""A seed-lab testbed with short device timeouts, for router faults that make RPCs hang."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest

from qkd_macsec.testbed.builder import Testbed, TestbedOptions, bundled_example, start_testbed

DEVICE_TIMEOUT_S = 3
FAST_POLICY = {"min_activation_delay": "2s", "clock_tolerance": "1s", "dec_keys_wait": "3s"}


@pytest.fixture
def quick_testbed(tmp_path: Path) -> Iterator[Testbed]:
    document = copy.deepcopy(bundled_example())
    document["defaults"]["timeout"] = DEVICE_TIMEOUT_S
    for group in document.get("groups", {}).values():
        group.pop("timeout", None)
    with start_testbed(document, tmp_path / "testbed", TestbedOptions(policy=FAST_POLICY)) as tb:
        yield tb
