"""Starting and stopping KME servers: ephemeral ports, clear start-up errors, clean stop."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import yaml

from qkd_macsec.kme import KmeNetwork, KmeStartError, run_network_in_thread, serve_network
from qkd_macsec.kme.example import write_example_network


def network_with(tmp_path: Path, **kme_a_changes: object) -> KmeNetwork:
    example = write_example_network(tmp_path)
    doc = yaml.safe_load(example.network_file.read_text())
    doc["kmes"][0].update(kme_a_changes)
    example.network_file.write_text(yaml.safe_dump(doc))
    return KmeNetwork.from_file(example.network_file)


async def test_ephemeral_ports_are_reported(tmp_path: Path) -> None:
    network = KmeNetwork.from_file(write_example_network(tmp_path).network_file)
    async with serve_network(network) as running:
        ports = {endpoint.port for endpoint in running.endpoints.values()}
        assert len(ports) == 2
        assert 0 not in ports
        for endpoint in running.endpoints.values():
            with socket.create_connection((endpoint.host, endpoint.port), timeout=5):
                pass  # accepting
    for port in ports:  # closed after the block
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


async def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        network = network_with(tmp_path, listen={"host": "127.0.0.1", "port": port})
        with pytest.raises(KmeStartError, match=rf"KME_A: cannot listen on 127.0.0.1:{port}"):
            async with serve_network(network):
                pass


def test_unusable_key_is_a_clear_error_from_the_thread_wrapper(tmp_path: Path) -> None:
    network = network_with(tmp_path)
    network.kme("KME_A").server_key.write_text("garbage")
    threads_before = threading.active_count()
    with (
        pytest.raises(KmeStartError, match=r"KME_A: cannot load server certificate") as caught,
        run_network_in_thread(network),
    ):
        pass
    assert "garbage" not in str(caught.value)
    assert threading.active_count() == threads_before  # the server thread is gone
