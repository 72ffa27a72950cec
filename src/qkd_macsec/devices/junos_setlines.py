"""The Junos ``set``/``delete`` lines for a key-chain entry, a static CAK and a MACsec binding
(standard library only: the on-box script bundles this module as it is).

Pure text: callers pass values already validated (``junos_names``) or read from the device's own
configuration. ``devices.junos_render``, ``onbox.config`` and the on-box runtime all write their
lines through these functions, so the three agree by construction.
"""

from __future__ import annotations

KEY_CHAIN_SLOTS = 64  # a Junos key chain holds keys 0..63
MACSEC = "security macsec"
CA_PATH = f"{MACSEC} connectivity-association"
KEY_CHAINS = "security authentication-key-chains key-chain"
MACRO = "qkd"


def key_entry_lines(chain: str, slot: int, ckn: str, secret: str, start: str) -> list[str]:
    """A key-chain entry: key name (CKN), secret (CAK hex, or a mask) and start-time text."""
    key = f"set {KEY_CHAINS} {chain} key {slot}"
    return [f"{key} key-name {ckn}", f"{key} secret {secret}", f'{key} start-time "{start}"']


def key_removal_line(chain: str, slot: int) -> str:
    return f"delete {KEY_CHAINS} {chain} key {slot}"


def chain_tolerance_line(chain: str, seconds: int) -> str:
    return f"set {KEY_CHAINS} {chain} tolerance {seconds}"


def static_cak_lines(ca: str, ckn: str, cak: str) -> list[str]:
    """A connectivity association's pre-shared key (CKN and CAK hex, or a mask)."""
    return [
        f"set {CA_PATH} {ca} pre-shared-key ckn {ckn}",
        f"set {CA_PATH} {ca} pre-shared-key cak {cak}",
    ]


def ca_lines(ca: str, suite: str, key_chain: str | None) -> list[str]:
    """A static-CAK connectivity association, on a key chain when one is given."""
    lines = [
        f"set {CA_PATH} {ca} cipher-suite {suite}",
        f"set {CA_PATH} {ca} security-mode static-cak",
    ]
    if key_chain is not None:
        lines.append(f"set {CA_PATH} {ca} pre-shared-key-chain {key_chain}")
    return lines


def exclude_protocol_line(ca: str, protocol: str) -> str:
    return f"set {CA_PATH} {ca} exclude-protocol {protocol}"


def interface_binding_line(interface: str, ca: str) -> str:
    return f"set {MACSEC} interfaces {interface} connectivity-association {ca}"


def macro_line(interface: str, name: str, value: str) -> str:
    """One ``apply-macro qkd`` parameter on a MACsec interface (what the on-box runtime reads)."""
    return f"set {MACSEC} interfaces {interface} apply-macro {MACRO} {name} {value}"
