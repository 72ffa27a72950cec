"""`qkd-macsec kme example / serve / demo` as an operator runs them."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from qkd_macsec.cli import main
from qkd_macsec.etsi014.tls import TlsIdentity

CLI = [sys.executable, "-c", "from qkd_macsec.cli import main; main()"]


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return int(exited.value.code or 0)


def test_example_then_serve_until_sigterm(tmp_path: Path) -> None:
    main(["kme", "example", str(tmp_path)])
    key_mode = (tmp_path / "certs" / "mx304-11.key").stat().st_mode & 0o777
    assert key_mode == 0o600
    proc = subprocess.Popen(
        [*CLI, "kme", "serve", "--network", str(tmp_path / "network.yaml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        urls = dict(proc.stdout.readline().split() for _ in range(2))  # blocks until printed
        assert set(urls) == {"KME_A", "KME_B"}
        identity = TlsIdentity(
            tmp_path / "certs" / "mx304-11.pem",
            tmp_path / "certs" / "mx304-11.key",
            tmp_path / "certs" / "ca.pem",
        )
        with httpx.Client(verify=identity.ssl_context()) as sae:
            answer = sae.get(urls["KME_A"] + "/api/v1/keys/mx304-12/status")
        assert answer.status_code == 200
        assert answer.json()["target_KME_ID"] == "KME_B"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert proc.stderr is not None
        assert "stopped" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_serve_bad_network_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "network.yaml"
    bad.write_text("kmes:\n  - {id: KME_A, server_cert: a, server_key: b, ca: c, dialect: odd}\n")
    assert run(["kme", "serve", "--network", str(bad)]) == 2
    assert f"{bad}: kmes[0].dialect" in capsys.readouterr().err


def test_example_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["kme", "example", str(tmp_path)])
    assert run(["kme", "example", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    main(["kme", "example", "--force", "--dialect", "lenient", str(tmp_path)])
    assert "dialect: lenient" in (tmp_path / "network.yaml").read_text()


def test_demo_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["kme", "demo", str(tmp_path)])
    out = capsys.readouterr().out
    assert "keys equal: yes" in out
