"""ChangeSet → Junos ``set``/``delete`` lines (pure; every value validated before it is written).

The result is one string joined with ``"\\n"``, as PyEZ ``Config.load(text, format="set")``
wants it. Line order: removals first (so a slot can be removed and reused in one commit), then
bindings, static keys and new key-chain entries. The masked rendering (CAK → ``<masked>``) is
what ``config show`` and debug logs may print.
"""

from __future__ import annotations

from collections.abc import Iterator

from qkd_macsec.devices.base import ChangeSet, KeyChainEntry, MacsecBinding, StaticKey
from qkd_macsec.devices.junos_names import (
    ConfigRenderError,
    format_start_time,
    validate_ca_name,
    validate_cak_bytes,
    validate_ckn,
    validate_hostname,
    validate_interface_name,
    validate_ip_address,
    validate_key_chain_name,
    validate_key_server_priority,
    validate_macro_name,
    validate_macro_value,
    validate_protocol,
    validate_slot,
    validate_tolerance_s,
    validate_transmit_interval_ms,
)
from qkd_macsec.devices.junos_options import junos_options
from qkd_macsec.devices.junos_setlines import (
    CA_PATH,
    KEY_CHAINS,
    MACRO,
    MACSEC,
    ca_lines,
    chain_tolerance_line,
    exclude_protocol_line,
    interface_binding_line,
    key_entry_lines,
    key_removal_line,
    macro_line,
    static_cak_lines,
)
from qkd_macsec.macsec.suites import CipherSuite

__all__ = [
    "CA_PATH",
    "KEY_CHAINS",
    "MACRO",
    "MACSEC",
    "MASK",
    "ConfigRenderError",
    "render",
    "render_set",
    "render_set_masked",
]

MASK = "<masked>"
_SUITE_NAMES = frozenset(suite.value for suite in CipherSuite)


def render_set(changes: ChangeSet) -> str:
    """The lines to load, with real CAKs. Raises :class:`ConfigRenderError` on any bad value."""
    return "\n".join(_lines(changes, masked=False))


def render_set_masked(changes: ChangeSet) -> str:
    """The same lines with every CAK replaced by ``<masked>`` (safe to show and log)."""
    return "\n".join(_lines(changes, masked=True))


def render(changes: ChangeSet, masked: bool) -> str:
    """:func:`render_set` or :func:`render_set_masked` (the platform's ``render``)."""
    return render_set_masked(changes) if masked else render_set(changes)


def _lines(changes: ChangeSet, *, masked: bool) -> list[str]:
    chain_suites = _chain_suites(changes.bindings)
    lines: list[str] = []
    lines.extend(_removals(changes.remove_entries))
    for binding in changes.bindings:
        lines.extend(_binding(binding))
    lines.extend(_static_keys(changes.static_keys, masked=masked))
    lines.extend(_entries(changes.add_entries, chain_suites, masked=masked))
    return _dedupe(lines)


def _dedupe(lines: list[str]) -> list[str]:
    """Bindings of several interfaces to one CA repeat the CA lines: keep the first of each."""
    return list(dict.fromkeys(lines))


def _chain_suites(bindings: list[MacsecBinding]) -> dict[str, CipherSuite]:
    suites: dict[str, CipherSuite] = {}
    seen_interfaces: set[str] = set()
    ca_suites: dict[str, CipherSuite] = {}
    for binding in bindings:
        if binding.interface in seen_interfaces:
            raise ConfigRenderError(f"interface {binding.interface!r} is bound twice")
        seen_interfaces.add(binding.interface)
        suite = _suite(binding.cipher_suite)
        if ca_suites.setdefault(binding.ca, suite) is not suite:
            raise ConfigRenderError(f"CA {binding.ca!r} is given two cipher suites")
        if binding.key_chain is not None and suites.setdefault(binding.key_chain, suite) != suite:
            raise ConfigRenderError(f"key chain {binding.key_chain!r} serves two cipher suites")
    return suites


