"""A CA server is an SSH login (the one the transfers use) plus where the CA files are; its
password shows in no repr."""

from __future__ import annotations

from pathlib import Path

from qkd_macsec.certs.renew import CaServer
from qkd_macsec.transport.ssh_files import SshLogin


def test_ca_server_is_a_login_with_file_paths(tmp_path: Path) -> None:
    server = CaServer(
        "ca.example", 2222, "pki", tmp_path / "kh", "pw", None, "ca/x.pem", "ca/x.key"
    )
    assert isinstance(server, SshLogin)
    assert (server.host, server.port, server.user, server.known_hosts, server.password) == (
        "ca.example",
        2222,
        "pki",
        tmp_path / "kh",
        "pw",
    )
    assert (server.cert_path, server.key_path) == ("ca/x.pem", "ca/x.key")
    assert CaServer("h", 22, "u", tmp_path / "kh").cert_path == "ca/ca.pem"


def test_ca_server_never_shows_its_password(tmp_path: Path) -> None:
    server = CaServer("ca.example", 22, "pki", tmp_path / "kh", password="hunter2-secret")
    assert "hunter2-secret" not in repr(server)
    assert "ca.example" in repr(server)
