"""A router that is down for a while comes back on the same port, whatever ran meanwhile.

Found by the campaign (the long run crashed): while a simulated router refused connections its
port was free, another program's ephemeral listener took it, and the router could not listen
again ("address already in use"). The port is now kept bound, not listening, while it is down.
"""

from __future__ import annotations

import copy
import socket
from pathlib import Path

import pytest

from qkd_macsec.engine.controller import Controller
from qkd_macsec.testbed.builder import TestbedOptions, bundled_example, start_testbed

POLICY = {"min_activation_delay": "2s", "clock_tolerance": "1s", "dec_keys_wait": "3s"}
ROUTER = "mx304-12"


def connect(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


async def test_a_router_down_for_a_while_comes_back_on_its_port(tmp_path: Path) -> None:
    options = TestbedOptions(policy=POLICY)
    with start_testbed(copy.deepcopy(bundled_example()), tmp_path / "tb", options) as testbed:
        port = testbed.lab.port(ROUTER)
        testbed.lab.refuse_connections(ROUTER, True)
        with pytest.raises(ConnectionRefusedError):
            connect(port)  # down: refused, as from a router whose SSH server is not running
        squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            with pytest.raises(OSError, match="in use"):
                squatter.bind(("127.0.0.1", port))  # nobody else gets the port meanwhile
        finally:
            squatter.close()

        testbed.lab.refuse_connections(ROUTER, False)
        assert testbed.lab.port(ROUTER) == port
        connect(port)
        async with Controller(testbed.inventory) as controller:
            assert (await controller.rotate()).ok  # PyEZ sessions work on the old port
