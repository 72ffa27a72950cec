"""ChangeSet → the NETCONF ``<config>`` an IOS XR ``edit-config`` (candidate) loads.

Models (see ``docs/vendors-research.md`` §1.2; the MACsec subtree of the unified
``Cisco-IOS-XR-um-key-chain-cfg`` model and the unified interface binding could not be read as
model text, research Q1, so the native models that could be read are used where the unified
ones are unknown):

- keys: native ``Cisco-IOS-XR-lib-keychain-macsec-cfg`` ``mac-sec-keychains/mac-sec-keychain
  [chain-name]/keies/key[key-id]/{key-string{string, cryptographic-algorithm}, lifetime{start-*,
  life-time}}`` (CiscoDevNet/ydk-py generated model [S3]); the key ID is the CKN, upper-case
  [S2]; the algorithm is ``aes-128-cmac`` / ``aes-256-cmac`` by CAK length [S3][S5]. The secret
  is written as given, no ``encryption-type`` (the clear-text keyword is research Q10);
- policy: unified ``Cisco-IOS-XR-um-macsec-cfg`` ``macsec-policy/policy-names/policy-name
  [policy-name]/{cipher-suite, key-server-priority, security-policy}`` ([S10] listing, leaf
  names as used by a third-party gNMI client [S11]; ``security-policy`` after the CLI);
- binding: native ``Cisco-IOS-XR-crypto-macsec-mka-if-cfg`` augment of ``Cisco-IOS-XR-ifmgr-cfg``
  ``interface-configurations/interface-configuration[active=act][interface-name]/macsec/
  psk-key-chain{key-chain-name, policy-name}`` (YangModels/yang, XR 24.1.1 [S8]).

The vendor-neutral connectivity association is the macsec-policy; pre-shared-key mode is a
key chain named after the CA holding one key without lifetime. Slots ride in the lifetime
duration (``iosxr_names``). A removal names a slot, and the key ID to delete is read from the
device: :func:`render` takes the resolved CKNs; without them (a preview) each removal is shown
as a comment naming the chain and slot.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from lxml import etree

from qkd_macsec.devices import iosxr_names as names
from qkd_macsec.devices.base import ChangeSet, KeyChainEntry, MacsecBinding, StaticKey
from qkd_macsec.devices.names import ConfigRenderError
from qkd_macsec.macsec.suites import CipherSuite
from qkd_macsec.secret import Secret

__all__ = [
    "IFMGR_NS",
    "KEYCHAIN_NS",
    "MASK",
    "MKA_IF_NS",
    "NC_NS",
    "POLICY_NS",
    "render",
    "render_masked",
]

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
KEYCHAIN_NS = "http://cisco.com/ns/yang/Cisco-IOS-XR-lib-keychain-macsec-cfg"
POLICY_NS = "http://cisco.com/ns/yang/Cisco-IOS-XR-um-macsec-cfg"
IFMGR_NS = "http://cisco.com/ns/yang/Cisco-IOS-XR-ifmgr-cfg"
MKA_IF_NS = "http://cisco.com/ns/yang/Cisco-IOS-XR-crypto-macsec-mka-if-cfg"
MASK = "MASKED"
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
#: The CLI spelling of each suite in ``cipher-suite``.
SUITES = {
    CipherSuite.GCM_AES_128: "GCM-AES-128",
    CipherSuite.GCM_AES_256: "GCM-AES-256",
    CipherSuite.GCM_AES_XPN_128: "GCM-AES-XPN-128",
    CipherSuite.GCM_AES_XPN_256: "GCM-AES-XPN-256",
}
Removals = Mapping[tuple[str, int], str]


def _sub(
    parent: etree._Element, tag: str, text: object = None, *, model: str | None = None
) -> etree._Element:
    """A child element; ``model``: the namespace it opens (declared as the default there)."""
    node = etree.SubElement(parent, tag, nsmap={None: model} if model else None)
    if text is not None:
        node.text = str(text)
    return node


def _suite(value: object) -> CipherSuite:
    if isinstance(value, CipherSuite):
        return value
    if isinstance(value, str) and value in {s.value for s in CipherSuite}:
        return CipherSuite(value)
    raise ConfigRenderError(f"{value!r} is not a cipher suite")


def _cak(secret: Secret, suite: CipherSuite | None, masked: bool) -> tuple[str, str]:
    """(key string, CMAC algorithm); the error never repeats the secret."""
    raw = secret.reveal()
    wanted = {suite.key_bytes} if suite is not None else {16, 32}
    if len(raw) not in wanted:
        raise ConfigRenderError(f"CAK must be {' or '.join(map(str, sorted(wanted)))} bytes")
    algorithm = "aes-128-cmac" if len(raw) == 16 else "aes-256-cmac"
    return (MASK if masked else raw.hex().upper()), algorithm


class _Document:
    """The ``<config>`` being built, one container per model created on first use."""

    def __init__(self) -> None:
        self.root = etree.Element(f"{{{NC_NS}}}config", nsmap={"nc": NC_NS})
        self._chains: dict[str, etree._Element] = {}
        self._chain_root: etree._Element | None = None
        self._policy_root: etree._Element | None = None
        self._if_root: etree._Element | None = None

    def chain_keys(self, chain: str) -> etree._Element:
        if chain not in self._chains:
            if self._chain_root is None:
                self._chain_root = _sub(
                    self.root, f"{{{KEYCHAIN_NS}}}mac-sec-keychains", model=KEYCHAIN_NS
                )
            node = _sub(self._chain_root, f"{{{KEYCHAIN_NS}}}mac-sec-keychain")
            _sub(node, f"{{{KEYCHAIN_NS}}}chain-name", chain)
            self._chains[chain] = _sub(node, f"{{{KEYCHAIN_NS}}}keies")
        return self._chains[chain]

    def key(self, chain: str, ckn: str) -> etree._Element:
        key = _sub(self.chain_keys(chain), f"{{{KEYCHAIN_NS}}}key")
        _sub(key, f"{{{KEYCHAIN_NS}}}key-id", names.canonical_ckn(ckn))
        return key

    def policy(self, name: str) -> etree._Element:
        if self._policy_root is None:
            top = _sub(self.root, f"{{{POLICY_NS}}}macsec-policy", model=POLICY_NS)
            self._policy_root = _sub(top, f"{{{POLICY_NS}}}policy-names")
        node = _sub(self._policy_root, f"{{{POLICY_NS}}}policy-name")
        _sub(node, f"{{{POLICY_NS}}}policy-name", name)
        return node

    def interface(self, name: str) -> etree._Element:
        if self._if_root is None:
            self._if_root = _sub(
                self.root, f"{{{IFMGR_NS}}}interface-configurations", model=IFMGR_NS
            )
        node = _sub(self._if_root, f"{{{IFMGR_NS}}}interface-configuration")
        _sub(node, f"{{{IFMGR_NS}}}active", "act")
        _sub(node, f"{{{IFMGR_NS}}}interface-name", name)
        return node


def _lifetime(key: etree._Element, start: datetime, slot: int) -> None:
    wall = names.device_wall_clock(start)
    life = _sub(key, f"{{{KEYCHAIN_NS}}}lifetime")
    for leaf, value in (
        ("start-hour", wall.hour),
        ("start-minutes", wall.minute),
        ("start-seconds", wall.second),
        ("start-date", wall.day),
        ("start-month", MONTHS[wall.month - 1]),
        ("start-year", wall.year),
        ("life-time", names.SLOT_CARRIER_S + names.slot(slot)),
    ):
        _sub(life, f"{{{KEYCHAIN_NS}}}{leaf}", value)


def _key_string(
    key: etree._Element, secret: Secret, suite: CipherSuite | None, masked: bool
) -> None:
    text, algorithm = _cak(secret, suite, masked)
    string = _sub(key, f"{{{KEYCHAIN_NS}}}key-string")
    _sub(string, f"{{{KEYCHAIN_NS}}}string", text)
    _sub(string, f"{{{KEYCHAIN_NS}}}cryptographic-algorithm", algorithm)


def _binding(doc: _Document, b: MacsecBinding) -> None:
    policy_name = names.policy(b.ca)
    suite = _suite(b.cipher_suite)
    policy = doc.policy(policy_name)
    _sub(policy, f"{{{POLICY_NS}}}cipher-suite", SUITES[suite])
    if b.key_server_priority is not None:
        priority = names.key_server_priority(b.key_server_priority)
        _sub(policy, f"{{{POLICY_NS}}}key-server-priority", priority)
    security = "should-secure" if b.should_secure else "must-secure"
    _sub(policy, f"{{{POLICY_NS}}}security-policy", security)
    for protocol in b.exclude_protocols:
        names.protocol(protocol)  # refuses: IOS XR has no such list
    if b.transmit_interval_ms is not None:
        names.transmit_interval_ms(b.transmit_interval_ms)
    chain = names.key_chain(b.key_chain if b.key_chain is not None else policy_name)
    node = doc.interface(names.interface(b.interface))
    macsec = _sub(node, f"{{{MKA_IF_NS}}}macsec", model=MKA_IF_NS)
    psk = _sub(macsec, f"{{{MKA_IF_NS}}}psk-key-chain")
    _sub(psk, f"{{{MKA_IF_NS}}}key-chain-name", chain)
    _sub(psk, f"{{{MKA_IF_NS}}}policy-name", policy_name)


def _entry(doc: _Document, e: KeyChainEntry, suite: CipherSuite | None, masked: bool) -> None:
    key = doc.key(names.key_chain(e.chain), e.ckn)
    _key_string(key, e.cak, e.suite or suite, masked)
    _lifetime(key, e.start_time, e.slot)


def _static(doc: _Document, k: StaticKey, masked: bool) -> None:
    """The CA's chain is replaced whole: its one key is the pre-shared key (two keys without
    lifetime would leave MKA's choice between them open)."""
    chain = names.key_chain(names.policy(k.ca))
    keys = doc.chain_keys(chain)
    parent = keys.getparent()
    assert parent is not None
    parent.set(f"{{{NC_NS}}}operation", "replace")
    key = doc.key(chain, k.ckn)
    _key_string(key, k.cak, k.suite, masked)


