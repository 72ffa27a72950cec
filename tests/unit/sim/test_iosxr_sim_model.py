"""The IOS XR simulator refuses what the research note says a router refuses, and keeps what a
router keeps (key IDs not case-folded over NETCONF, secrets never read back)."""

from __future__ import annotations

from datetime import datetime

import pytest
from lxml import etree

from qkd_macsec.devices.base import ChangeSet, KeyChainEntry
from qkd_macsec.devices.iosxr_parse import parse_key_chain
from qkd_macsec.devices.iosxr_render import render
from qkd_macsec.secret import Secret
from qkd_macsec.sim.iosxr.device import IosxrSimDevice, LockError
from qkd_macsec.sim.iosxr.model import EditError, XrConfig, apply_edit, to_xml

CAK = bytes(range(0x10, 0x30))
CKN = "0a" * 32


def edit_of(changes: ChangeSet) -> etree._Element:
    return etree.fromstring(render(changes, False, {}).encode())


def entry(start: datetime = datetime(2026, 12, 1, 7)) -> KeyChainEntry:
    return KeyChainEntry("KC", 1, CKN, Secret(CAK), start)


def test_what_the_renderer_writes_the_simulator_keeps_and_reads_back_without_secret() -> None:
    config = apply_edit(XrConfig(), edit_of(ChangeSet(add_entries=[entry()])))
    (top,) = to_xml(config, {"mac-sec-keychains"})
    text = etree.tostring(top, encoding="unicode")
    assert CAK.hex() not in text.lower()
    assert [(e.slot, e.ckn) for e in parse_key_chain(text, "KC")] == [(1, CKN)]


@pytest.mark.parametrize(
    ("find", "replace_with"),
    [
        (CKN.upper(), "ABC"),  # odd length
        ("<start-year>2026", "<start-year>2036"),  # past the model's range
        ("aes-256-cmac", "aes-512-cmac"),
        (CAK.hex().upper(), CAK.hex().upper()[:-2]),  # does not fit the algorithm
    ],
)
def test_edits_a_router_refuses_are_refused(find: str, replace_with: str) -> None:
    text = render(ChangeSet(add_entries=[entry()]), False, {})
    assert find in text
    with pytest.raises(EditError):
        apply_edit(XrConfig(), etree.fromstring(text.replace(find, replace_with).encode()))


def test_key_ids_are_not_case_folded_over_netconf() -> None:
    text = render(ChangeSet(add_entries=[entry()]), False, {})
    config = apply_edit(XrConfig(), etree.fromstring(text.encode()))
    config = apply_edit(config, etree.fromstring(text.replace(CKN.upper(), CKN).encode()))
    assert sorted(config.chains["KC"]) == [CKN.upper(), CKN]  # two keys, as the guide warns


def test_the_candidate_lock_excludes_other_sessions() -> None:
    router = IosxrSimDevice("xr", user="u", password="p")
    router.lock(1)
    with pytest.raises(LockError):
        router.edit(2, edit_of(ChangeSet(add_entries=[entry()])))
    router.edit(1, edit_of(ChangeSet(add_entries=[entry()])))
    router.session_ended(1)  # uncommitted changes go with the session
    assert router.candidate == router.running == XrConfig()
    assert router.lock_owner is None
