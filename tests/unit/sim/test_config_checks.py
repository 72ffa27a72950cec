"""Commit checks: each rule accepts good input and reports bad input like Junos."""

from __future__ import annotations

import pytest

from qkd_macsec.sim.config import CommitCheckError, Configuration

CA = "set security macsec connectivity-association CA "
KC = "set security authentication-key-chains key-chain KC "
GOOD = (
    f"{CA}cipher-suite gcm-aes-xpn-256\n"
    f"{CA}security-mode static-cak\n"
    f"{CA}pre-shared-key ckn {'ab' * 32}\n"
    f"{CA}pre-shared-key cak {'cd' * 32}\n"
    f"{CA}mka key-server-priority 10\n"
    f"{CA}mka transmit-interval 2000\n"
    "set security macsec interfaces et-0/0/9 connectivity-association CA\n"
    "set system static-host-mapping kme inet 192.0.2.1\n"
    "set event-options generate-event every10mins time-interval 600\n"
)
CHAIN = (
    "set security macsec connectivity-association CC cipher-suite gcm-aes-256\n"
    "set security macsec connectivity-association CC pre-shared-key-chain KC\n"
    "set security macsec interfaces et-0/0/10 connectivity-association CC\n"
    f"{KC}tolerance 30\n"
    f"{KC}key 0 key-name 01\n"
    f"{KC}key 0 secret {'11' * 32}\n"
    f'{KC}key 0 start-time "2026-11-26.10:15:00"\n'
    f"{KC}key 63 key-name 02\n"
    f"{KC}key 63 secret {'22' * 16}\n"
    f"{KC}key 63 start-time 2026-11-26.10:25\n"
)


def _findings(extra: str, base: str = GOOD + CHAIN) -> list[CommitCheckError]:
    return Configuration.from_set(base + extra).check()


def test_good_config_passes_including_short_cak() -> None:
    short = f"{CA}pre-shared-key cak 0123\n"  # Junos zero-fills a short CAK: not refused
    assert _findings(short) == []


@pytest.mark.parametrize(
    ("extra", "path", "needle"),
    [
        (f"{CA}pre-shared-key ckn abc\n", "connectivity-association CA pre-shared-key", "even"),
        (f"{CA}pre-shared-key ckn {'a' * 66}\n", "pre-shared-key", "from 2 to 64"),
        (f"{CA}pre-shared-key ckn xyz0\n", "pre-shared-key", "hexadecimal"),
        (f"{CA}pre-shared-key cak {'a' * 66}\n", "pre-shared-key", "longer than cipher-suite"),
        (f"{CA}pre-shared-key cak zz\n", "pre-shared-key", "CAK must be"),
        (f"{KC}key 64 key-name 03\n", "key-chain KC key 64", "out of range (0..63)"),
        (f"{KC}key x key-name 03\n", "key-chain KC key x", "out of range"),
        (f'{KC}key 5 start-time "2026-11-26 10:15"\n', "key 5", "start-time"),
        (f'{KC}key 5 start-time "2026-11-26.10:15"\n', "key 5", "already used by key 0"),
        (f"{KC}key 5 key-name 0x\n", "key 5", "hexadecimal"),
        (f"{KC}tolerance soon\n", "key-chain KC", "tolerance"),
        (
            "set security macsec interfaces et-0/0/11 connectivity-association NOPE\n",
            "interfaces et-0/0/11",
            "connectivity-association NOPE is not defined",
        ),
        (f"{CA}pre-shared-key-chain NOKC\n", "connectivity-association CA", "not defined"),
        (f"{CA}pre-shared-key-chain KC\n", "connectivity-association CA", "mutually exclusive"),
        (f"{KC}key 7 start-time 2026-11-26.11:00\n", "key 7", "key-name is required"),
        (f"{CA}mka key-server-priority 256\n", "CA mka", "key-server-priority"),
        (f"{CA}mka transmit-interval 10\n", "CA mka", "transmit-interval"),
        ("set system static-host-mapping bad inet 300.1.1.1\n", "static-host-mapping bad", "inet"),
        ("set event-options generate-event e time-interval 5\n", "generate-event e", "60.."),
        ("set event-options generate-event e start-time x\n", "generate-event e", "start-time"),
    ],
)
def test_each_rule_reports_a_located_error(extra: str, path: str, needle: str) -> None:
    found = _findings(extra)
    assert found, "expected a commit-check error"
    assert any(path in (e.path or "") and needle in e.message for e in found), [
        str(e) for e in found
    ]


def test_pre_shared_key_needs_both_ckn_and_cak() -> None:
    found = Configuration.from_set(
        f"{CA}pre-shared-key ckn 0a0a\nset security macsec connectivity-association D "
        "pre-shared-key cak 0b0b\n"
    ).check()
    assert [e.message for e in found] == [
        "pre-shared-key needs both ckn and cak",
        "pre-shared-key needs both ckn and cak",
    ]


def test_static_cak_mode_needs_a_key() -> None:
    found = Configuration.from_set(f"{CA}security-mode static-cak\n").check()
    assert [e.message for e in found] == [
        "security-mode static-cak needs pre-shared-key or pre-shared-key-chain"
    ]


def test_messages_never_contain_secrets() -> None:
    canary = "c0ffee" * 11  # too long for any suite: reported, but never echoed
    found = Configuration.from_set(
        f"{CA}pre-shared-key ckn 0a0a\n{CA}pre-shared-key cak {canary}\n"
        f"{CA}pre-shared-key-chain KC\n{KC}key 1 secret {canary}\n"
    ).check()
    assert len(found) >= 3
    for err in found:
        assert "c0ffee" not in str(err)
        assert "c0ffee" not in repr(err)


def test_error_string_names_the_edit_path() -> None:
    (err,) = Configuration.from_set(
        "set security macsec interfaces et-0/0/1 connectivity-association X\n"
    ).check()
    assert str(err) == (
        "[edit security macsec interfaces et-0/0/1]: connectivity-association X is not defined"
    )
