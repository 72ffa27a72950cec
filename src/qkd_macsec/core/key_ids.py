"""Key IDs in the form to compare them in, so a KME re-sending a key cannot slip past the
stale-key check by respelling its ID."""

from __future__ import annotations

import re
import uuid

_UUID_TEXT = re.compile(
    r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}"
)


def canonical_key_id(key_id: str) -> str:
    """A UUID (any case, with or without dashes, surrounding spaces) becomes lower-case with
    dashes; any other ID is kept as it is (IDs are opaque)."""
    text = key_id.strip()
    if _UUID_TEXT.fullmatch(text):
        return str(uuid.UUID(text))
    return key_id


def same_key_id(a: str, b: str) -> bool:
    """Whether two key IDs name the same key."""
    return canonical_key_id(a) == canonical_key_id(b)


def keyid_is_stale(last_key_id: str | None, offered_key_id: str, check: bool) -> bool:
    """The ``kme-keyid-check`` rule: with the check on, an offered key ID equal to the last one
    this end used is stale (no KME call); with it off the KME is asked regardless."""
    return check and last_key_id is not None and same_key_id(last_key_id, offered_key_id)
