"""paramiko adjustments for the SSH posture: AES-256 first, the agreed kex remembered."""

from __future__ import annotations

from typing import Any, ClassVar

from qkd_macsec.devices.ssh_posture import (
    prefer_aes256_ciphers,
    record_negotiated_kex,
    ssh_posture,
)


class _Engine:
    def __init__(self, transport: Any) -> None:
        self.transport = transport


class FakeTransport:
    _preferred_ciphers: ClassVar[tuple[str, ...]] = (
        "aes128-ctr",
        "aes192-ctr",
        "aes256-ctr",
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
    )
    _kex_info: ClassVar[dict[str, Any]] = {"curve25519-sha256@libssh.org": _Engine}


def test_aes256_goes_first_and_nothing_is_added_or_lost() -> None:
    before = set(FakeTransport._preferred_ciphers)
    prefer_aes256_ciphers(FakeTransport)
    prefer_aes256_ciphers(FakeTransport)  # idempotent
    after = FakeTransport._preferred_ciphers
    assert after[:2] == ("aes256-gcm@openssh.com", "aes256-ctr")
    assert set(after) == before
    assert len(after) == len(before)
    assert after[2:] == ("aes128-ctr", "aes192-ctr", "aes128-gcm@openssh.com")


def test_the_kex_engine_factory_notes_its_name_on_the_transport() -> None:
    record_negotiated_kex(FakeTransport)
    record_negotiated_kex(FakeTransport)  # idempotent: not wrapped twice
    factory = FakeTransport._kex_info["curve25519-sha256@libssh.org"]
    assert factory.engine_class is _Engine

    class Session:
        local_cipher = "aes256-ctr"
        local_mac = "hmac-sha2-256-etm@openssh.com"
        remote_version = "SSH-2.0-Junos"

    session = Session()
    engine = factory(session)
    assert isinstance(engine, _Engine)
    posture = ssh_posture(session, "r1")
    assert posture.kex == "curve25519-sha256@libssh.org"
    assert not posture.pq
    assert posture.mac == "hmac-sha2-256-etm@openssh.com"
    assert posture.aes256


def test_an_aead_cipher_reports_no_mac_and_unknown_kex_is_classical() -> None:
    class Session:
        local_cipher = "aes256-gcm@openssh.com"
        local_mac = "hmac-sha2-256"
        remote_version = ""

    posture = ssh_posture(Session(), "r2")
    assert posture.mac is None
    assert posture.kex is None
    assert posture.version is None
    assert not posture.pq
