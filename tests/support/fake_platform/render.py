"""ChangeSet → FakeOS configuration lines (one statement a line; every value checked first).

Syntax (the device in ``device.py`` reads exactly this)::

    delete key-chain KC key N
    ca CA suite SUITE
    ca CA key-chain KC
    ca CA psk CKN CAK
    interface PORT ca CA
    key-chain KC key N ckn CKN cak CAK start START   (N = slot + 1, START = ...THH:MM:SSZ, UTC)
"""

from __future__ import annotations

from datetime import UTC, datetime

from qkd_macsec.devices.base import ChangeSet
from qkd_macsec.devices.names import ConfigRenderError
from qkd_macsec.macsec.suites import CipherSuite
from qkd_macsec.secret import Secret
from support.fake_platform import names

MASK = "<hidden>"


def start_text(when: datetime) -> str:
    """A start-time: naive = the device's clock, which FakeOS keeps in UTC."""
    if not isinstance(when, datetime):
        raise ConfigRenderError("start-time must be a datetime")
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _suite(value: object) -> CipherSuite:
    try:
        return CipherSuite(value)
    except ValueError:
        raise ConfigRenderError(f"{value!r} is not a cipher suite") from None


def _cak(secret: Secret, suite: CipherSuite | None, masked: bool) -> str:
    raw = secret.reveal()
    wanted = {suite.key_bytes} if suite is not None else {16, 32}
    if len(raw) not in wanted:
        raise ConfigRenderError(f"CAK must be {' or '.join(map(str, sorted(wanted)))} bytes")
    return MASK if masked else raw.hex()


def render(changes: ChangeSet, masked: bool) -> str:
    lines: list[str] = []
    for chain, slot in changes.remove_entries:
        lines.append(f"delete key-chain {names.key_chain(chain)} key {names.slot(slot) + 1}")
    suites: dict[str, CipherSuite] = {}
    for b in changes.bindings:
        ca, suite = names.ca(b.ca), _suite(b.cipher_suite)
        lines.append(f"ca {ca} suite {suite.value}")
        if b.key_chain is not None:
            suites[names.key_chain(b.key_chain)] = suite
            lines.append(f"ca {ca} key-chain {b.key_chain}")
        lines.append(f"interface {names.interface(b.interface)} ca {ca}")
    for key in changes.static_keys:
        cak = _cak(key.cak, key.suite, masked)
        lines.append(f"ca {names.ca(key.ca)} psk {names.ckn(key.ckn)} {cak}")
    for e in changes.add_entries:
        chain = names.key_chain(e.chain)
        cak = _cak(e.cak, e.suite or suites.get(chain), masked)
        key = names.slot(e.slot) + 1
        ckn, start = names.ckn(e.ckn), start_text(e.start_time)
        lines.append(f"key-chain {chain} key {key} ckn {ckn} cak {cak} start {start}")
    return "\n".join(dict.fromkeys(lines))