def _suite(value: object) -> CipherSuite:
    if isinstance(value, str) and value in _SUITE_NAMES:
        return CipherSuite(value)
    raise ConfigRenderError(f"{value!r} is not a MACsec cipher suite")


def _removals(removals: list[tuple[str, int]]) -> Iterator[str]:
    for chain, slot in removals:
        yield key_removal_line(validate_key_chain_name(chain), validate_slot(slot))


def _binding(b: MacsecBinding) -> Iterator[str]:
    interface = validate_interface_name(b.interface)
    ca_name = validate_ca_name(b.ca)
    ca = f"{CA_PATH} {ca_name}"
    chain = None if b.key_chain is None else validate_key_chain_name(b.key_chain)
    yield from ca_lines(ca_name, _suite(b.cipher_suite).value, chain)
    if chain is not None:
        if b.chain_tolerance_s is not None:
            yield chain_tolerance_line(chain, validate_tolerance_s(b.chain_tolerance_s))
    elif b.chain_tolerance_s is not None:
        raise ConfigRenderError(f"{b.interface}: chain tolerance given without a key chain")
    if b.should_secure:
        yield f"set {ca} mka should-secure"
    if b.key_server_priority is not None:
        priority = validate_key_server_priority(b.key_server_priority)
        yield f"set {ca} mka key-server-priority {priority}"
    if b.transmit_interval_ms is not None:
        interval = validate_transmit_interval_ms(b.transmit_interval_ms)
        yield f"set {ca} mka transmit-interval {interval}"
    for protocol in b.exclude_protocols:
        yield exclude_protocol_line(ca_name, validate_protocol(protocol))
    yield interface_binding_line(interface, ca_name)
    extras = junos_options(b.options)
    for name, value in extras.macros:
        yield macro_line(interface, validate_macro_name(name), validate_macro_value(value))
    for host, address in extras.host_mappings:
        canonical = validate_ip_address(address)
        family = "inet6" if ":" in canonical else "inet"
        yield f"set system static-host-mapping {validate_hostname(host)} {family} {canonical}"


def _cak_hex(secret_bytes: bytes, suite: CipherSuite | None, masked: bool) -> str:
    validate_cak_bytes(secret_bytes, suite)
    return MASK if masked else secret_bytes.hex()


def _static_keys(keys: list[StaticKey], *, masked: bool) -> Iterator[str]:
    seen: set[str] = set()
    for key in keys:
        ca = validate_ca_name(key.ca)
        if ca in seen:
            raise ConfigRenderError(f"CA {ca!r} is given two pre-shared keys")
        seen.add(ca)
        cak = _cak_hex(key.cak.reveal(), key.suite, masked)
        yield from static_cak_lines(ca, validate_ckn(key.ckn), cak)


def _entries(
    entries: list[KeyChainEntry], chain_suites: dict[str, CipherSuite], *, masked: bool
) -> Iterator[str]:
    slots: set[tuple[str, int]] = set()
    starts: set[tuple[str, str]] = set()
    for entry in entries:
        chain = validate_key_chain_name(entry.chain)
        slot = validate_slot(entry.slot)
        start = format_start_time(entry.start_time)
        if (chain, slot) in slots:
            raise ConfigRenderError(f"key chain {chain!r} key {slot} is added twice")
        if (chain, start) in starts:
            raise ConfigRenderError(f"key chain {chain!r} has two keys starting at {start}")
        slots.add((chain, slot))
        starts.add((chain, start))
        suite = entry.suite
        bound = chain_suites.get(chain)
        if suite is not None and bound is not None and suite is not bound:
            raise ConfigRenderError(f"key chain {chain!r}: entry suite differs from its CA's")
        cak = _cak_hex(entry.cak.reveal(), suite or bound, masked)
        yield from key_entry_lines(chain, slot, validate_ckn(entry.ckn), cak, start)
