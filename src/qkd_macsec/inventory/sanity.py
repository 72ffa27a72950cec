"""Settings that are valid but probably not what the operator wants (no I/O but resolving the
journal path's symlinks).

``inventory check`` prints these as warnings and still succeeds: each one can be deliberate in a
lab (no KME verification, unverified host keys, a one-minute rotation), none of them should go
unnoticed in production. Every line is ``field: message``, like the inventory's errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from qkd_macsec.devices.platform import get_platform
from qkd_macsec.inventory.durations import format_duration
from qkd_macsec.inventory.errors import field_path
from qkd_macsec.inventory.model import Inventory
from qkd_macsec.macsec.keys import KeyDerivation
from qkd_macsec.posture import HopKind, PqPolicy

MIN_SENSIBLE_ROTATION_S = 60.0
MAX_SENSIBLE_ROTATION_S = 7 * 86400.0
_DISCARDING = (Path("/dev/null"), Path("/dev/zero"), Path("/dev/full"))
_Warn = Callable[[str, str], None]


def inventory_warnings(inventory: Inventory) -> list[str]:
    """Warnings (``field: message``) for ``inventory``, in file order, without duplicates."""
    found: dict[str, None] = {}

    def warn(field: str, message: str) -> None:
        found[f"{field}: {message}"] = None

    for name, kme in inventory.kmes.items():
        if not kme.verify:
            warn(
                field_path(("kmes", name, "verify")),
                "false: the KME's TLS certificate is not checked, so anyone on the path can "
                "impersonate the KME and read every key it hands out",
            )
    for name, host in inventory.hosts.items():
        if host.insecure_host_keys:
            warn(
                field_path(("hosts", name, "insecure_host_keys")),
                "true: the router's SSH host key is not verified, so anyone on the path can "
                "impersonate it and read the CAKs installed on it",
            )
    policy = inventory.policy
    _rotation(warn, "policy.rotation_interval", policy.rotation_interval)
    for index, link in enumerate(inventory.links):
        where = f"links[{index}]"
        _rotation(warn, f"{where}.rotation_interval", link.rotation_interval, link.name)
        every = format_duration(link.rotation_interval)
        if policy.dec_keys_wait > link.rotation_interval:
            warn(
                "policy.dec_keys_wait",
                f"{format_duration(policy.dec_keys_wait)} is longer than link {link.name!r}'s "
                f"rotation interval ({every}): one slow KME can hold up the next rotation",
            )
        if link.key_derivation is KeyDerivation.HYBRID:
            _hybrid_hops(warn, inventory, where, link.name, link.host_names)
        for host_name in link.host_names:
            host = inventory.hosts[host_name]
            if host.timeout > link.rotation_interval:
                warn(
                    field_path(("hosts", host_name, "timeout")),
                    f"{format_duration(host.timeout)} is longer than link {link.name!r}'s "
                    f"rotation interval ({every}): a hung router can hold up the next rotation",
                )
    delay = policy.activation_delay
    delay_field = "policy.activation_delay"
    if delay is None:
        delay, delay_field = policy.min_activation_delay, "policy.min_activation_delay"
    if policy.clock_tolerance > delay:
        warn(
            "policy.clock_tolerance",
            f"{format_duration(policy.clock_tolerance)} is more than {delay_field} "
            f"({format_duration(delay)}): router clocks that far apart may switch to a new key "
            "before every end has it",
        )
    journal = policy.journal
    if journal in _DISCARDING or journal.resolve() in _DISCARDING:
        warn(
            "policy.journal",
            f"{journal} keeps nothing: after a crash, rotations in flight cannot be recovered "
            "and the stale-key check has no history",
        )
    return list(found)


def _hybrid_hops(
    warn: _Warn, inventory: Inventory, where: str, link: str, hosts: Iterable[str]
) -> None:
    """A hybrid link's CAK crosses each end's management session: SSH for NETCONF platforms,
    TLS for HTTPS ones; each kind's policy should be pq-required."""
    transport = inventory.policy.transport
    kinds: list[HopKind] = []
    for host in hosts:
        management = get_platform(inventory.hosts[host].platform).management
        kind: HopKind = "ssh" if management == "ssh" else "tls"
        if kind not in kinds:
            kinds.append(kind)
    for kind in kinds:
        rule = transport.for_kind(kind)
        if rule is PqPolicy.REQUIRED:
            continue
        over = "SSH" if kind == "ssh" else "TLS (NX-API)"
        warn(
            f"{where}.key_derivation",
            f"hybrid on link {link!r} while policy.transport.{kind} is {rule}: the CAK that "
            f"carries S reaches the routers over {over}, so a classical {kind.upper()} session "
            "recorded today gives it away to a future quantum computer; set "
            f"policy.transport.{kind}: pq-required",
        )


def _rotation(warn: _Warn, field: str, seconds: float, link: str | None = None) -> None:
    of = f" (link {link!r})" if link is not None else ""
    if seconds < MIN_SENSIBLE_ROTATION_S:
        warn(
            field,
            f"{format_duration(seconds)}{of} is under a minute: every rotation takes key "
            "material and a commit on every end",
        )
    elif seconds > MAX_SENSIBLE_ROTATION_S:
        warn(
            field,
            f"{format_duration(seconds)}{of} is over a week: keys stay in use far longer than "
            "QKD key rates require",
        )
