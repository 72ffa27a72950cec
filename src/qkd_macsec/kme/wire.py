"""ETSI GS QKD 014 wire formats on the KME side: request parsing and key containers (no I/O).

Parsers raise :class:`KmeServiceError` (BAD_REQUEST) naming the offending field; they never echo
request bodies back.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote

from qkd_macsec.kme.errors import Fault, KmeServiceError
from qkd_macsec.kme.service import KeyRequest
from qkd_macsec.kme.store import IssuedKey

API_PREFIX = "/api/v1/keys/"
ENDPOINTS = ("status", "enc_keys", "dec_keys")
#: Largest ``number`` or ``size`` read from a request: far above any KME limit, and small
#: enough that no arithmetic on it misbehaves (10**100 is a 400, not a 500).
MAX_WIRE_INT = 2**31 - 1
_MAX_QUERY_DIGITS = len(str(MAX_WIRE_INT))


def _bad(message: str) -> KmeServiceError:
    return KmeServiceError(Fault.BAD_REQUEST, message)


def parse_path(raw_path: bytes) -> tuple[str, str] | None:
    """``/api/v1/keys/{SAE_ID}/{endpoint}`` -> (decoded SAE ID, endpoint), or None."""
    try:
        path = raw_path.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not path.startswith(API_PREFIX):
        return None
    parts = path[len(API_PREFIX) :].split("/")
    if len(parts) != 2 or parts[1] not in ENDPOINTS or not parts[0]:
        return None
    return unquote(parts[0]), parts[1]


def _json_object(body: bytes) -> Mapping[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise _bad("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _bad("request body must be a JSON object")
    return data


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad(f"{name} must be a positive integer")
    if value > MAX_WIRE_INT:
        raise _bad(f"{name} must be at most {MAX_WIRE_INT}")
    return value


def _string_list(value: object, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _bad(f"{name} must be an array of non-empty strings")
    return tuple(value)


def _object_list(value: object, name: str) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _bad(f"{name} must be an array of objects")
    return tuple(value)


def parse_key_request_body(body: bytes) -> KeyRequest:
    """POST enc_keys body. An empty body means all defaults."""
    if not body.strip():
        return KeyRequest()
    data = _json_object(body)
    number = _positive_int(data.get("number", 1), "number")
    size = data.get("size")
    if size is not None:
        size = _positive_int(size, "size")
    slaves = _string_list(data.get("additional_slave_SAE_IDs", []), "additional_slave_SAE_IDs")
    mandatory = _object_list(data.get("extension_mandatory", []), "extension_mandatory")
    _object_list(data.get("extension_optional", []), "extension_optional")
    return KeyRequest(
        number=number, size=size, additional_slave_sae_ids=slaves, extension_mandatory=mandatory
    )


def _query_int(query: Mapping[str, Sequence[str]], name: str) -> int | None:
    values = query.get(name)
    if not values:
        return None
    # ASCII digits only: percent-decoding may yield '²', which str.isdigit() accepts and
    # int() refuses; the length cap keeps int() away from its 4300-digit limit.
    text = values[0] if len(values) == 1 else ""
    if not (text.isascii() and text.isdigit()):
        raise _bad(f"{name} must be a positive integer")
    if len(text.lstrip("0")) > _MAX_QUERY_DIGITS:
        raise _bad(f"{name} must be at most {MAX_WIRE_INT}")
    return _positive_int(int(text), name)


def parse_query(query_string: bytes) -> dict[str, list[str]]:
    try:
        return parse_qs(query_string.decode("ascii"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise _bad("query string must be ASCII") from None


def parse_key_request_query(query_string: bytes) -> KeyRequest:
    """GET enc_keys: only ``number`` and ``size``."""
    query = parse_query(query_string)
    number = _query_int(query, "number")
    return KeyRequest(number=1 if number is None else number, size=_query_int(query, "size"))


def parse_key_ids_body(body: bytes) -> list[str]:
    """POST dec_keys body: ``{"key_IDs": [{"key_ID": ...}, ...]}``."""
    data = _json_object(body)
    items = data.get("key_IDs")
    if not isinstance(items, list) or not items:
        raise _bad("key_IDs must be a non-empty array")
    ids = []
    for item in items:
        key_id = item.get("key_ID") if isinstance(item, dict) else None
        if not isinstance(key_id, str) or not key_id:
            raise _bad("every key_IDs entry needs a non-empty string key_ID")
        ids.append(key_id)
    return ids


def parse_key_ids_query(query_string: bytes) -> list[str]:
    """GET dec_keys: exactly one ``key_ID``."""
    values = parse_query(query_string).get("key_ID", [])
    if len(values) != 1 or not values[0]:
        raise _bad("GET dec_keys needs exactly one key_ID")
    return values


def key_container(keys: Sequence[IssuedKey]) -> bytes:
    """The JSON key container. The only place key bytes are encoded for the wire."""
    return json.dumps(
        {
            "keys": [
                {"key_ID": k.key_id, "key": base64.b64encode(k.key.reveal()).decode()} for k in keys
            ]
        }
    ).encode()
