"""Commit checks: what Junos refuses at ``commit check`` for the statements we model.

A short CAK is *not* refused (Junos zero-fills it); the tool has to enforce the length itself.
Messages name the statement but never contain a CAK or key-chain secret.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime

from qkd_macsec.sim.config.errors import CommitCheckError
from qkd_macsec.sim.config.tree import Node
from qkd_macsec.sim.config.zone import resolve_zone

DEFAULT_CIPHER_SUITE = "gcm-aes-128"
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_START_FORMATS = ("%Y-%m-%d.%H:%M:%S", "%Y-%m-%d.%H:%M")
#: A read-back start-time loaded again: `` +hhmm`` after the wall-clock time (evidence §1).
_OFFSET_SUFFIX = re.compile(r"\s+[+-]\d{4}$")


def parse_start_time(text: str) -> datetime | None:
    """A key-chain / generate-event start-time as a naive device-local datetime, or None.

    The `` +hhmm`` a read-back carries is dropped: it is the device zone's own offset, so the
    wall-clock time before it is what the device means (a round trip of its own output)."""
    text = _OFFSET_SUFFIX.sub("", text.strip())
    for fmt in _START_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def suite_hex_len(suite: str) -> int:
    return 64 if suite.endswith("256") else 32


def ckn_problem(ckn: str) -> str | None:
    if not _HEX.match(ckn):
        return "CKN must be hexadecimal"
    if len(ckn) % 2 or not 2 <= len(ckn) <= 64:
        return "CKN must be an even number of hexadecimal digits, from 2 to 64"
    return None


def cak_problem(cak: str, suite: str) -> str | None:
    limit = suite_hex_len(suite)
    if not _HEX.match(cak) or len(cak) % 2:
        return "CAK must be an even number of hexadecimal digits"
    if len(cak) > limit:
        return f"CAK is longer than cipher-suite {suite} allows ({limit} hexadecimal digits)"
    return None


def _int_problem(value: str, low: int, high: int, what: str) -> str | None:
    if not value.isdigit() or not low <= int(value) <= high:
        return f"{what} '{value}' out of range ({low}..{high})"
    return None


class _Findings:
    def __init__(self) -> None:
        self.items: list[CommitCheckError] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(CommitCheckError(message, path=path))

    def check(self, path: str, problem: str | None) -> None:
        if problem is not None:
            self.add(path, problem)


#: mgd's text for a CKN shorter than 64 hex digits (real ACX7348 syslog, field evidence §4,
#: ``MACSEC_CKN_LENGTH_WARNING``). The commit still succeeds. That it also reaches the NETCONF
#: client as an <rpc-error> of severity warning is inferred (evidence §6: "commits warn too").
CKN_LENGTH_WARNING = (
    "To maximize security, recommend configuring all 64 hexadecimal digits of pre-shared-key ckn"
)


@dataclass(frozen=True)
class CommitWarning:
    path: str
    message: str


def commit_warnings(root: Node) -> list[CommitWarning]:
    """Warnings a commit of ``root`` answers with: one CKN-length warning per CA whose
    pre-shared-key ckn, or whose chain's key-name, is shorter than 64 hex digits."""
    macsec = root.get("security", "macsec")
    if macsec is None:
        return []
    container = root.get("security", "authentication-key-chains")
    chains = {kc.key: kc for kc in container.find_all("key-chain")} if container else {}
    out: list[CommitWarning] = []
    for ca in macsec.find_all("connectivity-association"):
        psk = ca.find("pre-shared-key")
        ckns = [psk.leaf("ckn")] if psk is not None else []
        chain = chains.get(ca.leaf("pre-shared-key-chain"))
        if chain is not None:
            ckns += [key.leaf("key-name") for key in chain.find_all("key")]
        if any(ckn is not None and len(ckn) < 64 for ckn in ckns):
            path = f"[edit security macsec connectivity-association {ca.key}]"
            out.append(CommitWarning(path, CKN_LENGTH_WARNING))
    return out


def check_tree(root: Node) -> list[CommitCheckError]:
    found = _Findings()
    chains = _check_key_chains(root, found)
    _check_macsec(root, chains, found)
    _check_system(root, found)
    _check_event_options(root, found)
    return found.items