def render(changes: ChangeSet, masked: bool, removals: Removals | None = None) -> str:
    """The ``<config>`` for ``changes`` (``masked``: every CAK replaced by :data:`MASK`).

    ``removals`` maps each removed ``(chain, slot)`` to the CKN the device holds there (the
    driver reads them); a slot missing from it is already gone and needs nothing. Without it,
    each removal is a comment (a preview for display)."""
    doc = _Document()
    for chain, slot in changes.remove_entries:
        chain, slot = names.key_chain(chain), names.slot(slot)
        if removals is None:
            doc.chain_keys(chain).append(etree.Comment(f" remove key in slot {slot} "))
            continue
        ckn = removals.get((chain, slot))
        if ckn is not None:
            doc.key(chain, ckn).set(f"{{{NC_NS}}}operation", "remove")
    suites: dict[str, CipherSuite] = {}
    for binding in changes.bindings:
        _binding(doc, binding)
        if binding.key_chain is not None:
            suites[names.key_chain(binding.key_chain)] = _suite(binding.cipher_suite)
    for static in changes.static_keys:
        _static(doc, static, masked)
    for entry in changes.add_entries:
        _entry(doc, entry, suites.get(entry.chain), masked)
    text: str = etree.tostring(doc.root, pretty_print=True, encoding="unicode")
    return text


def render_masked(changes: ChangeSet) -> str:
    return render(changes, True)
