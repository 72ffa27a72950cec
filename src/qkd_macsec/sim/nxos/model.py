"""The NX-OS simulator's configuration: MACsec key chains, macsec policies, interfaces and the
clock zone, changed by CLI configuration commands (with NX-OS's mode nesting) and shown as
``show running-config`` text in the layout ``devices/nxos_config`` reads.

What a real switch would refuse is refused here too, as far as the research note says
(``docs/vendors-research.md`` §2): a key ID that is not even-length hex of at most 64 digits,
an octet string that does not fit its CMAC algorithm, a second octet string for an existing key
(NX-OS cannot overwrite one [S38]), a ``send-lifetime`` that does not read. Secrets show as a
type-7-like token, never the octet string itself.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "CommandError",
    "Mode",
    "NxConfig",
    "NxKey",
    "apply_command",
    "check",
    "running_config",
]

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
ALGORITHMS = {"AES_128_CMAC": 32, "AES_256_CMAC": 64}  # octet-string hex digits
SUITES = ("GCM-AES-128", "GCM-AES-256", "GCM-AES-XPN-128", "GCM-AES-XPN-256")
_KEY_ID = re.compile(r"(?:[0-9A-Fa-f]{2}){1,32}")
_OCTETS = re.compile(
    r"key-octet-string\s+(?:(0|7)\s+)?([0-9A-Fa-f]+)(?:\s+cryptographic-algorithm\s+(\S+))?"
)
_LIFETIME = re.compile(
    r"send-lifetime\s+(local\s+)?(\d{1,2}):(\d{2}):(\d{2})\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{4})"
    r"\s+(infinite|duration\s+(\d{1,10}))"
)
_INTERFACE = re.compile(r"(?:Ethernet|Eth|ethernet|eth)([0-9]{1,3}(?:/[0-9]{1,3}){1,2})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


class CommandError(ValueError):
    """A command the switch refuses (the message NX-API returns)."""


@dataclass(frozen=True)
class NxKey:
    cak_hex: str = field(default="", repr=False)
    algorithm: str = ""
    start: datetime | None = None  # naive, UTC (the lifetime zone, default [S25])
    duration_s: int | None = None  # None: infinite (or no lifetime)


@dataclass
class NxConfig:
    chains: dict[str, dict[str, NxKey]] = field(default_factory=dict)
    policies: dict[str, dict[str, str]] = field(default_factory=dict)
    bindings: dict[str, tuple[str, str]] = field(default_factory=dict)  # iface → (chain, policy)
    interfaces: dict[str, bool] = field(default_factory=dict)  # iface → admin up
    timezone: tuple[str, int, int] | None = None

    def copy(self) -> NxConfig:
        return copy.deepcopy(self)


@dataclass
class Mode:
    """Where the CLI is: top, a key chain, one of its keys, a policy or an interface."""

    kind: str = "top"
    name: str = ""
    key: str = ""


def _canonical_interface(name: str) -> str:
    match = _INTERFACE.fullmatch(name)
    if match is None:
        raise CommandError(f"% Invalid interface {name!r}")
    return f"Ethernet{match.group(1)}"


def _name(value: str, what: str) -> str:
    if not _NAME.fullmatch(value):
        raise CommandError(f"% Invalid {what} {value!r}")
    return value


def _top(config: NxConfig, words: list[str], mode: Mode) -> bool:
    """Commands valid in configuration mode; True when handled (``mode`` is updated)."""
    if words[:2] == ["key", "chain"] and len(words) == 4 and words[3] == "macsec":
        config.chains.setdefault(_name(words[2], "key chain"), {})
        mode.kind, mode.name, mode.key = "chain", words[2], ""
        return True
    if words[:3] == ["no", "key", "chain"] and len(words) == 5:
        if any(chain == words[3] for chain, _ in config.bindings.values()):
            raise CommandError(f"% key chain {words[3]} is in use by an interface")
        config.chains.pop(words[3], None)
        mode.kind = "top"
        return True
    if words[:2] == ["macsec", "policy"] and len(words) == 3:
        config.policies.setdefault(_name(words[2], "macsec policy"), {})
        mode.kind, mode.name = "policy", words[2]
        return True
    if words[0] == "interface" and len(words) == 2:
        itf = _canonical_interface(words[1])
        config.interfaces.setdefault(itf, True)
        mode.kind, mode.name = "interface", itf
        return True
    if words[:2] == ["clock", "timezone"] and len(words) == 5:
        config.timezone = (words[2], int(words[3]), int(words[4]))
        mode.kind = "top"
        return True
    if words[0] == "feature" and len(words) == 2:
        mode.kind = "top"
        return True
    return False


def _key_leaf(config: NxConfig, mode: Mode, line: str) -> bool:
    keys = config.chains[mode.name]
    key = keys[mode.key]
    octets = _OCTETS.fullmatch(line)
    if octets is not None:
        if key.cak_hex:
            raise CommandError("% Cannot overwrite the octet string of a MACsec key")
        algorithm = octets.group(3) or "AES_128_CMAC"
        if algorithm not in ALGORITHMS:
            raise CommandError(f"% Invalid cryptographic-algorithm {algorithm}")
        if octets.group(1) == "7" or len(octets.group(2)) != ALGORITHMS[algorithm]:
            raise CommandError(f"% key-octet-string does not fit {algorithm}")
        keys[mode.key] = NxKey(octets.group(2).upper(), algorithm, key.start, key.duration_s)
        return True
    lifetime = _LIFETIME.fullmatch(line)
    if line.startswith("send-lifetime"):
        if lifetime is None or lifetime.group(1):
            raise CommandError("% Invalid send-lifetime")
        hour, minute, second, month, day, year = lifetime.group(2, 3, 4, 5, 6, 7)
        if month not in MONTHS:
            raise CommandError(f"% Invalid month {month}")
        try:
            start = datetime(
                int(year), MONTHS.index(month) + 1, int(day), int(hour), int(minute), int(second)
            )
        except ValueError:
            raise CommandError("% Invalid send-lifetime start") from None
        duration = int(lifetime.group(9)) if lifetime.group(9) else None
        if duration is not None and not 1 <= duration <= 2147483647:
            raise CommandError("% Invalid duration")
        keys[mode.key] = NxKey(key.cak_hex, key.algorithm, start, duration)
        return True
    if line == "no send-lifetime":
        keys[mode.key] = NxKey(key.cak_hex, key.algorithm, None, None)
        return True
    return False


def _in_mode(config: NxConfig, mode: Mode, words: list[str], line: str) -> bool:
    if mode.kind in ("chain", "key"):
        keys = config.chains[mode.name]
        if words[0] == "key" and len(words) == 2:
            if not _KEY_ID.fullmatch(words[1]):
                raise CommandError(f"% Invalid key ID {words[1][:16]!r}: even-length hex")
            keys.setdefault(words[1], NxKey())
            mode.kind, mode.key = "key", words[1]
            return True
        if words[:2] == ["no", "key"] and len(words) == 3:
            keys.pop(words[2], None)
            mode.kind = "chain"
            return True
        if mode.kind == "key":
            return _key_leaf(config, mode, line)
        return False
    if mode.kind == "policy":
        leaves = config.policies[mode.name]
        if words[0] == "cipher-suite" and len(words) == 2:
            if words[1] not in SUITES:
                raise CommandError(f"% Invalid cipher-suite {words[1]}")
            leaves["cipher-suite"] = words[1]
            return True
        if words[0] == "key-server-priority" and len(words) == 2 and words[1].isdigit():
            leaves["key-server-priority"] = words[1]
            return True
        if words[0] == "security-policy" and words[1:] in (["should-secure"], ["must-secure"]):
            leaves["security-policy"] = words[1]
            return True
        if words[0] == "sak-expiry-time" and len(words) == 2:
            leaves["sak-expiry-time"] = words[1]
            return True
        return False
    if mode.kind == "interface":
        if words[:2] == ["macsec", "keychain"] and len(words) == 5 and words[3] == "policy":
            config.bindings[mode.name] = (words[2], words[4])
            return True
        if words[:3] == ["no", "macsec", "keychain"]:
            config.bindings.pop(mode.name, None)
            return True
        if line in ("shutdown", "no shutdown"):
            config.interfaces[mode.name] = line != "shutdown"
            return True
        return False
    return False


def apply_command(config: NxConfig, mode: Mode, line: str) -> None:
    """One configuration command: in the current mode first, else as a configuration-mode
    command (NX-OS leaves a sub-mode for a command it does not know there)."""
    words = line.split()
    if not words:
        return
    if _in_mode(config, mode, words, line):
        return
    if _top(config, words, mode):
        return
    raise CommandError(f"% Invalid command at '^' marker: {line[:40]}")


def check(config: NxConfig) -> None:
    """``verify``: every binding names a policy that exists and a chain whose keys fit its
    suite; every key is complete."""
    for itf, (chain, policy) in config.bindings.items():
        if policy not in config.policies:
            raise CommandError(f"% {itf}: macsec policy {policy} does not exist")
        suite = config.policies[policy].get("cipher-suite", "GCM-AES-XPN-256")
        digits = 64 if suite.endswith("256") else 32
        for key_id, key in config.chains.get(chain, {}).items():
            if key.cak_hex and len(key.cak_hex) != digits:
                raise CommandError(f"% {itf}: key {key_id} does not fit cipher-suite {suite}")
    for chain, keys in config.chains.items():
        for key_id, key in keys.items():
            if not key.cak_hex:
                raise CommandError(f"% key chain {chain}: key {key_id} has no key-octet-string")


def _type7(cak_hex: str) -> str:
    return "07" + hashlib.sha256(cak_hex.encode()).hexdigest()[: len(cak_hex)]


def running_config(config: NxConfig, hostname: str) -> str:
    lines = [
        "!Command: show running-config",
        f"!Time: {datetime.now():%a %b %d %H:%M:%S %Y}",
        "",
        "version 10.4(3) Bios:version 05.47",
        f"hostname {hostname}",
        "feature nxapi",
        "feature macsec",
        "",
    ]
    if config.timezone is not None:
        name, hours, minutes = config.timezone
        lines.append(f"clock timezone {name} {hours} {minutes}")
    for chain in sorted(config.chains):
        lines.append(f"key chain {chain} macsec")
        for key_id, key in sorted(config.chains[chain].items()):
            lines.append(f"  key {key_id}")
            if key.cak_hex:
                lines.append(
                    f"    key-octet-string 7 {_type7(key.cak_hex)} "
                    f"cryptographic-algorithm {key.algorithm}"
                )
            if key.start is not None:
                end = "infinite" if key.duration_s is None else f"duration {key.duration_s}"
                s = key.start
                lines.append(
                    f"    send-lifetime {s:%H:%M:%S} {MONTHS[s.month - 1]} {s:%d} {s.year} {end}"
                )
    for policy in sorted(config.policies):
        lines.append(f"macsec policy {policy}")
        lines += [f"  {k} {v}" for k, v in sorted(config.policies[policy].items())]
    for itf in sorted(config.interfaces):
        lines += ["", f"interface {itf}"]
        if itf in config.bindings:
            chain, policy = config.bindings[itf]
            lines.append(f"  macsec keychain {chain} policy {policy}")
        lines.append("  no shutdown" if config.interfaces[itf] else "  shutdown")
    return "\n".join(lines) + "\n"
