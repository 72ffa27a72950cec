"""What a platform's MACsec configuration can express, declared per platform, and the check of
one link end against it.

A :class:`PlatformLimits` rides on every :class:`~qkd_macsec.devices.platform.Platform`. The
inventory check (``inventory.resolve``) asks :meth:`PlatformLimits.refusals` for every end of
every link, so a link whose ends cannot all do what it asks is refused with the reason before any
device is touched — rather than half-staged and undone at commit time on the one vendor that
cannot take it. The defaults are what every built-in platform can do; a platform declares only
where it is narrower.

The CKN a link needs is known from the inventory alone: ``prefix-uuid`` is the prefix followed by
the 32 hex digits of the key ID (ETSI GS QKD 014 key IDs are UUIDs), ``sha256`` is 64 hex digits
(``core.derive.ckn_for``). One key gives one CKN and one CAK on every end, whatever the vendor;
only the spelling a platform writes differs (:attr:`PlatformLimits.ckn_upper_case`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qkd_macsec.core.key_modes import KeyMode
from qkd_macsec.macsec.keys import CknMode
from qkd_macsec.macsec.suites import CipherSuite

__all__ = ["LinkAsk", "PlatformLimits", "ckn_digits"]

#: A UUID key ID without its dashes.
UUID_HEX = 32
SHA256_HEX = 64


def ckn_digits(prefix: str, mode: CknMode) -> int:
    """How many hex digits the link's CKNs have (see the module docstring)."""
    return len(prefix) + UUID_HEX if mode is CknMode.PREFIX_UUID else SHA256_HEX


@dataclass(frozen=True)
class LinkAsk:
    """What a link asks of each of its ends, in vendor-neutral terms (from the inventory)."""

    cipher_suite: CipherSuite
    mode: KeyMode
    ckn_hex: int
    slaves: int = 1
    exclude_protocols: Sequence[str] = ()
    transmit_interval_ms: int | None = None
    key_server_priority: int | None = None


@dataclass(frozen=True)
class PlatformLimits:
    """Declarative limits of one platform (defaults: what every built-in platform can do).

    ``max_ckn_hex``: the longest key ID / CKN the device takes (hex digits, even length).
    ``ckn_upper_case``: the device writes the CKN upper-case (the same value: hex is not
    case-sensitive, MKA uses the bytes). ``cipher_suites`` / ``key_modes``: what it supports.
    ``exclude_protocols``: it can leave named protocols unencrypted. ``transmit_interval_ms``:
    the MKA hello interval range it can set (None: it has no such setting; a link may then only
    leave it unset). ``key_server_priority``: its range. ``group_ca``: one CA on more than two
    ends (a group CA).
    """

    max_ckn_hex: int = 64
    ckn_upper_case: bool = False
    cipher_suites: frozenset[CipherSuite] = frozenset(CipherSuite)
    key_modes: frozenset[KeyMode] = frozenset(KeyMode)
    exclude_protocols: bool = True
    transmit_interval_ms: tuple[int, int] | None = (2000, 6000)
    key_server_priority: tuple[int, int] = (0, 255)
    group_ca: bool = True

    def __post_init__(self) -> None:
        if not 2 <= self.max_ckn_hex <= 64 or self.max_ckn_hex % 2:
            raise ValueError("max_ckn_hex must be an even number of hex digits, 2..64")
        if not self.cipher_suites or not self.key_modes:
            raise ValueError("a platform supports at least one cipher suite and one key mode")

    def refusals(self, ask: LinkAsk) -> list[tuple[str, str]]:
        """``(field, reason)`` for everything in ``ask`` this platform cannot do; ``field`` is
        the link's inventory field (relative to ``links[i]``)."""
        out: list[tuple[str, str]] = []
        if ask.ckn_hex > self.max_ckn_hex:
            out.append(
                (
                    "ckn_prefix",
                    f"its CKNs have {ask.ckn_hex} hex digits; the platform takes at most "
                    f"{self.max_ckn_hex} (shorten ckn_prefix)",
                )
            )
        if ask.cipher_suite not in self.cipher_suites:
            supported = ", ".join(sorted(s.value for s in self.cipher_suites))
            out.append(
                (
                    "cipher_suite",
                    f"cipher suite {ask.cipher_suite.value} is not supported (supported: "
                    f"{supported})",
                )
            )
        if ask.mode not in self.key_modes:
            supported = ", ".join(sorted(m.value for m in self.key_modes))
            out.append(("mode", f"mode {ask.mode.value} is not supported (supported: {supported})"))
        if ask.exclude_protocols and not self.exclude_protocols:
            out.append(
                (
                    "mka.exclude_protocols",
                    "it cannot exclude protocols from MACsec (asked: "
                    f"{', '.join(ask.exclude_protocols)})",
                )
            )
        interval = ask.transmit_interval_ms
        if interval is not None:
            span = self.transmit_interval_ms
            if span is None:
                out.append(("mka.transmit_interval_ms", "it has no MKA transmit interval to set"))
            elif not span[0] <= interval <= span[1]:
                out.append(
                    (
                        "mka.transmit_interval_ms",
                        f"MKA transmit interval {interval} ms is outside {span[0]}..{span[1]} ms",
                    )
                )
        priority = ask.key_server_priority
        low, high = self.key_server_priority
        if priority is not None and not low <= priority <= high:
            out.append(
                (
                    "mka.key_server_priority",
                    f"key-server priority {priority} is outside {low}..{high}",
                )
            )
        if ask.slaves > 1 and not self.group_ca:
            out.append(("slaves", f"a group CA ({ask.slaves + 1} ends) is not supported"))
        return out
