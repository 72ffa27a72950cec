"""What a configuration looks like when Junos shows it: normalised start-times, ``$9$`` secrets.

Real Junos never reads a secret back in clear: ``show configuration``, ``get-configuration`` in
every format and ``show | compare`` print ``$9$…`` (field evidence §1; the terraform provider
decodes ``$9$`` on read). A ``$9$`` value loaded again is decoded, so a read-back round-trips.

The encoding here is the simulator's own, NOT Juniper's ``$9$`` algorithm: a keystream from
SHA-256 over a fixed label and a per-value salt (derived from the value, so a read-back is stable
across reads), XORed with the text and written in a 64-letter alphabet. It is reversible by
design and obfuscation only, like Juniper's; what matters for the tests is that the clear hex
never appears in any read-back.

Start-times read back as :func:`~qkd_macsec.sim.config.zone.normalised_start_time` gives them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import tzinfo

from qkd_macsec.sim.config.checks import parse_start_time
from qkd_macsec.sim.config.paths import lookup
from qkd_macsec.sim.config.schema import Schema
from qkd_macsec.sim.config.tree import Node
from qkd_macsec.sim.config.zone import normalised_start_time

PREFIX = "$9$"
_ALPHABET = "QzF3nCAtOpB1uK-h7lSvWxGM.yE9eRZqgNiT0dHUwf6DbLk4jsPrJcVo5mIXY2a8"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
_LABEL = b"qkd-macsec simulator $9$ (not Juniper's algorithm)"
_SALT_LEN = 2


def _keystream(salt: bytes, length: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(_LABEL + salt + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def _to_letters(data: bytes) -> str:
    bits = int.from_bytes(b"\x01" + data, "big")
    letters: list[str] = []
    while bits:
        bits, digit = divmod(bits, 64)
        letters.append(_ALPHABET[digit])
    return "".join(reversed(letters))


def _from_letters(text: str) -> bytes:
    bits = 0
    for char in text:
        bits = bits * 64 + _INDEX[char]
    raw = bits.to_bytes((bits.bit_length() + 7) // 8, "big")
    if not raw or raw[0] != 1:
        raise ValueError("not a $9$ value")
    return raw[1:]


def encode_secret(clear: str) -> str:
    """``$9$…`` for a clear value (deterministic: the salt comes from the value)."""
    data = clear.encode()
    salt = hashlib.sha256(b"salt" + data).digest()[:_SALT_LEN]
    body = bytes(a ^ b for a, b in zip(data, _keystream(salt, len(data)), strict=True))
    return PREFIX + _to_letters(salt + body)


def decode_secret(value: str) -> str:
    """The clear value of a ``$9$`` value; a value without the prefix is returned as is."""
    if not value.startswith(PREFIX):
        return value
    try:
        raw = _from_letters(value[len(PREFIX) :])
    except (KeyError, ValueError):
        raise ValueError("malformed $9$ secret") from None
    salt, body = raw[:_SALT_LEN], raw[_SALT_LEN:]
    data = bytes(a ^ b for a, b in zip(body, _keystream(salt, len(body)), strict=True))
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise ValueError("malformed $9$ secret") from None


def walk_schema(node: Node, schema: Schema | None) -> Iterator[tuple[Node, Schema | None, Node]]:
    """(child, its schema, parent) for every node below ``node``."""
    for child in node.children:
        if schema is not None and child.name == schema.hidden_list:
            cs: Schema | None = schema.children[child.name]
        else:
            cs = lookup(schema, child.name)
        yield child, cs, node
        yield from walk_schema(child, cs)


def _is_chain_start_time(node: Node, parent: Node) -> bool:
    return node.name == "start-time" and parent.name == "key" and parent.key is not None


def present(root: Node, schema: Schema, zone: tzinfo) -> None:
    """Rewrite ``root`` in place as Junos shows it (a copy is expected)."""
    for node, cs, parent in list(walk_schema(root, schema)):
        if node.value is None or node.key is not None:
            continue
        if cs is not None and cs.secret and not node.value.startswith(PREFIX):
            node.value = encode_secret(node.value)
        elif _is_chain_start_time(node, parent):
            wall = parse_start_time(node.value)
            if wall is not None:
                node.value = normalised_start_time(wall, zone)


def decode_loaded(root: Node, schema: Schema) -> None:
    """Store what a load brought in the way the device keeps it: ``$9$`` secrets decoded (Junos
    accepts its own read-back) and key-chain start-times as plain ``YYYY-MM-DD.HH:MM:SS``
    wall-clock time (a read-back's `` +hhmm`` dropped, seconds added), so a read-back loaded
    again is the same configuration."""
    for node, cs, parent in walk_schema(root, schema):
        if node.value is None or node.key is not None:
            continue
        if cs is not None and cs.secret:
            node.value = decode_secret(node.value)
        elif _is_chain_start_time(node, parent):
            wall = parse_start_time(node.value)
            if wall is not None:
                node.value = wall.strftime("%Y-%m-%d.%H:%M:%S")
