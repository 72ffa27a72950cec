"""`qkd-macsec sim serve`: a real subprocess, reachable with PyEZ, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from jnpr.junos import Device

from qkd_macsec.cli import main

LAB = """
devices:
  - name: edge-1
    user: ops
    password_env: QKD_SIM_CLI_PW
  - name: edge-2
    user: ops
    password_env: QKD_SIM_CLI_PW
links:
  - {a: "edge-1:et-0/0/0", b: "edge-2:et-0/0/0"}
"""


def _lines(stream: object, out: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        out.put(line.rstrip("\n"))


def test_serve_prints_ports_and_stops_on_sigterm(tmp_path: Path) -> None:
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(LAB)
    env = {**os.environ, "QKD_SIM_CLI_PW": "cli-Pw-31337"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from qkd_macsec.cli import main; main()",
            "sim",
            "serve",
            "--lab",
            str(lab_file),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    try:
        seen: list[str] = []
        while not seen or seen[-1] != "ready":
            seen.append(lines.get(timeout=30))
        ports = {
            line.split()[0]: int(line.split(":")[-1]) for line in seen if line.startswith("edge-")
        }
        assert set(ports) == {"edge-1", "edge-2"}
        assert f"known_hosts: {tmp_path / 'state' / 'known_hosts'}" in seen
        assert "cli-Pw-31337" not in " ".join(seen)
        with Device(
            "127.0.0.1",
            port=ports["edge-2"],
            user="ops",
            password="cli-Pw-31337",
            gather_facts=False,
        ) as dev:
            assert dev.rpc.get_software_information().findtext("host-name") == "edge-2"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        reader.join(timeout=5)
        rest = []
        while not lines.empty():
            rest.append(lines.get_nowait())
        assert "stopped" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()
        assert proc.stdout is not None
        proc.stdout.close()


def test_serve_bad_lab_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text("devices: [{name: r1}]\n")
    with pytest.raises(SystemExit) as excinfo:
        main(["sim", "serve", "--lab", str(lab_file)])
    assert excinfo.value.code == 2
    assert "give password" in capsys.readouterr().err
