"""FakeOS: a second platform that lives in the tests only (driver, renderer, parser, replies).

It proves the platform seam: registered from test code with :func:`registered`, it passes the
platform conformance test and rotates a link through the real engine without any edit outside
these files. ``KIT`` tells the conformance test where its recorded replies are and what they say.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from qkd_macsec.devices.base import MacsecBinding
from qkd_macsec.devices.platform import PLATFORMS, NameRules, Platform, register_platform
from qkd_macsec.macsec.suites import CipherSuite
from support.fake_platform import names
from support.fake_platform.device import FakeOsNetwork
from support.fake_platform.parse import parse_key_chain, parse_mka_sessions
from support.fake_platform.render import render
from support.platform_kit import PlatformKit, RecordedKeyChain, RecordedMka

NAME = "fakeos"
REPLIES = Path(__file__).parent / "replies"
LIVE_CKN = "abcd1234abcd5678abcd1234abcd5678" + "0" * 31 + "2"  # port1's primary, live


def fakeos_platform(network: FakeOsNetwork) -> Platform:
    return Platform(
        name=NAME,
        driver=network.driver,
        names=NameRules(
            interface=names.interface,
            interface_identity=names.identity,
            connectivity_association=names.ca,
            key_chain=names.key_chain,
            protocol=names.protocol,
            ckn_prefix=names.ckn_prefix,
            key_server_priority=names.key_server_priority,
            transmit_interval_ms=names.transmit_interval_ms,
        ),
        slots=names.SLOTS,
        default_port=2222,
        render=render,
        parse_key_chain=parse_key_chain,
        parse_mka_sessions=parse_mka_sessions,
    )


@contextlib.contextmanager
def registered(network: FakeOsNetwork | None = None) -> Iterator[FakeOsNetwork]:
    """FakeOS in the platform registry for the duration of the block."""
    network = network or FakeOsNetwork()
    register_platform(fakeos_platform(network))
    try:
        yield network
    finally:
        PLATFORMS.unregister(NAME)


@contextlib.contextmanager
def _kit_platform() -> Iterator[Platform]:
    with registered() as network:
        network.add("r1")
        yield PLATFORMS.get(NAME)


KIT = PlatformKit(
    platform=_kit_platform,
    binding=MacsecBinding("port1", "CA_p2p", CipherSuite.GCM_AES_XPN_256, "KC_p2p"),
    reachable_device="r1",
    key_chains=(
        RecordedKeyChain(REPLIES / "key_chain.txt", "KC_p2p", (0, 1)),
        RecordedKeyChain(REPLIES / "key_chain.txt", "KC_other", (4,)),
    ),
    mka=(
        RecordedMka(
            REPLIES / "mka_sessions.txt",
            {("port1", "abcd1234abcd5678abcd1234abcd5678" + "0" * 31 + "2")},
        ),
    ),
    malformed_key_chain="key-chain KC_p2p key one ckn zz start never",
)
