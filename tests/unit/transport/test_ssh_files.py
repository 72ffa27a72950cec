"""SSH file copies: modes from creation, paths kept inside the destination, no unverified hosts,
no password in a repr."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from qkd_macsec.transport.ssh_files import (
    RemoteFile,
    SshLogin,
    TransferError,
    _stage,
    download,
    upload,
)


def test_stage_writes_each_file_with_its_mode(tmp_path: Path) -> None:
    top = _stage(tmp_path, RemoteFile("/var/home/remote", "qkd/certs/a.key", b"k", 0o600))
    assert top == tmp_path / "qkd"
    key = tmp_path / "qkd" / "certs" / "a.key"
    assert key.read_bytes() == b"k"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "qkd").stat().st_mode) == 0o700


@pytest.mark.parametrize("path", ["", "../etc/passwd", "a/../../b", "./"])
def test_paths_must_stay_inside_the_destination(tmp_path: Path, path: str) -> None:
    with pytest.raises(TransferError, match="not a relative path"):
        _stage(tmp_path, RemoteFile("/var/tmp", path, b""))


def test_upload_refuses_without_known_hosts(tmp_path: Path) -> None:
    login = SshLogin("127.0.0.1", 22, "u", tmp_path / "missing_known_hosts")
    with pytest.raises(TransferError, match="known_hosts"):
        upload(login, [RemoteFile("/var/tmp", "x", b"")])


def test_download_refuses_without_known_hosts(tmp_path: Path) -> None:
    login = SshLogin("127.0.0.1", 22, "u", tmp_path / "missing_known_hosts")
    with pytest.raises(TransferError, match="known_hosts"):
        download(login, ["ca/ca.pem"])


def test_a_login_never_shows_its_password(tmp_path: Path) -> None:
    login = SshLogin("127.0.0.1", 22, "u", tmp_path / "known_hosts", password="hunter2-secret")
    assert "hunter2-secret" not in repr(login)
    assert "127.0.0.1" in repr(login)
