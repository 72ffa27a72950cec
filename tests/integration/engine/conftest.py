"""Fixtures: a running testbed (embedded KMEs + simulated Junos routers) from an inventory doc."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.testbed.builder import Testbed, TestbedOptions, bundled_example, start_testbed

FAST_POLICY = {"min_activation_delay": "2s", "clock_tolerance": "1s", "dec_keys_wait": "5s"}

from support.testbed import StartTestbed  # noqa: E402


@pytest.fixture
def seed_doc() -> dict[str, Any]:
    return copy.deepcopy(bundled_example())


@pytest.fixture
def testbed_factory(tmp_path: Path) -> Iterator[StartTestbed]:
    """Start one or more testbeds; all are stopped at the end of the test."""
    with ExitStack() as stack:

        def start(doc: dict[str, Any], **options: Any) -> Testbed:
            policy = {**FAST_POLICY, **options.pop("policy", {})}
            directory = tmp_path / f"tb{len(stack._exit_callbacks)}"
            return stack.enter_context(
                start_testbed(doc, directory, TestbedOptions(policy=policy, **options))
            )

        yield start
