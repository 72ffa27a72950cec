"""One key, one CKN and one CAK on every end of a Junos ↔ IOS XR link: both ends' rendered
configurations (unmasked, as a commit loads them) carry the same CKN and CAK, the IOS XR end
spelling them upper-case being the only difference (hex is case-free; MKA uses the bytes)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from qkd_macsec.devices.base import ChangeSet, KeyChainEntry, StaticKey
from qkd_macsec.devices.platform import get_platform
from qkd_macsec.engine.controller import bindings_for, link_specs
from qkd_macsec.inventory import load_inventory
from qkd_macsec.macsec.keys import derive_macsec_key
from qkd_macsec.secret import Secret

WriteInventory = Callable[[dict[str, Any] | str], Path]
QKD_KEY = bytes(range(7, 7 + 32))
KEY_ID = str(uuid.UUID("3f1c2a90-5b7e-4d21-9c3a-0e8f6a1b2c3d"))


def mixed(doc: dict[str, Any], mode: str) -> dict[str, Any]:
    doc["hosts"]["mx304-12"]["platform"] = "iosxr"
    doc["links"] = doc["links"][:1]
    link = doc["links"][0]
    link["slaves"] = [{"host": "mx304-12", "interface": "HundredGigE0/0/0/1"}]
    link["mka"] = {"key_server_priority": 16}
    if mode == "pre-shared-key":
        link["mode"] = mode
        link.pop("key_chain")
    return doc


def junos_ckn_cak(text: str) -> tuple[str, str]:
    ckn = re.findall(r"(?:key-name|ckn) ([0-9A-Fa-f]+)", text)
    cak = re.findall(r"(?:secret|cak) ([0-9A-Fa-f]+)", text)
    assert len(ckn) == 1, text
    assert len(cak) == 1, text
    return ckn[0], cak[0]


def iosxr_ckn_cak(text: str) -> tuple[str, str]:
    root = etree.fromstring(text.encode())
    (key,) = root.iter("{*}key")
    ckn = key.findtext("{*}key-id")
    cak = key.findtext("{*}key-string/{*}string")
    assert ckn, text
    assert cak, text
    return ckn, cak


@pytest.mark.parametrize("mode", ["key-chain", "pre-shared-key"])
def test_both_ends_carry_one_ckn_and_one_cak(
    write_inventory: WriteInventory, doc: dict[str, Any], mode: str
) -> None:
    inventory = load_inventory(write_inventory(mixed(doc, mode)))
    (link,) = link_specs(inventory)
    key = derive_macsec_key(
        Secret(QKD_KEY), KEY_ID, link.suite, ckn_prefix=link.ckn_prefix, ckn_mode=link.ckn_mode
    )
    rendered: dict[str, str] = {}
    for end in link.ends:
        changes = ChangeSet(bindings=list(bindings_for(inventory, link, end)))
        if mode == "key-chain":
            assert link.key_chain is not None
            changes.add_entries.append(
                KeyChainEntry(link.key_chain, 1, key.ckn, key.cak, datetime(2030, 1, 1), link.suite)
            )
        else:
            changes.static_keys.append(StaticKey(link.ca, key.ckn, key.cak, link.suite))
        platform = get_platform(inventory.host(end.device).platform)
        rendered[platform.name] = platform.render(changes, False)

    junos_ckn, junos_cak = junos_ckn_cak(rendered["junos"])
    xr_ckn, xr_cak = iosxr_ckn_cak(rendered["iosxr"])
    assert junos_ckn == key.ckn  # the engine's CKN, lower-case on Junos
    assert junos_cak == key.cak.reveal().hex()
    assert xr_ckn == key.ckn.upper()  # the same CKN, upper-case as the IOS XR CLI stores it
    assert xr_cak == key.cak.reveal().hex().upper()
    assert junos_ckn != xr_ckn
    assert junos_ckn.lower() == xr_ckn.lower()
    assert bytes.fromhex(junos_cak) == bytes.fromhex(xr_cak)  # one CAK
    assert len(xr_ckn) == len(link.ckn_prefix) + 32 <= get_platform("iosxr").limits.max_ckn_hex
