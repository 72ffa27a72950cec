"""Helpers for the KME integration tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

Predicate = Callable[[], Awaitable[bool]]
WaitUntil = Callable[..., Awaitable[None]]


async def _wait_until(predicate: Predicate, within: float = 5.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within} s")
        await asyncio.sleep(0.02)


@pytest.fixture
def wait_until() -> WaitUntil:
    return _wait_until
