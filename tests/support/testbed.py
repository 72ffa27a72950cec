"""Shared pieces of testbed-based tests: fixture typing, lab documents, session counting."""

from collections.abc import Callable
from typing import Any

import pytest

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
