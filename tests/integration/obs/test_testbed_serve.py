"""`python -m qkd_macsec.testbed.serve`: a testbed in its own process, asked questions on stdin."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import yaml

from qkd_macsec.inventory import load_inventory

DOC = {
    "version": 1,
    "defaults": {"user": "netconf", "password": {"env": "QKD_ROUTER_PASSWORD"}},
    "hosts": {
        "r0": {"host": "127.0.0.1", "kme": "KME_A", "tls": {"cert": "x.pem", "key": "x.key"}},
        "r1": {"host": "127.0.0.1", "kme": "KME_B", "tls": {"cert": "x.pem", "key": "x.key"}},
    },
    "kmes": {
        "KME_A": {"url": "https://127.0.0.1:1", "ca": "ca.pem"},
        "KME_B": {"url": "https://127.0.0.1:1", "ca": "ca.pem"},
    },
    "links": [
        {
            "name": "l0",
            "master": {"host": "r0", "interface": "et-0/0/0"},
            "slaves": [{"host": "r1", "interface": "et-0/0/0"}],
            "connectivity_association": "CA_l0",
            "key_chain": "KC_l0",
        }
    ],
}


def readline(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    box: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    assert box, "no reply from the testbed process"
    return box[0]


def test_serve_writes_the_inventory_and_answers_stats(tmp_path: Path) -> None:
    document = tmp_path / "doc.yaml"
    document.write_text(yaml.safe_dump(DOC))
    proc = subprocess.Popen(
        [sys.executable, "-m", "qkd_macsec.testbed.serve", str(document), str(tmp_path / "tb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None
    try:
        ready = json.loads(readline(proc))
        inventory = load_inventory(Path(ready["inventory"]))
        assert {h.port for h in inventory.hosts.values()} != {830}  # real, ephemeral ports
        assert all(k.url.startswith("https://127.0.0.1:") for k in inventory.kmes.values())

        proc.stdin.write("stats 0\n")
        proc.stdin.flush()
        stats = json.loads(readline(proc))
        assert stats["outage"] == {"l0": 0.0}
        assert stats["live"] == {"l0": False}  # no MACsec configured yet
        assert set(stats["commits"]) == {"r0", "r1"}

        proc.stdin.write("stats soon\n")
        proc.stdin.flush()
        assert "not an epoch time" in json.loads(readline(proc))["error"]
        proc.stdin.write("reboot\n")
        proc.stdin.flush()
        assert "unknown command" in json.loads(readline(proc))["error"]

        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        if proc.stdout is not None:
            proc.stdout.close()
