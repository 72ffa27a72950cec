"""Per-interface effective MACsec keys of a configuration (pure).

What the device would actually use: CAKs zero-filled to the cipher suite's length (Junos
silently zero-fills a short CAK), key-chain keys sorted by start-time. Statements that fail
commit checks (bad hex, missing parts) are skipped rather than raised: a committed
configuration has passed ``check()`` already.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from qkd_macsec.sim.config.checks import (
    DEFAULT_CIPHER_SUITE,
    cak_problem,
    ckn_problem,
    parse_start_time,
    suite_hex_len,
)
from qkd_macsec.sim.config.zone import wall_to_utc, zone_of

if TYPE_CHECKING:
    from qkd_macsec.sim.config.configuration import Configuration
    from qkd_macsec.sim.config.tree import Node

DEFAULT_KEY_SERVER_PRIORITY = 16


@dataclass(frozen=True)
class StaticKey:
    ckn: str
    cak: bytes = field(repr=False)  # zero-filled to the suite length


@dataclass(frozen=True)
class ChainKey:
    key_id: int
    ckn: str
    cak: bytes = field(repr=False)
    #: Naive UTC on the DEVICE's clock (its skew not applied): the written wall-clock time read
    #: in the configured system time-zone (evidence §1). ``min`` when there is no start-time.
    start: datetime = datetime.min


@dataclass(frozen=True)
class InterfaceMacsec:
    interface: str
    ca: str
    cipher_suite: str
    static: StaticKey | None
    chain: tuple[ChainKey, ...]  # sorted by start
    chain_name: str | None
    key_server_priority: int = DEFAULT_KEY_SERVER_PRIORITY
    #: Key-chain ``tolerance`` (s): how long the previous chain key stays acceptable.
    tolerance_s: int = 0


def zero_filled_cak(cak_hex: str, suite: str) -> bytes:
    """The CAK bytes the device uses: right-padded with zeros to the suite's key length."""
    return bytes.fromhex(cak_hex.ljust(suite_hex_len(suite), "0"))


def _usable(ckn: str | None, cak: str | None, suite: str) -> bool:
    return (
        ckn is not None
        and cak is not None
        and ckn_problem(ckn) is None
        and cak_problem(cak, suite) is None
    )


def _chain_keys(chain: Node, suite: str, zone: tzinfo) -> tuple[ChainKey, ...]:
    keys: list[ChainKey] = []
    for key in chain.find_all("key"):
        ckn, cak = key.leaf("key-name"), key.leaf("secret")
        if not (key.key or "").isdigit() or not _usable(ckn, cak, suite):
            continue
        assert ckn is not None
        assert cak is not None
        start_text = key.leaf("start-time")
        start = parse_start_time(start_text) if start_text is not None else datetime.min
        if start is None:
            continue
        if start_text is not None:
            start = wall_to_utc(start, zone)
        keys.append(ChainKey(int(key.key or 0), ckn.lower(), zero_filled_cak(cak, suite), start))
    return tuple(sorted(keys, key=lambda k: (k.start, k.key_id)))


def macsec_interfaces(cfg: Configuration) -> dict[str, InterfaceMacsec]:
    """Interfaces under ``security macsec interfaces`` bound to an existing CA."""
    root = cfg.effective_root()  # deactivated statements have no effect
    zone = zone_of(root)
    macsec = root.get("security", "macsec")
    if macsec is None:
        return {}
    cas = {ca.key: ca for ca in macsec.find_all("connectivity-association")}
    chains_node = root.get("security", "authentication-key-chains")
    chains = {kc.key: kc for kc in chains_node.find_all("key-chain")} if chains_node else {}
    out: dict[str, InterfaceMacsec] = {}
    for itf in macsec.find_all("interfaces"):
        ca_name = itf.leaf("connectivity-association")
        ca = cas.get(ca_name) if ca_name is not None else None
        if ca is None or ca_name is None or itf.key is None:
            continue
        suite = ca.leaf("cipher-suite") or DEFAULT_CIPHER_SUITE
        static = None
        psk = ca.find("pre-shared-key")
        if psk is not None:
            ckn, cak = psk.leaf("ckn"), psk.leaf("cak")
            if _usable(ckn, cak, suite):
                assert ckn is not None
                assert cak is not None
                static = StaticKey(ckn.lower(), zero_filled_cak(cak, suite))
        chain_name = ca.leaf("pre-shared-key-chain")
        chain_node = chains.get(chain_name) if chain_name is not None else None
        chain = _chain_keys(chain_node, suite, zone) if chain_node is not None else ()
        mka = ca.find("mka")
        prio_text = mka.leaf("key-server-priority") if mka is not None else None
        priority = (
            int(prio_text)
            if prio_text is not None and prio_text.isdigit()
            else DEFAULT_KEY_SERVER_PRIORITY
        )
        tolerance = chain_node.leaf("tolerance") if chain_node is not None else None
        out[itf.key] = InterfaceMacsec(
            interface=itf.key,
            ca=ca_name,
            cipher_suite=suite,
            static=static,
            chain=chain,
            chain_name=chain_name,
            key_server_priority=priority,
            tolerance_s=int(tolerance) if tolerance is not None and tolerance.isdigit() else 0,
        )
    return out
