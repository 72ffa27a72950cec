"""The IOS XR simulator's configuration: MACsec key chains, policies and interface bindings,
edited by ``edit-config`` (merge; ``remove``/``delete`` on a key, ``replace`` on a chain) and
read by ``get-config`` with a subtree filter, in the models ``devices/iosxr_render`` names.

What a real router would refuse is refused here too, as far as the research note says
(``docs/vendors-research.md`` §1): a key ID that is not even-length hex of at most 64 digits,
a CMAC algorithm other than aes-128-cmac / aes-256-cmac or one that does not fit the key
string, a lifetime year outside 1993..2035. Key IDs are NOT case-folded (NETCONF does not fold
them, [S2]). Secrets read back as a type-7-like token, never the key string itself.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

__all__ = [
    "EditError",
    "XrConfig",
    "XrKey",
    "apply_edit",
    "to_xml",
]

KEYCHAIN_NS = "http://cisco.com/ns/yang/Cisco-IOS-XR-lib-keychain-macsec-cfg"
POLICY_NS = "http://cisco.com/ns/yang/Cisco-IOS-XR-um-macsec-cfg"
IFMGR_NS = "http://cisco.com/ns/yang/Cisco-IOS-XR-ifmgr-cfg"
MKA_IF_NS = "http://cisco.com/ns/yang/Cisco-IOS-XR-crypto-macsec-mka-if-cfg"
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
ALGORITHMS = {"aes-128-cmac": 32, "aes-256-cmac": 64}  # key-string hex digits
_KEY_ID = re.compile(r"(?:[0-9A-Fa-f]{2}){1,32}")


class EditError(ValueError):
    """An edit the router refuses (``tag``: the NETCONF error-tag)."""

    def __init__(self, message: str, tag: str = "invalid-value") -> None:
        super().__init__(message)
        self.tag = tag


@dataclass(frozen=True)
class XrKey:
    cak_hex: str = field(repr=False)
    algorithm: str
    start: datetime | None = None  # naive wall clock of the router's zone
    lifetime_s: int | None = None  # None: infinite


@dataclass
class XrConfig:
    chains: dict[str, dict[str, XrKey]] = field(default_factory=dict)
    policies: dict[str, dict[str, str]] = field(default_factory=dict)
    bindings: dict[str, tuple[str, str]] = field(default_factory=dict)  # iface → (chain, policy)

    def copy(self) -> XrConfig:
        return copy.deepcopy(self)


def _local(node: etree._Element) -> str:
    return str(etree.QName(node).localname)


def _child_text(node: etree._Element, name: str) -> str | None:
    for child in node:
        if isinstance(child.tag, str) and _local(child) == name:
            return (child.text or "").strip()
    return None


def _child(node: etree._Element, name: str) -> etree._Element | None:
    for child in node:
        if isinstance(child.tag, str) and _local(child) == name:
            return child
    return None


def _children(node: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in node if isinstance(c.tag, str) and _local(c) == name]


def _operation(node: etree._Element) -> str:
    for name, value in node.attrib.items():
        if etree.QName(name).localname == "operation":
            return str(value)
    return "merge"


def _number(node: etree._Element, name: str, low: int, high: int) -> int:
    text = _child_text(node, name)
    if text is None or not text.isdigit() or not low <= int(text) <= high:
        raise EditError(f"'{name}' {text!r} is outside {low}..{high}")
    return int(text)


def _lifetime(node: etree._Element) -> tuple[datetime, int | None]:
    month = _child_text(node, "start-month")
    if month not in MONTHS:
        raise EditError(f"'start-month' {month!r} is not jan..dec")
    try:
        start = datetime(
            _number(node, "start-year", 1993, 2035),
            MONTHS.index(month) + 1,
            _number(node, "start-date", 1, 31),
            _number(node, "start-hour", 0, 23),
            _number(node, "start-minutes", 0, 59),
            _number(node, "start-seconds", 0, 59),
        )
    except ValueError:
        raise EditError("the lifetime start is not a date") from None
    if _child_text(node, "infinite-flag") == "true":
        return start, None
    if _child_text(node, "life-time") is not None:
        return start, _number(node, "life-time", 1, 2147483647)
    raise EditError("a lifetime needs an end: 'life-time' or 'infinite-flag'", "missing-element")


def _edit_key(keys: dict[str, XrKey], node: etree._Element) -> None:
    key_id = _child_text(node, "key-id")
    if key_id is None or not _KEY_ID.fullmatch(key_id):
        raise EditError(f"key-id {key_id!r} is not even-length hex of 2..64 digits")
    operation = _operation(node)
    if operation in ("remove", "delete"):
        if key_id not in keys and operation == "delete":
            raise EditError(f"key {key_id} does not exist", "data-missing")
        keys.pop(key_id, None)
        return
    old = keys.get(key_id)
    string = _child(node, "key-string")
    if string is None and old is None:
        raise EditError(f"key {key_id} needs a key-string", "missing-element")
    cak, algorithm = (old.cak_hex, old.algorithm) if old is not None else ("", "")
    if string is not None:
        cak = _child_text(string, "string") or ""
        algorithm = _child_text(string, "cryptographic-algorithm") or ""
        if algorithm not in ALGORITHMS:
            raise EditError(f"cryptographic-algorithm {algorithm!r} is not supported")
        if len(cak) != ALGORITHMS[algorithm] or not re.fullmatch(r"[0-9A-Fa-f]+", cak):
            raise EditError(f"the key-string does not fit {algorithm}")
    start, life = (old.start, old.lifetime_s) if old is not None else (None, None)
    lifetime = _child(node, "lifetime")
    if lifetime is not None:
        start, life = _lifetime(lifetime)
    keys[key_id] = XrKey(cak, algorithm, start, life)


def apply_edit(config: XrConfig, edit: etree._Element) -> XrConfig:
    """``config`` with ``edit`` (the ``<config>`` element) merged in; raises :class:`EditError`."""
    new = config.copy()
    for top in (c for c in edit if isinstance(c.tag, str)):
        name = _local(top)
        if name == "mac-sec-keychains":
            for chain in _children(top, "mac-sec-keychain"):
                chain_name = _child_text(chain, "chain-name")
                if not chain_name:
                    raise EditError("mac-sec-keychain without chain-name", "missing-element")
                if _operation(chain) == "replace":
                    new.chains[chain_name] = {}
                keys = new.chains.setdefault(chain_name, {})
                for keies in _children(chain, "keies"):
                    for key in _children(keies, "key"):
                        _edit_key(keys, key)
        elif name == "macsec-policy":
            for names in _children(top, "policy-names"):
                for policy in _children(names, "policy-name"):
                    policy_name = _child_text(policy, "policy-name")
                    if not policy_name:
                        raise EditError("policy without a name", "missing-element")
                    leaves = new.policies.setdefault(policy_name, {})
                    for leaf in policy:
                        if isinstance(leaf.tag, str) and _local(leaf) != "policy-name":
                            leaves[_local(leaf)] = (leaf.text or "").strip()
        elif name == "interface-configurations":
            for itf in _children(top, "interface-configuration"):
                itf_name = _child_text(itf, "interface-name")
                macsec = _child(itf, "macsec")
                psk = _child(macsec, "psk-key-chain") if macsec is not None else None
                if not itf_name or psk is None:
                    continue
                chain = _child_text(psk, "key-chain-name") or ""
                policy = _child_text(psk, "policy-name") or ""
                new.bindings[itf_name] = (chain, policy)
        else:
            raise EditError(f"unknown model element {name!r}", "unknown-element")
    return new


def _sub(parent: etree._Element, tag: str, text: object = None) -> etree._Element:
    node = etree.SubElement(parent, tag)
    if text is not None:
        node.text = str(text)
    return node


def _token(cak_hex: str) -> str:
    """What a router shows for a key string: an encrypted form, never the secret."""
    return "0" + hashlib.sha256(b"xr-type7|" + cak_hex.encode()).hexdigest()[:47].upper()


def to_xml(config: XrConfig, wanted: set[str], chain: str | None = None) -> list[etree._Element]:
    """The subtrees named in ``wanted`` (top-level model element names), deterministic order."""
    out: list[etree._Element] = []
    if "mac-sec-keychains" in wanted:
        top = etree.Element(f"{{{KEYCHAIN_NS}}}mac-sec-keychains", nsmap={None: KEYCHAIN_NS})
        for name in sorted(config.chains):
            if chain is not None and name != chain:
                continue
            node = _sub(top, f"{{{KEYCHAIN_NS}}}mac-sec-keychain")
            _sub(node, f"{{{KEYCHAIN_NS}}}chain-name", name)
            keies = _sub(node, f"{{{KEYCHAIN_NS}}}keies")
            for key_id, key in sorted(config.chains[name].items()):
                k = _sub(keies, f"{{{KEYCHAIN_NS}}}key")
                _sub(k, f"{{{KEYCHAIN_NS}}}key-id", key_id)
                string = _sub(k, f"{{{KEYCHAIN_NS}}}key-string")
                _sub(string, f"{{{KEYCHAIN_NS}}}string", _token(key.cak_hex))
                _sub(string, f"{{{KEYCHAIN_NS}}}cryptographic-algorithm", key.algorithm)
                _sub(string, f"{{{KEYCHAIN_NS}}}encryption-type", "type7")
                if key.start is not None:
                    life = _sub(k, f"{{{KEYCHAIN_NS}}}lifetime")
                    s = key.start
                    for leaf, value in (
                        ("start-hour", s.hour),
                        ("start-minutes", s.minute),
                        ("start-seconds", s.second),
                        ("start-date", s.day),
                        ("start-month", MONTHS[s.month - 1]),
                        ("start-year", s.year),
                    ):
                        _sub(life, f"{{{KEYCHAIN_NS}}}{leaf}", value)
                    if key.lifetime_s is None:
                        _sub(life, f"{{{KEYCHAIN_NS}}}infinite-flag", "true")
                    else:
                        _sub(life, f"{{{KEYCHAIN_NS}}}life-time", key.lifetime_s)
        out.append(top)
    if "macsec-policy" in wanted:
        top = etree.Element(f"{{{POLICY_NS}}}macsec-policy", nsmap={None: POLICY_NS})
        names = _sub(top, f"{{{POLICY_NS}}}policy-names")
        for name in sorted(config.policies):
            node = _sub(names, f"{{{POLICY_NS}}}policy-name")
            _sub(node, f"{{{POLICY_NS}}}policy-name", name)
            for leaf, value in sorted(config.policies[name].items()):
                _sub(node, f"{{{POLICY_NS}}}{leaf}", value)
        out.append(top)
    if "interface-configurations" in wanted:
        top = etree.Element(f"{{{IFMGR_NS}}}interface-configurations", nsmap={None: IFMGR_NS})
        for itf, (chain_name, policy) in sorted(config.bindings.items()):
            node = _sub(top, f"{{{IFMGR_NS}}}interface-configuration")
            _sub(node, f"{{{IFMGR_NS}}}active", "act")
            _sub(node, f"{{{IFMGR_NS}}}interface-name", itf)
            macsec = etree.SubElement(node, f"{{{MKA_IF_NS}}}macsec", nsmap={None: MKA_IF_NS})
            psk = _sub(macsec, f"{{{MKA_IF_NS}}}psk-key-chain")
            _sub(psk, f"{{{MKA_IF_NS}}}key-chain-name", chain_name)
            _sub(psk, f"{{{MKA_IF_NS}}}policy-name", policy)
        out.append(top)
    return out
