"""The configuration an on-box deployment commits on each router (pure: inventory → set lines).

Per link end: the connectivity association on a key chain, the interface binding and the
``apply-macro qkd`` the runtime reads (see ``onbox.artifact.settings``). Routers that run a
timer (link masters, and slaves using the seed's SCP pull) also get the event-options that fire
the script, with the script's sha-256 so Junos refuses a tampered file.
"""

from __future__ import annotations

from dataclasses import dataclass

from qkd_macsec.devices.base import ChangeSet, MacsecBinding
from qkd_macsec.devices.junos_names import validate_macro_name, validate_macro_value
from qkd_macsec.devices.junos_options import JunosOptions
from qkd_macsec.devices.junos_setlines import KEY_CHAINS
from qkd_macsec.devices.platform import get_platform
from qkd_macsec.inventory import Inventory
from qkd_macsec.inventory.model import Link
from qkd_macsec.macsec.keys import KeyDerivation
from qkd_macsec.onbox.build import SCRIPT_NAME

EVENT_NAME = "qkd-onbox-timer"
POLICY_NAME = "qkd-onbox"
SCRIPT_USER = "remote"


class OnboxConfigError(ValueError):
    """The inventory cannot be deployed on-box (names link and reason)."""


@dataclass(frozen=True)
class OnboxOptions:
    timer_s: int = 60  # generate-event time-interval (Junos minimum 60)
    activation_delay_s: float = 60.0
    transport: str = "push"  # push | scp
    script_user: str = SCRIPT_USER
    chain_tolerance_s: int | None = None
    rotation_interval_s: float | None = None  # None: each link's inventory interval


def _peer(inventory: Inventory, host: str) -> str:
    h = inventory.hosts[host]
    return f"{h.sae_id}@{h.host}:{h.port}"


def _macros(
    inventory: Inventory, link: Link, host: str, options: OnboxOptions
) -> list[tuple[str, str]]:
    h = inventory.hosts[host]
    if h.kme is None or h.kme not in inventory.kmes:
        raise OnboxConfigError(f"link {link.name}: host {host} has no KME")
    kme = inventory.kmes[h.kme]
    master = link.master.host == host
    interval = options.rotation_interval_s or link.rotation_interval
    macros = [
        ("link", link.name),
        ("role", "master" if master else "slave"),
        ("sae", h.sae_id),
        (
            ("peers", ",".join(_peer(inventory, s.host) for s in link.slaves))
            if master
            else ("master", _peer(inventory, link.master.host))
        ),
        ("kme-host", kme.hostname),
        ("kme-port", str(kme.port)),
        ("kme-ca", "true" if kme.verify else "false"),
        ("kme-method", "post"),
        ("kme-keyid-check", "true" if link.kme_keyid_check else "false"),
        ("rotate-every", f"{interval:g}"),
        ("activation-delay", f"{options.activation_delay_s:g}"),
        ("transport", options.transport),
        ("peer-user", options.script_user),
        ("ckn-prefix", link.ckn_prefix),
        ("ckn-mode", str(link.ckn_mode)),
    ]
    if link.key_derivation is KeyDerivation.HYBRID:  # seed: the seed's macros, unchanged
        if options.transport != "push":
            raise OnboxConfigError(
                f"link {link.name}: key_derivation hybrid needs the push transport "
                "(S goes with the offer call; SCP would leave it in a published file)"
            )
        macros.append(("key-derivation", str(link.key_derivation)))
    return [(validate_macro_name(n), validate_macro_value(v)) for n, v in macros]


def link_lines(inventory: Inventory, link: Link, host: str, options: OnboxOptions) -> list[str]:
    """The link's CA, key-chain description and interface bindings with their macros, rendered
    by the Junos platform's own renderer (the one ``apply`` and ``config show`` use)."""
    if link.key_chain is None:
        raise OnboxConfigError(f"link {link.name}: on-box rotation needs a key chain")
    ends = [e for e in link.ends if e.host == host]
    if not ends:
        return []
    extras = JunosOptions(macros=tuple(_macros(inventory, link, host, options)))
    changes = ChangeSet(
        bindings=[
            MacsecBinding(
                interface=interface,
                ca=link.connectivity_association,
                cipher_suite=link.cipher_suite,
                key_chain=link.key_chain,
                exclude_protocols=tuple(link.mka.exclude_protocols),
                chain_tolerance_s=options.chain_tolerance_s,
                options=extras,
            )
            for end in ends
            for interface in end.interfaces
        ]
    )
    rendered = get_platform("junos").render(changes, False).splitlines()
    # The renderer validated the chain name; the description marks the chain as on-box owned.
    return [*rendered, f"set {KEY_CHAINS} {link.key_chain} description qkd-onbox"]


def runs_timer(inventory: Inventory, host: str, options: OnboxOptions) -> bool:
    """Masters run a timer; slaves only with the SCP pull transport."""
    for link in inventory.links:
        if link.master.host == host:
            return True
        if options.transport == "scp" and any(s.host == host for s in link.slaves):
            return True
    return False


def event_lines(script_sha256: str, options: OnboxOptions) -> list[str]:
    script = f"set event-options event-script file {SCRIPT_NAME}"
    return [
        f"set event-options generate-event {EVENT_NAME} time-interval {options.timer_s}",
        f"set event-options policy {POLICY_NAME} events {EVENT_NAME}",
        f"set event-options policy {POLICY_NAME} then event-script {SCRIPT_NAME}",
        f"{script} python-script-user {options.script_user}",
        f"{script} checksum sha-256 {script_sha256}",
        "set event-options traceoptions file qkd-onbox.log size 10m",
        "set system scripts language python3",
        f"set system scripts op file {SCRIPT_NAME}",
    ]


def router_lines(
    inventory: Inventory, host: str, script_sha256: str, options: OnboxOptions
) -> list[str]:
    """Everything ``onbox deploy`` commits on ``host`` (order-stable, duplicates removed)."""
    lines: list[str] = []
    for link in inventory.links:
        lines += link_lines(inventory, link, host, options)
    if runs_timer(inventory, host, options):
        lines += event_lines(script_sha256, options)
    else:
        lines.append(f"set system scripts op file {SCRIPT_NAME}")
        lines.append("set system scripts language python3")
    return list(dict.fromkeys(lines))
