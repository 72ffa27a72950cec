"""Junos' kit for the platform conformance test: its recorded real-device replies
(``tests/unit/devices/fixtures/junos/``, see the README there) and what they hold."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from qkd_macsec.devices.base import MacsecBinding
from qkd_macsec.devices.platform import Platform, get_platform
from qkd_macsec.macsec.suites import CipherSuite
from support.platform_kit import PlatformKit, RecordedKeyChain, RecordedMka

FIXTURES = Path(__file__).resolve().parent.parent / "unit" / "devices" / "fixtures" / "junos"
CKN_2_0_2 = "3f5af4e5f616c6c7b35d5eab3652326ec51abe3d5654ddf2ce0112a4093ef8ff"
LIVE = {("et-2/0/0", "badc0ffe01"), ("et-2/0/2", CKN_2_0_2)}  # both interfaces, primary


@contextlib.contextmanager
def _junos() -> Iterator[Platform]:
    yield get_platform("junos")


KIT = PlatformKit(
    platform=_junos,
    binding=MacsecBinding("et-0/0/9", "CA_core", CipherSuite.GCM_AES_XPN_256, "KC_core"),
    key_chains=(
        RecordedKeyChain(FIXTURES / "key_chain_set.txt", "QKD_CA9", (13, 14, 15)),
        RecordedKeyChain(FIXTURES / "key_chain_set.txt", "QKD_CA1", (3,)),
        RecordedKeyChain(FIXTURES / "key_chain.xml", "QKD_CA9", (13, 14, 15)),
    ),
    mka=(
        RecordedMka(
            FIXTURES / "mka_brief.txt", {("et-2/0/0", "badc0ffe01"), ("et-2/0/2", CKN_2_0_2)}
        ),
        RecordedMka(
            FIXTURES / "mka_brief.xml", {("et-2/0/0", "badc0ffe01"), ("et-2/0/2", CKN_2_0_2)}
        ),
        RecordedMka(
            FIXTURES / "mka_detail.xml", {("et-2/0/0", "badc0ffe01"), ("et-2/0/2", CKN_2_0_2)}
        ),
    ),
    malformed_key_chain="<configuration><security><authentication-key-chains>",
)
