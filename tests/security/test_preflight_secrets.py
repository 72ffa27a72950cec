"""`preflight -vv --trace --consume-key` after a rotation: the routers hold CAKs (preflight
reads their key chains and MACsec configuration) and a real key is fetched, yet nothing secret
reaches stdout, stderr or the trace."""

from __future__ import annotations

from pathlib import Path

from qkd_macsec.testbed.builder import Testbed

from .conftest import RunCli, Scan


def test_preflight_prints_and_traces_no_secret(
    testbed: Testbed, run_cli: RunCli, scan: Scan, tmp_path: Path
) -> None:
    rotated = run_cli("rotate", "-i", str(testbed.inventory_path))
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    committed = testbed.lab.device("mx304-11").committed.to_set().encode()
    assert any(label.startswith("CAK") for label in scan(testbed, committed))  # scan works

    trace = tmp_path / "preflight-trace.log"
    args = ["-i", str(testbed.inventory_path), "-vv", "--trace", str(trace), "--consume-key"]
    runs = [run_cli("preflight", *args), run_cli("preflight", "--json", "--all", *args)]
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
    assert trace.stat().st_size > 0
    outputs = b"".join((r.stdout + r.stderr).encode() for r in runs) + trace.read_bytes()
    assert scan(testbed, outputs) == []
