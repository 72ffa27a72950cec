"""Checking KME answers (no I/O): JSON shape, base64, key lengths, counts and IDs.

Every function either returns fully validated values or raises :class:`KmeResponseError`; a key
from an invalid answer is never returned. Key bytes are wrapped in :class:`Secret` as soon as they
are decoded. Errors never chain to the decoder's or pydantic's, which hold the input (keys too).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from qkd_macsec.core.etsi014_wire import WireError, decode_key, key_id_problem, printable
from qkd_macsec.etsi014.errors import KmeResponseError
from qkd_macsec.etsi014.models import KeyContainer, KmeStatus, QkdKey, WireModel
from qkd_macsec.obs.logging import get_logger
from qkd_macsec.secret import Secret

log = get_logger("etsi014")

_MAX_REPORTED_ERRORS = 3
_MAX_REPORTED_FIELDS = 10
_INVALID = object()


def parse_json_object(body: bytes, *, what: str) -> dict[str, Any]:
    """The answer as a JSON object, or :class:`KmeResponseError` saying what is wrong."""
    # Errors are raised outside the except blocks: the decoder's and pydantic's exceptions hold
    # the body, and must not ride along as __context__.
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = _INVALID
    if data is _INVALID:
        raise KmeResponseError(f"{what}: answer is not valid JSON ({len(body)} bytes)")
    if not isinstance(data, dict):
        raise KmeResponseError(f"{what}: answer is JSON {type(data).__name__}, not an object")
    return data


def parse_status(body: bytes, *, what: str = "status") -> KmeStatus:
    data = parse_json_object(body, what=what)
    problem = ""
    try:
        status = KmeStatus.model_validate(data)
    except ValidationError as exc:
        problem = _describe(exc)
    if problem:
        raise KmeResponseError(f"{what}: {problem}")
    _report_unknown(status, what)
    return status


def parse_keys(
    body: bytes,
    *,
    what: str,
    size: int | None,
    number: int | None = None,
    key_ids: Sequence[str] | None = None,
) -> list[QkdKey]:
    """Keys of an enc_keys/dec_keys answer.

    ``size`` (bits), when given, is the least acceptable length: longer keys are returned as they
    are (the caller truncates), shorter ones refused. ``number`` is the count enc_keys asked for;
    ``key_ids`` the IDs dec_keys asked for, returned in that order.
    """
    data = parse_json_object(body, what=what)
    problem = ""
    try:
        container = KeyContainer.model_validate(data)
    except ValidationError as exc:
        problem = _describe(exc)
    if problem:
        raise KmeResponseError(f"{what}: {problem}")
    _report_unknown(container, what)

    keys: list[QkdKey] = []
    seen: set[str] = set()
    for index, wire in enumerate(container.keys):
        key_id = _check_key_id(wire.key_id, what=what, index=index)
        if key_id in seen:
            raise KmeResponseError(f"{what}: key ID {key_id!r} appears twice")
        seen.add(key_id)
        key = QkdKey(
            key_id,
            _decode_key(wire.key, what=what, key_id=key_id),
            wire.key_id_extension,
            wire.key_extension,
        )
        if size is not None and key.bits < size:
            raise KmeResponseError(f"{what}: key {key_id!r} has {key.bits} bits, {size} asked for")
        keys.append(key)

    if number is not None and len(keys) != number:
        raise KmeResponseError(f"{what}: {len(keys)} keys returned, {number} asked for")
    if key_ids is not None:
        return _in_asked_order(keys, key_ids, what=what)
    return keys


def _decode_key(text: str, *, what: str, key_id: str) -> Secret:
    """Standard base64 (missing padding tolerated) straight into a :class:`Secret`."""
    problem = ""
    try:
        return Secret(decode_key(text))
    except WireError as exc:
        problem = str(exc)
    raise KmeResponseError(f"{what}: key {key_id!r} {problem}")


def _check_key_id(key_id: str, *, what: str, index: int) -> str:
    problem = key_id_problem(key_id)
    if problem is not None:
        raise KmeResponseError(f"{what}: key #{index} {problem}")
    return key_id


def _in_asked_order(keys: list[QkdKey], key_ids: Sequence[str], *, what: str) -> list[QkdKey]:
    by_id = {key.key_id: key for key in keys}
    missing = [key_id for key_id in key_ids if key_id not in by_id]
    extra = sorted(set(by_id) - set(key_ids))
    if missing or extra or len(keys) != len(key_ids):
        raise KmeResponseError(
            f"{what}: returned key IDs differ from those asked for "
            f"(missing {_short_list(missing)}, unexpected {_short_list(extra)})"
        )
    return [by_id[key_id] for key_id in key_ids]


def _short_list(items: Sequence[str]) -> str:
    shown = ", ".join(repr(item) for item in items[:3])
    return f"[{shown}{', ...' if len(items) > 3 else ''}]"


def _describe(exc: ValidationError) -> str:
    """Where and what, never the input value (which may be key material)."""
    errors = exc.errors(include_input=False, include_url=False, include_context=False)
    parts = [
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
        for error in errors[:_MAX_REPORTED_ERRORS]
    ]
    more = len(errors) - _MAX_REPORTED_ERRORS
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _report_unknown(model: WireModel, what: str) -> None:
    names = model.unknown_fields()
    if names:
        shown = [printable(name)[:40] for name in names[:_MAX_REPORTED_FIELDS]]
        log.debug("%s: ignoring fields the spec does not define: %s", what, ", ".join(shown))
