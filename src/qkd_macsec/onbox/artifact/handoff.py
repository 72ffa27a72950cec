"""Hand-off messages between the master and its peers (JSON; key IDs, never QKD keys or CAKs).

``offer``    master → peer: {link, key_ID, slot, start_time, keep, master}; the peer fetches the key
             with dec_keys, stages it and answers ``ack`` (ok + confirmation tag) or a refusal.
             A ``key-derivation hybrid`` link's offer also names ``hybrid_share_file``: the file
             in the peer user's home that the master has just put S in (``share_file``), S being
             its fresh secret that no KME sees; the peer derives the CAK from the QKD key and S.
             S itself is never in a message: an offer travels as an op-script argument, which
             any local user of the router can read. An offer carrying ``hybrid_share`` inline
             (an old master) is refused.
             ``start_time`` is UTC; each end writes it in its own ``system time-zone``.
``withdraw`` master → peer: remove the staged entry for {link, key_ID, slot} (idempotent). Only a
             pending entry is removed: one whose start-time has passed in the peer's clock is
             kept and the answer says so (``ok`` false, ``held`` true: "I am on this key").
The seed's SCP transport uses the same ``offer`` body as the master's published key-ID file.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from qkd_macsec.devices.junos_setlines import KEY_CHAIN_SLOTS
from qkd_macsec.onbox.artifact.share_file import is_share_file_name

MAX_MESSAGE = 4096
FORBIDDEN_FIELDS = ("key", "cak", "secret", "keys", "hybrid_share")
_KEY_ID_RE = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_START_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\.\d{2}:\d{2}:\d{2}$")


class HandoffError(ValueError):
    """A hand-off message that is malformed or carries something it must not."""


@dataclass(frozen=True)
class Offer:
    link: str
    key_ID: str
    slot: int
    start_time: str
    keep: tuple[int, ...]
    master: str
    #: Hybrid link: the file in the peer's home holding S ("" for seed). A name, not S.
    hybrid_share_file: str = ""

    def to_json(self) -> str:
        body = asdict(self)
        body["type"] = "offer"
        body["keep"] = list(self.keep)
        if not self.hybrid_share_file:
            del body["hybrid_share_file"]
        return json.dumps(body, sort_keys=True)

    def published(self) -> Offer:
        """This offer without the share file's name: what may be written to a file or shown."""
        return Offer(self.link, self.key_ID, self.slot, self.start_time, self.keep, self.master)


@dataclass(frozen=True)
class Ack:
    link: str
    key_ID: str
    slot: int
    ok: bool
    confirm: str = ""
    reason: str = ""
    held: bool = False  # withdraw refused: the entry is present and its start-time has passed

    def to_json(self) -> str:
        body = asdict(self)
        body["type"] = "ack"
        return json.dumps(body, sort_keys=True)


@dataclass(frozen=True)
class Withdraw:
    link: str
    key_ID: str
    slot: int

    def to_json(self) -> str:
        body = asdict(self)
        body["type"] = "withdraw"
        return json.dumps(body, sort_keys=True)


def _load(text: str, expected: str) -> dict[str, Any]:
    if len(text) > MAX_MESSAGE:
        raise HandoffError(f"{expected} message is too long ({len(text)} characters)")
    try:
        body = json.loads(text)
    except ValueError:
        raise HandoffError(f"{expected} message is not JSON") from None
    if not isinstance(body, dict):
        raise HandoffError(f"{expected} message is not a JSON object")
    if body.get("type") != expected:
        raise HandoffError(f"expected a {expected} message, got {body.get('type')!r}")
    leaked = [name for name in FORBIDDEN_FIELDS if name in body]
    if leaked:
        raise HandoffError(f"{expected} message carries forbidden field(s) {', '.join(leaked)}")
    return body


def _field(body: dict[str, Any], name: str, kind: type, what: str) -> Any:
    value = body.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise HandoffError(f"{what}: field {name!r} missing or not {kind.__name__}")
    return value


def _slot(body: dict[str, Any], what: str) -> int:
    slot = _field(body, "slot", int, what)
    if not 0 <= slot < KEY_CHAIN_SLOTS:
        raise HandoffError(f"{what}: slot {slot} is outside 0..{KEY_CHAIN_SLOTS - 1}")
    return int(slot)


def _common(body: dict[str, Any], what: str) -> tuple[str, str, int]:
    link = _field(body, "link", str, what)
    if not _NAME_RE.match(link):
        raise HandoffError(f"{what}: link name {link!r} is not valid")
    key_id = _field(body, "key_ID", str, what)
    if not _KEY_ID_RE.match(key_id):
        raise HandoffError(f"{what}: key_ID is not a valid key ID")
    return link, key_id, _slot(body, what)


def parse_offer(text: str) -> Offer:
    body = _load(text, "offer")
    link, key_id, slot = _common(body, "offer")
    start = _field(body, "start_time", str, "offer")
    if not _START_RE.match(start):
        raise HandoffError(f"offer: start_time {start!r} is not YYYY-MM-DD.HH:MM:SS")
    keep = _field(body, "keep", list, "offer")
    if not all(
        isinstance(s, int) and not isinstance(s, bool) and 0 <= s < KEY_CHAIN_SLOTS for s in keep
    ):
        raise HandoffError(f"offer: keep must list slots 0..{KEY_CHAIN_SLOTS - 1}")
    master = _field(body, "master", str, "offer")
    if not _NAME_RE.match(master):
        raise HandoffError(f"offer: master SAE ID {master!r} is not valid")
    share_file = body.get("hybrid_share_file", "")
    if share_file != "" and not is_share_file_name(share_file):
        raise HandoffError("offer: hybrid_share_file is not a share file name")
    return Offer(link, key_id, slot, start, tuple(keep), master, share_file)


def share_file_in(text: str) -> str | None:
    """The share file an offer names, read loosely: so that a run refusing the offer (malformed,
    busy, crashed) still deletes the file the master put S in."""
    try:
        body = json.loads(text) if len(text) <= MAX_MESSAGE else None
    except ValueError:
        return None
    name = body.get("hybrid_share_file") if isinstance(body, dict) else None
    return name if is_share_file_name(name) else None


def parse_ack(text: str) -> Ack:
    body = _load(text, "ack")
    link, key_id, slot = _common(body, "ack")
    ok = body.get("ok")
    if not isinstance(ok, bool):
        raise HandoffError("ack: field 'ok' missing or not bool")
    confirm = body.get("confirm", "")
    reason = body.get("reason", "")
    if not isinstance(confirm, str) or not isinstance(reason, str):
        raise HandoffError("ack: confirm and reason must be strings")
    held = body.get("held", False)
    if not isinstance(held, bool):
        raise HandoffError("ack: field 'held' is not bool")
    return Ack(link, key_id, slot, ok, confirm, reason[:500], held)


def parse_withdraw(text: str) -> Withdraw:
    body = _load(text, "withdraw")
    link, key_id, slot = _common(body, "withdraw")
    return Withdraw(link, key_id, slot)


def last_json_line(output: str) -> str:
    """The last line of script output that looks like a JSON object (the answer)."""
    for line in reversed(output.strip().splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            return line
    raise HandoffError("peer answered without a JSON message")
