"""The pure checks of an ETSI GS QKD 014 key container that every client of a KME needs: where
the keys are, what a key ID may be, and how a key's base64 text decodes.

Error messages name the problem, never the value (a malformed key is still key material).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

MAX_KEY_ID_LENGTH = 256
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class WireError(ValueError):
    """A key container that breaks the spec (the message is a phrase such as "is empty")."""


def container_keys(body: Any) -> Any:
    """The container's key list, as spelled ``keys`` (or ``Keys``, which one Java KME sends);
    None when the body is no object or holds neither."""
    if not isinstance(body, dict):
        return None
    if "keys" not in body and "Keys" in body:
        return body["Keys"]
    return body.get("keys")


def key_id_problem(key_id: str) -> str | None:
    """What is wrong with a key ID as a KME sent it (None: nothing)."""
    if not key_id:
        return "has an empty key_ID"
    if len(key_id) > MAX_KEY_ID_LENGTH:
        return f"has a key_ID longer than {MAX_KEY_ID_LENGTH} characters"
    if _UNPRINTABLE.search(key_id):
        return "has a key_ID with control characters"
    return None


def printable(text: str) -> str:
    """``text`` with control characters replaced by ``?`` (for names a KME chose)."""
    return _UNPRINTABLE.sub("?", text)


def decode_key(text: str) -> bytes:
    """Standard base64 (missing padding tolerated) to the key bytes; never empty."""
    if not _BASE64.fullmatch(text) or len(text) % 4 == 1:
        raise WireError("is not valid base64")
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key and text.strip("="):
        raise WireError("is not valid base64")
    if not key:
        raise WireError("is empty")
    return key