def _check_key_chains(root: Node, found: _Findings) -> dict[str, Node]:
    container = root.get("security", "authentication-key-chains")
    chains = {kc.key or "": kc for kc in container.find_all("key-chain")} if container else {}
    for name, chain in chains.items():
        path = f"security authentication-key-chains key-chain {name}"
        tolerance = chain.leaf("tolerance")
        if tolerance is not None:
            found.check(path, _int_problem(tolerance, 0, 999_999_999, "tolerance"))
        used: dict[datetime, str] = {}
        for key in chain.find_all("key"):
            key_id = key.key or ""
            kpath = f"{path} key {key_id}"
            found.check(kpath, _int_problem(key_id, 0, 63, "key"))
            key_name = key.leaf("key-name")
            if key_name is not None:
                found.check(kpath, ckn_problem(key_name))
            start_text = key.leaf("start-time")
            if start_text is None:
                continue
            start = parse_start_time(start_text)
            if start is None:
                found.add(
                    kpath,
                    f"start-time '{start_text}' is invalid: use YYYY-MM-DD.HH:MM[:SS]",
                )
            elif start in used:
                found.add(kpath, f"start-time '{start_text}' is already used by key {used[start]}")
            else:
                used[start] = key_id
    return chains


def _check_macsec(root: Node, chains: dict[str, Node], found: _Findings) -> None:
    macsec = root.get("security", "macsec")
    if macsec is None:
        return
    cas = {ca.key or "": ca for ca in macsec.find_all("connectivity-association")}
    for name, ca in cas.items():
        path = f"security macsec connectivity-association {name}"
        suite = ca.leaf("cipher-suite") or DEFAULT_CIPHER_SUITE
        psk = ca.find("pre-shared-key")
        chain_name = ca.leaf("pre-shared-key-chain")
        if psk is not None and chain_name is not None:
            found.add(path, "pre-shared-key and pre-shared-key-chain are mutually exclusive")
        for label in ("pre-shared-key", "fallback-key"):
            pair = ca.find(label)
            if pair is not None:
                _check_pair(pair, suite, f"{path} {label}", label, found)
        if chain_name is not None:
            chain = chains.get(chain_name)
            if chain is None:
                found.add(path, f"pre-shared-key-chain {chain_name}: key-chain is not defined")
            else:
                _check_chain_for_macsec(chain, chain_name, suite, found)
        if ca.leaf("security-mode") == "static-cak" and psk is None and chain_name is None:
            found.add(path, "security-mode static-cak needs pre-shared-key or pre-shared-key-chain")
        mka = ca.find("mka")
        if mka is not None:
            for leaf, low, high in (
                ("key-server-priority", 0, 255),
                ("transmit-interval", 2000, 6000),
                ("sak-rekey-interval", 60, 86400),
            ):
                value = mka.leaf(leaf)
                if value is not None:
                    found.check(f"{path} mka", _int_problem(value, low, high, leaf))
    for itf in macsec.find_all("interfaces"):
        ca_name = itf.leaf("connectivity-association")
        if ca_name is not None and ca_name not in cas:
            found.add(
                f"security macsec interfaces {itf.key}",
                f"connectivity-association {ca_name} is not defined",
            )


def _check_pair(pair: Node, suite: str, path: str, label: str, found: _Findings) -> None:
    ckn, cak = pair.leaf("ckn"), pair.leaf("cak")
    if ckn is None or cak is None:
        found.add(path, f"{label} needs both ckn and cak")
    if ckn is not None:
        found.check(path, ckn_problem(ckn))
    if cak is not None:
        found.check(path, cak_problem(cak, suite))


def _check_chain_for_macsec(chain: Node, name: str, suite: str, found: _Findings) -> None:
    for key in chain.find_all("key"):
        kpath = f"security authentication-key-chains key-chain {name} key {key.key}"
        if key.leaf("key-name") is None:
            found.add(kpath, "key-name is required for a key used by MACsec")
        secret = key.leaf("secret")
        if secret is None:
            found.add(kpath, "secret is required for a key used by MACsec")
        else:
            found.check(kpath, cak_problem(secret, suite))


def _check_system(root: Node, found: _Findings) -> None:
    system = root.get("system")
    if system is None:
        return
    zone = system.leaf("time-zone")
    if zone is not None and resolve_zone(zone) is None:
        found.add("system", f"time-zone '{zone}' is not a known time zone")
    for mapping in system.find_all("static-host-mapping"):
        path = f"system static-host-mapping {mapping.key}"
        for family, parser in (("inet", ipaddress.IPv4Address), ("inet6", ipaddress.IPv6Address)):
            for node in mapping.find_all(family):
                try:
                    parser(node.value or "")
                except ValueError:
                    found.add(path, f"invalid {family} address '{node.value}'")


def _check_event_options(root: Node, found: _Findings) -> None:
    events = root.get("event-options")
    if events is None:
        return
    for gen in events.find_all("generate-event"):
        path = f"event-options generate-event {gen.key}"
        interval = gen.leaf("time-interval")
        if interval is not None:
            found.check(path, _int_problem(interval, 60, 2_592_000, "time-interval"))
        start = gen.leaf("start-time")
        if start is not None and parse_start_time(start) is None:
            found.add(path, f"start-time '{start}' is invalid: use YYYY-MM-DD.HH:MM[:SS]")
        if interval is None and gen.leaf("time-of-day") is None:
            found.add(path, "generate-event needs time-interval or time-of-day")
