"""NX-OS's kit for the platform conformance test: the recorded replies in
``tests/unit/devices/fixtures/nxos/`` (see the README there: the MKA captures are verbatim Cisco
parser test data, the running-config is a transcription of the documented grammar) and what
they hold."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from qkd_macsec.devices.base import MacsecBinding
from qkd_macsec.devices.platform import Platform, get_platform
from qkd_macsec.macsec.suites import CipherSuite
from support.platform_kit import PlatformKit, RecordedKeyChain, RecordedMka

FIXTURES = Path(__file__).resolve().parent.parent / "unit" / "devices" / "fixtures" / "nxos"


@contextlib.contextmanager
def _nxos() -> Iterator[Platform]:
    yield get_platform("nxos")


KIT = PlatformKit(
    platform=_nxos,
    binding=MacsecBinding("Ethernet1/1", "QKD_POLICY", CipherSuite.GCM_AES_XPN_256, "QKD_KC1"),
    key_chains=(
        # transcription: our keys carry slots 1 and 2 in their durations (86401, 126144002)
        RecordedKeyChain(FIXTURES / "running_config_keychain.txt", "QKD_KC1", (1, 2)),
        # the community example's lifetime [S21]: duration 100000 carries slot 0
        RecordedKeyChain(FIXTURES / "running_config_keychain.txt", "KC1", (0,)),
        # an operator's keys (infinite, no lifetime): nominal slots in start order
        RecordedKeyChain(FIXTURES / "running_config_keychain.txt", "OPERATOR_KC", (0, 1)),
    ),
    mka=(
        # verbatim (Cisco genieparser captures): the details form names the CKN
        RecordedMka(FIXTURES / "mka_session_details.txt", {("Ethernet1/97/2", "10100000")}),
        RecordedMka(FIXTURES / "mka_session_details_two.txt", {("Ethernet1/97/2", "10100000")}),
        # the brief table prints no CKN
        RecordedMka(FIXTURES / "mka_session.txt", {("Ethernet1/97/2", "")}),
    ),
    malformed_key_chain="key chain QKD_KC1 macsec\n  key 10Z\n",
)
