"""ChangeSet → the NX-OS configuration commands one configuration session loads.

The commands (research §2.1; grammar from Cisco's NX-OS configuration builder [S20], the MACsec
data model [S19] and the keychain guide [S37])::

    key chain QKD_KC1 macsec
      key <CKN, upper-case>
        key-octet-string <CAK hex> cryptographic-algorithm AES_256_CMAC
        send-lifetime 07:30:58 Dec 01 2026 duration <seconds>
    macsec policy QKD_POLICY
      cipher-suite GCM-AES-XPN-256
      key-server-priority 16
      security-policy should-secure
    interface Ethernet1/1
      macsec keychain QKD_KC1 policy QKD_POLICY

The NX-OS rollover (research §2.2, Q4): MKA keeps the key it uses until that key's lifetime
ends, then moves to the next key of the chain [S25]. So a chain is always written whole-shaped:
sorted by start, every key but the newest ends at its successor's start (plus the 0..7 s that
carry its slot, ``nxos_names.ended_duration``), and the newest runs four years. Adding a key at
T therefore also gives the previous newest key its end at T, in the same session; removing the
newest (an undone stage) gives the one before it its four years back — any change leaves the
chain with no instant without a key in use. A key's octet string cannot be overwritten on
NX-OS ([S38], keychain restrictions), so an existing key ID is never written again, only its
lifetime.

The vendor-neutral connectivity association is the macsec policy; pre-shared-key mode is a
chain named after the CA holding that one key without lifetime (NX-OS has no other PSK form).

:func:`render_plan` takes the running configuration (the driver reads it at the start of the
change) and writes only what differs — its ``changed`` count is the change's diff. Without it
(a preview for display) added keys are written as if the chain were empty and removals are
shown as comments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from qkd_macsec.devices import nxos_names as names
from qkd_macsec.devices.base import ChangeSet, KeyChainEntry, MacsecBinding, StaticKey
from qkd_macsec.devices.names import ConfigRenderError
from qkd_macsec.devices.nxos_config import NxosKey, NxosRunning, format_start
from qkd_macsec.devices.nxos_parse import NO_START, chain_slots
from qkd_macsec.macsec.suites import CipherSuite
from qkd_macsec.secret import Secret

__all__ = ["MASK", "SUITES", "RenderedChange", "render", "render_masked", "render_plan"]

MASK = "MASKED"
SUITES = {
    CipherSuite.GCM_AES_128: "GCM-AES-128",
    CipherSuite.GCM_AES_256: "GCM-AES-256",
    CipherSuite.GCM_AES_XPN_128: "GCM-AES-XPN-128",
    CipherSuite.GCM_AES_XPN_256: "GCM-AES-XPN-256",
}


@dataclass
class RenderedChange:
    """The commands of one change and how many of them change the configuration."""

    lines: list[str] = field(default_factory=list)
    changed: int = 0

    @property
    def text(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)


@dataclass
class _Key:
    key_id: str
    start: datetime
    slot: int
    existing: NxosKey | None = None
    secret: tuple[Secret, CipherSuite | None] | None = None
    lifetime: bool = True


@dataclass
class _ChainChange:
    removes: list[int] = field(default_factory=list)
    adds: list[KeyChainEntry] = field(default_factory=list)
    static: StaticKey | None = None


def _suite(value: object) -> CipherSuite:
    if isinstance(value, CipherSuite):
        return value
    if isinstance(value, str) and value in {s.value for s in CipherSuite}:
        return CipherSuite(value)
    raise ConfigRenderError(f"{value!r} is not a cipher suite")


def _octet_string(secret: Secret, suite: CipherSuite | None, masked: bool) -> str:
    """The key-octet-string line; the error never repeats the secret."""
    raw = secret.reveal()
    wanted = {suite.key_bytes} if suite is not None else {16, 32}
    if len(raw) not in wanted:
        raise ConfigRenderError(f"CAK must be {' or '.join(map(str, sorted(wanted)))} bytes")
    algorithm = "AES_128_CMAC" if len(raw) == 16 else "AES_256_CMAC"
    text = MASK if masked else raw.hex().upper()
    return f"key-octet-string {text} cryptographic-algorithm {algorithm}"


def _chain_lines(
    chain: str,
    change: _ChainChange,
    suite: CipherSuite | None,
    current: NxosRunning | None,
    masked: bool,
) -> tuple[list[str], int]:
    existing = current.chains.get(chain, {}) if current is not None else {}
    slots = chain_slots(existing)
    by_slot = {slot: key_id for key_id, slot in slots.items()}
    lines: list[str] = []
    changed = 0
    removed: set[str] = set()
    for slot in change.removes:
        if current is None:
            lines.append(f"  ! remove the key in slot {slot} (its key ID is read from the device)")
        elif slot in by_slot:
            removed.add(by_slot[slot])
    keys: dict[str, _Key] = {
        key_id: _Key(key_id, key.start or NO_START, slots[key_id], key)
        for key_id, key in existing.items()
        if key_id not in removed
    }
    if change.static is not None:
        static = change.static
        key_id = names.canonical_ckn(static.ckn)
        removed |= {k for k in keys if k != key_id}
        old = keys.get(key_id)
        keys = {key_id: _Key(key_id, NO_START, 0, old.existing if old else None, lifetime=False)}
        if old is None:
            keys[key_id].secret = (static.cak, static.suite)
        if current is None:
            lines.append("  ! every other key of the chain is removed")
    for entry in change.adds:
        key_id = names.canonical_ckn(entry.ckn)
        start = names.device_wall_clock(entry.start_time)
        old = keys.get(key_id)
        keys[key_id] = _Key(key_id, start, names.slot(entry.slot), old.existing if old else None)
        if old is None:
            keys[key_id].secret = (entry.cak, entry.suite or suite)
    if change.adds and current is None:
        lines.append("  ! an older key of the chain ends where its successor starts")
    for key_id in sorted(removed):
        if key_id in existing:
            lines.append(f"  no key {key_id}")
            changed += 1
    ordered = sorted(keys.values(), key=lambda k: (k.start, k.key_id))
    for index, key in enumerate(ordered):
        body: list[str] = []
        if key.secret is not None:
            body.append(_octet_string(key.secret[0], key.secret[1], masked))
        if key.lifetime:
            if index == len(ordered) - 1:
                duration = names.SLOT_CARRIER_S + key.slot
            else:
                duration = names.ended_duration(key.start, ordered[index + 1].start, key.slot)
            written = key.existing
            if written is None or written.start != key.start or written.duration_s != duration:
                body.append(f"send-lifetime {format_start(key.start)} duration {duration}")
        if body:
            lines.append(f"  key {key.key_id}")
            lines += [f"    {line}" for line in body]
            changed += len(body)
    return ([f"key chain {chain} macsec", *lines] if lines else []), changed


def _binding_lines(
    b: MacsecBinding, current: NxosRunning | None
) -> tuple[list[str], list[str], int]:
    policy_name = names.policy(b.ca)
    suite = _suite(b.cipher_suite)
    for protocol in b.exclude_protocols:
        names.protocol(protocol)  # refuses: NX-OS has no such list
    if b.transmit_interval_ms is not None:
        names.transmit_interval_ms(b.transmit_interval_ms)
    leaves = {"cipher-suite": SUITES[suite]}
    if b.key_server_priority is not None:
        leaves["key-server-priority"] = str(names.key_server_priority(b.key_server_priority))
    leaves["security-policy"] = "should-secure" if b.should_secure else "must-secure"
    have = current.policies.get(policy_name, {}) if current is not None else {}
    policy = [f"  {k} {v}" for k, v in leaves.items() if have.get(k) != v]
    chain = names.key_chain(b.key_chain if b.key_chain is not None else policy_name)
    interface = names.interface(b.interface)
    bound = current.bindings.get(interface) if current is not None else None
    binding = (
        [] if bound == (chain, policy_name) else [f"  macsec keychain {chain} policy {policy_name}"]
    )
    return (
        [f"macsec policy {policy_name}", *policy] if policy else [],
        [f"interface {interface}", *binding] if binding else [],
        len(policy) + len(binding),
    )


def render_plan(
    changes: ChangeSet, masked: bool, current: NxosRunning | None = None
) -> RenderedChange:
    """The commands for ``changes`` against ``current`` (see the module docstring)."""
    out = RenderedChange()
    chains: dict[str, _ChainChange] = {}
    for chain, slot in changes.remove_entries:
        chains.setdefault(names.key_chain(chain), _ChainChange()).removes.append(names.slot(slot))
    for static in changes.static_keys:
        chains.setdefault(names.key_chain(names.policy(static.ca)), _ChainChange()).static = static
    for entry in changes.add_entries:
        chains.setdefault(names.key_chain(entry.chain), _ChainChange()).adds.append(entry)
    suites: dict[str, CipherSuite] = {}
    policies: list[str] = []
    interfaces: list[str] = []
    for binding in changes.bindings:
        policy_lines, interface_lines, changed = _binding_lines(binding, current)
        policies += policy_lines
        interfaces += interface_lines
        out.changed += changed
        if binding.key_chain is not None:
            suites[names.key_chain(binding.key_chain)] = _suite(binding.cipher_suite)
    for chain, change in chains.items():
        lines, changed = _chain_lines(chain, change, suites.get(chain), current, masked)
        out.lines += lines
        out.changed += changed
    out.lines += policies + interfaces
    return out


def render(changes: ChangeSet, masked: bool, current: NxosRunning | None = None) -> str:
    """The configuration text for ``changes`` (``masked``: every CAK replaced by :data:`MASK`)."""
    return render_plan(changes, masked, current).text


def render_masked(changes: ChangeSet) -> str:
    return render(changes, True)
