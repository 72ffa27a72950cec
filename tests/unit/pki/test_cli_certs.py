"""`qkd-macsec certs init / issue / check` through the real entry point."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from qkd_macsec.cli import main
from qkd_macsec.pki import common_name, create_ca, issue_client_cert, load_certificate, save_issued
from qkd_macsec.pki.ca import save_ca


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    code = exited.value.code
    return 0 if code is None else int(code)


def test_init_issue_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca_dir = tmp_path / "pki"
    main(["certs", "init", str(ca_dir)])
    assert stat.S_IMODE((ca_dir / "ca.key").stat().st_mode) == 0o600
    main(["certs", "issue", "--ca", str(ca_dir), "--sae", "mx304-11"])
    main(
        [
            "certs",
            "issue",
            "--ca",
            str(ca_dir),
            "--server",
            "kme-a",
            "--san",
            "127.0.0.1,::1",
            "--san",
            "kme-a.lab",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    sae = load_certificate(ca_dir / "mx304-11.pem")
    assert common_name(sae) == "mx304-11"
    assert stat.S_IMODE((ca_dir / "mx304-11.key").stat().st_mode) == 0o600
    server = load_certificate(tmp_path / "out" / "kme-a.pem")
    assert common_name(server) == "kme-a"
    assert ExtendedKeyUsageOID.SERVER_AUTH.dotted_string in str(server.extensions)
    capsys.readouterr()
    main(["certs", "check", str(ca_dir / "mx304-11.pem"), str(tmp_path / "out" / "kme-a.pem")])
    out = capsys.readouterr().out
    assert "mx304-11: ok, 39" in out  # 397 days
    assert "kme-a: ok" in out


def test_check_fails_when_expiring(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = create_ca()
    save_issued(issue_client_cert(ca, "soon", 10), tmp_path / "soon.pem", tmp_path / "soon.key")
    assert run(["certs", "check", str(tmp_path / "soon.pem")]) == 1
    captured = capsys.readouterr()
    assert "expiring" in captured.out
    assert "within 30 days" in captured.err
    main(["certs", "check", "--warn-days", "5", str(tmp_path / "soon.pem")])  # passes


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca_dir = tmp_path / "pki"
    save_ca(create_ca(), ca_dir)
    assert run(["certs", "init", str(ca_dir)]) == 2  # refuses to overwrite
    assert run(["certs", "issue", "--ca", str(ca_dir)]) == 2  # neither --sae nor --server
    assert run(["certs", "issue", "--ca", str(ca_dir), "--sae", "x", "--server", "y"]) == 2
    assert run(["certs", "issue", "--ca", str(ca_dir), "--sae", "x" * 80]) == 2
    assert run(["certs", "issue", "--ca", str(tmp_path), "--sae", "x"]) == 2  # no CA there
    assert run(["certs", "check", str(tmp_path / "nope.pem")]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err
    assert "exactly one of --sae" in err
    assert "nope.pem" in err


def test_sae_ids_become_safe_file_names(tmp_path: Path) -> None:
    ca_dir = tmp_path / "pki"
    save_ca(create_ca(), ca_dir)
    main(["certs", "issue", "--ca", str(ca_dir), "--sae", "../evil/sae"])
    assert common_name(load_certificate(ca_dir / "_evil_sae.pem")) == "../evil/sae"
    assert not (tmp_path / "evil").exists()
