"""IOS XR's kit for the platform conformance test: the recorded replies in
``tests/unit/devices/fixtures/iosxr/`` (see the README there: which are verbatim Cisco examples,
which are transcriptions) and what they hold."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from qkd_macsec.devices.base import MacsecBinding
from qkd_macsec.devices.platform import Platform, get_platform
from qkd_macsec.macsec.suites import CipherSuite
from support.platform_kit import PlatformKit, RecordedKeyChain, RecordedMka

FIXTURES = Path(__file__).resolve().parent.parent / "unit" / "devices" / "fixtures" / "iosxr"
#: The CKN of the Cisco ASR 9000 guide's verification example (``mka_session_detail.txt``).
GUIDE_CKN = "10200000000000000000000000000000" + "0" * 32


@contextlib.contextmanager
def _iosxr() -> Iterator[Platform]:
    yield get_platform("iosxr")


KIT = PlatformKit(
    platform=_iosxr,
    binding=MacsecBinding(
        "HundredGigE0/0/0/1", "QKD_POLICY", CipherSuite.GCM_AES_XPN_256, "QKD_KC1"
    ),
    key_chains=(
        # transcription; both keys written with `infinite` (an operator's): nominal slots 0, 1
        RecordedKeyChain(FIXTURES / "key_chain_cfg.xml", "QKD_KC1", (0, 1)),
    ),
    mka=(
        RecordedMka(FIXTURES / "mka_session_detail.txt", {("Fo0/0/0/1/0", GUIDE_CKN)}),  # verbatim
        RecordedMka(FIXTURES / "mka_oper_reply.xml", {("FortyGigE0/0/0/1/0", GUIDE_CKN)}),
    ),
    malformed_key_chain="<rpc-reply><data><mac-sec-keychains><mac-sec-keychain>",
    #: IOS XR lifetimes end in 2035 (research §1.1): the far start of the read-back test.
    far_start=datetime(2035, 12, 31, 23, 59, 59),
)
