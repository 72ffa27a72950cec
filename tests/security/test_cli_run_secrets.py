"""A real CLI run (rotate, -vv, log file, trace): what it starts, what it writes, what it prints.

- no secret in the argv of any process the tool starts (an audit hook records every spawn);
- every file the tool writes is 0600 (journal, log, trace);
- a canary scan of stdout, stderr, log, trace, journal and syslog (a real UDP receiver) finds
  no password, CAK or private key.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from qkd_macsec.testbed.builder import Testbed
from support.syslog_receiver import Frame, SyslogReceiver

from .conftest import RunCli, Scan

AUDIT_PRELUDE = """
import json, os, sys, subprocess
_spawns = os.environ["SPAWN_LOG"]
def _hook(event, args):
    if event in ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.system"):
        argv = args[1] if event in ("subprocess.Popen", "os.exec", "os.posix_spawn") else args
        with open(_spawns, "a") as handle:
            handle.write(json.dumps([event, [str(a) for a in argv]]) + "\\n")
sys.addaudithook(_hook)
subprocess.run([sys.executable, "-c", "pass"], check=True)  # control: the hook sees spawns
"""


def test_cli_rotation_starts_writes_and_prints_no_secret(
    testbed: Testbed,
    run_cli: RunCli,
    scan: Scan,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spawn_log = tmp_path / "spawns.jsonl"
    log_file, trace = tmp_path / "out" / "tool.log", tmp_path / "out" / "trace.log"
    args = ["-i", str(testbed.inventory_path), "-vv", "--log-file", str(log_file)]
    args += ["--trace", str(trace)]
    syslog = SyslogReceiver("udp")
    args += ["--syslog", syslog.address]
    monkeypatch.setenv("SPAWN_LOG", str(spawn_log))
    try:
        runs = [
            run_cli("rotate", *args, prelude=AUDIT_PRELUDE),
            run_cli("rotate", "--force", *args, prelude=AUDIT_PRELUDE),
        ]
        for run in runs:
            assert run.returncode == 0, run.stdout + run.stderr
        # syslog got every rotation of both runs as a structured record
        links = [link.name for link in testbed.inventory.links]

        def every_rotation_logged(got: list[Frame]) -> bool:
            active = [f.params.get("link", "") for f in got if f.msgid == "ACTIVE"]
            return sorted(active) == sorted(links * 2)

        frames = syslog.wait_until(every_rotation_logged)
    finally:
        syslog.close()
    live = [f for f in frames if f.msgid == "ACTIVE"]
    assert sorted(f.params["link"] for f in live) == sorted(links * 2)
    assert all(f.severity == 5 and f.params.get("key_id") for f in live)  # notice

    # the scan works: it finds the CAKs on the routers themselves
    committed = testbed.lab.device("mx304-11").committed.to_set().encode()
    assert any(label.startswith("CAK") for label in scan(testbed, committed))

    spawns = [json.loads(line) for line in spawn_log.read_text().splitlines()]
    assert len(spawns) >= 2  # the control spawn of each run at least
    assert scan(testbed, json.dumps(spawns).encode()) == []

    journal = Path(testbed.inventory.policy.journal)
    written = [log_file, trace, journal]
    written += [p for p in journal.parent.iterdir() if p.name.startswith(journal.name + "-")]
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert trace.stat().st_size > 0
    assert log_file.stat().st_size > 0

    outputs = b"".join((r.stdout + r.stderr).encode() for r in runs)
    outputs += b"".join(path.read_bytes() for path in written)
    outputs += b"".join(syslog.frames)
    assert scan(testbed, outputs) == []
