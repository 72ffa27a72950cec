"""Shared inputs for the simulator config/fabric unit tests."""

from __future__ import annotations

import pytest

# Test files cannot import this module (importlib mode): they get these through fixtures.
CKN_A = "abcd1234abcd5678abcd1234abcd5678" + "11" * 16
CAK_A = "a1" * 32

_SEED_LINES = [
    "set security macsec connectivity-association CA1 cipher-suite gcm-aes-xpn-256",
    "set security macsec connectivity-association CA1 security-mode static-cak",
    f"set security macsec connectivity-association CA1 pre-shared-key ckn {CKN_A}",
    f"set security macsec connectivity-association CA1 pre-shared-key cak {CAK_A}",
    "",
    "set security macsec interfaces et-0/0/9 apply-macro qkd kme-ca false",
    "set security macsec interfaces et-0/0/9 apply-macro qkd kme-host kme-a.example.net",
    "set security macsec interfaces et-0/0/9 apply-macro qkd kme-port 443",
    "set security macsec interfaces et-0/0/9 connectivity-association CA1",
    "set security macsec interfaces et-0/0/9 apply-macro qkd kme-keyid-check true",
    "set system static-host-mapping kme-a.example.net inet 192.0.2.10",
    "set system static-host-mapping mx304-11 inet 192.0.2.11",
    "# devices must be in sync with NTP",
    "set event-options generate-event every10mins time-interval 600"
    ' start-time "2026-11-26.10:15:00"',
    "set event-options policy qkd events every10mins",
    "set event-options policy qkd then event-script onbox.py",
    "set event-options event-script file onbox.py python-script-user remote",
    "set event-options traceoptions file script.log",
    "set event-options traceoptions file size 10m",
]
#: The seed's MACsec, host-mapping and event-options lines, placeholders filled in, with the
#: seed's trailing blanks and comment line.
SEED_SET = "\n".join(line + "  " for line in _SEED_LINES) + "\n"


@pytest.fixture
def seed_set() -> str:
    return SEED_SET


@pytest.fixture
def seed_ckn() -> str:
    return CKN_A


@pytest.fixture
def seed_cak() -> str:
    return CAK_A
