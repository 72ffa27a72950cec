"""A router's own ``apply-macro qkd`` settings, read from its configuration (pure, lxml only).

Each ``security macsec interfaces X apply-macro qkd`` names the link the interface belongs to and
how to rotate it; interfaces of one link (the seed's group CA) must agree. Keys and defaults:

    link NAME              role master|slave        sae OWN-SAE-ID
    peers SAE@HOST:PORT,…  (master: every slave)    master SAE@HOST:PORT (slave: its master)
    kme-host H  kme-port P  kme-ca true|false  kme-method post|get  kme-keyid-check true|false
    rotate-every S (600)   activation-delay S (60)  transport push|scp   peer-user U (remote)
    ckn-prefix HEX         ckn-mode prefix-uuid|sha256
    key-derivation seed|hybrid (seed; hybrid needs transport push: S goes with the offer call)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from qkd_macsec.core.derive import CKN_MODES, DEFAULT_CKN_PREFIX, KEY_DERIVATIONS
from qkd_macsec.devices.junos_setlines import MACRO
from qkd_macsec.devices.junos_xml import child_text, children, path

MACRO_NAME = MACRO
ROLES = ("master", "slave")
TRANSPORTS = ("push", "scp")
_PEER_RE = re.compile(r"^([A-Za-z0-9_.:-]{1,64})@([A-Za-z0-9_.:-]{1,253}):([0-9]{1,5})$")
_LINK_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class SettingsError(ValueError):
    """An ``apply-macro qkd`` that cannot be used (the message names interface and parameter)."""


@dataclass(frozen=True)
class Peer:
    sae: str
    host: str
    port: int


@dataclass
class LinkSettings:
    link: str
    role: str
    sae: str
    interfaces: list[str]
    ca: str
    suite: str
    key_chain: str
    peers: list[Peer]
    kme_host: str
    kme_port: int = 443
    kme_verify: bool = True
    kme_method: str = "post"
    keyid_check: bool = True
    interval_s: float = 600.0
    delay_s: float = 60.0
    transport: str = "push"
    peer_user: str = "remote"
    ckn_prefix: str = DEFAULT_CKN_PREFIX
    ckn_mode: str = "prefix-uuid"
    key_derivation: str = "seed"
    macros: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def master(self) -> Peer | None:
        """The link master (for a slave): the one peer it knows."""
        return self.peers[0] if self.role == "slave" and self.peers else None


def _macro_data(interface: Any) -> dict[str, str] | None:
    for macro in children(interface, "apply-macro"):
        if child_text(macro, "name") == MACRO_NAME:
            data: dict[str, str] = {}
            for item in children(macro, "data"):
                name = child_text(item, "name")
                if name:
                    data[name] = child_text(item, "value") or ""
            return data
    return None


def parse_peers(text: str, where: str) -> list[Peer]:
    peers = []
    for part in [p for p in text.split(",") if p]:
        match = _PEER_RE.match(part)
        if match is None:
            raise SettingsError(f"{where}: peer {part!r} is not SAE@HOST:PORT")
        port = int(match.group(3))
        if not 0 < port < 65536:
            raise SettingsError(f"{where}: peer {part!r} has port out of range")
        peers.append(Peer(match.group(1), match.group(2), port))
    return peers


def _flag(data: dict[str, str], name: str, default: bool, where: str) -> bool:
    value = data.get(name)
    if value is None:
        return default
    if value.lower() in ("true", "yes", "1"):
        return True
    if value.lower() in ("false", "no", "0"):
        return False
    raise SettingsError(f"{where}: {name} must be true or false, not {value!r}")


def _number(data: dict[str, str], name: str, default: float, where: str) -> float:
    value = data.get(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"{where}: {name} must be a number of seconds, not {value!r}") from None
    if number <= 0:
        raise SettingsError(f"{where}: {name} must be positive")
    return number


def _choice(
    data: dict[str, str], name: str, choices: tuple[str, ...], default: str, where: str
) -> str:
    value = data.get(name, default)
    if value not in choices:
        raise SettingsError(f"{where}: {name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _required(data: dict[str, str], name: str, where: str) -> str:
    value = data.get(name)
    if not value:
        raise SettingsError(f"{where}: apply-macro qkd needs {name}")
    return value


def _interface_settings(config: Any, name: str, ca_name: str, data: dict[str, str]) -> LinkSettings:
    where = f"interface {name}"
    link = _required(data, "link", where)
    if not _LINK_RE.match(link):
        raise SettingsError(f"{where}: link {link!r} is not a valid name")
    role = _choice(data, "role", ROLES, "master", where)
    macsec = path(config, "security", "macsec")
    ca = None
    for candidate in children(macsec, "connectivity-association") if macsec is not None else []:
        if child_text(candidate, "name") == ca_name:
            ca = candidate
    if ca is None:
        raise SettingsError(f"{where}: connectivity-association {ca_name!r} is not configured")
    chain = child_text(ca, "pre-shared-key-chain")
    if not chain:
        raise SettingsError(f"{where}: CA {ca_name} has no pre-shared-key-chain (on-box needs one)")
    suite = child_text(ca, "cipher-suite") or "gcm-aes-128"
    peers_text = data.get("peers") if role == "master" else data.get("master")
    peers = parse_peers(peers_text or "", where)
    if not peers:
        raise SettingsError(
            f"{where}: apply-macro qkd needs {'peers' if role == 'master' else 'master'}"
        )
    if role == "slave" and len(peers) != 1:
        raise SettingsError(f"{where}: a slave names exactly one master")
    try:
        kme_port = int(data.get("kme-port", "443"))
    except ValueError:
        raise SettingsError(f"{where}: kme-port must be a number") from None
    transport = _choice(data, "transport", TRANSPORTS, "push", where)
    derivation = _choice(data, "key-derivation", KEY_DERIVATIONS, "seed", where)
    if derivation == "hybrid" and transport != "push":
        raise SettingsError(
            f"{where}: key-derivation hybrid needs transport push (the SCP transport would "
            "leave S in a published file)"
        )
    return LinkSettings(
        link=link,
        role=role,
        sae=_required(data, "sae", where),
        interfaces=[name],
        ca=ca_name,
        suite=suite,
        key_chain=chain,
        peers=peers,
        kme_host=_required(data, "kme-host", where),
        kme_port=kme_port,
        kme_verify=_flag(data, "kme-ca", True, where),
        kme_method=_choice(data, "kme-method", ("post", "get"), "post", where),
        keyid_check=_flag(data, "kme-keyid-check", True, where),
        interval_s=_number(data, "rotate-every", 600.0, where),
        delay_s=_number(data, "activation-delay", 60.0, where),
        transport=transport,
        peer_user=data.get("peer-user", "remote"),
        ckn_prefix=data.get("ckn-prefix", DEFAULT_CKN_PREFIX),
        ckn_mode=_choice(data, "ckn-mode", CKN_MODES, "prefix-uuid", where),
        key_derivation=derivation,
        macros=dict(data),
    )


def read_link_settings(config: Any) -> dict[str, LinkSettings]:
    """Every link this router takes part in, by link name (interfaces of one link merged)."""
    links: dict[str, LinkSettings] = {}
    interfaces = path(config, "security", "macsec")
    for interface in children(interfaces, "interfaces") if interfaces is not None else []:
        name = child_text(interface, "name")
        data = _macro_data(interface)
        if not name or data is None:
            continue
        ca_name = child_text(interface, "connectivity-association")
        if not ca_name:
            raise SettingsError(
                f"interface {name}: apply-macro qkd without connectivity-association"
            )
        settings = _interface_settings(config, name, ca_name, data)
        known = links.get(settings.link)
        if known is None:
            links[settings.link] = settings
            continue
        if known.macros != settings.macros or known.ca != settings.ca:
            raise SettingsError(
                f"interface {name}: link {settings.link} settings differ from interface "
                f"{known.interfaces[0]}'s"
            )
        known.interfaces.append(name)
    return links


def chain_entries(config: Any, chain_name: str) -> dict[int, tuple[str, str]]:
    """Key-chain entries present: slot -> (key-name CKN, start-time text). Never the secret."""
    chains = path(config, "security", "authentication-key-chains")
    out: dict[int, tuple[str, str]] = {}
    for chain in children(chains, "key-chain") if chains is not None else []:
        if child_text(chain, "name") != chain_name:
            continue
        for key in children(chain, "key"):
            try:
                slot = int(child_text(key, "name") or "")
            except ValueError:
                continue
            out[slot] = (
                child_text(key, "key-name") or "",
                (child_text(key, "start-time") or "").strip('"'),
            )
    return out
