"""A CA server's login: the same SSH login the transfers use, its password in no repr."""

from __future__ import annotations

from pathlib import Path

from qkd_macsec.certs.renew import CaServer


def test_ca_server_login_carries_its_fields(tmp_path: Path) -> None:
    server = CaServer("ca.example", 2222, "pki", tmp_path / "kh", password="pw", ssh_key=None)
    login = server.login
    assert (login.host, login.port, login.user, login.known_hosts, login.password) == (
        "ca.example",
        2222,
        "pki",
        tmp_path / "kh",
        "pw",
    )


def test_ca_server_never_shows_its_password(tmp_path: Path) -> None:
    server = CaServer("ca.example", 22, "pki", tmp_path / "kh", password="hunter2-secret")
    assert "hunter2-secret" not in repr(server)
    assert "hunter2-secret" not in repr(server.login)
