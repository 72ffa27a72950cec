"""Every error dialect of ETSI014.md maps to the same typed error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qkd_macsec.etsi014.errors import (
    KeyExpiredError,
    KeyNotFoundError,
    KeyPoolExhaustedError,
    KmeBadRequestError,
    KmeStatusError,
    KmeUnavailableError,
    UnauthorizedError,
)
from qkd_macsec.etsi014.status_errors import (
    MAX_MESSAGE_CHARS,
    Endpoint,
    error_for_status,
    server_message,
)


def body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


CASES: list[tuple[int, bytes, Endpoint, type[KmeStatusError]]] = [
    # spec (etsi dialect)
    (
        400,
        body({"message": "one or more keys specified are not found on KME"}),
        "dec_keys",
        KeyNotFoundError,
    ),
    (400, body({"message": "size shall be a multiple of 8"}), "enc_keys", KmeBadRequestError),
    (
        400,
        body({"message": "not all extension_mandatory parameters are supported"}),
        "enc_keys",
        KmeBadRequestError,
    ),
    (401, b"", "dec_keys", UnauthorizedError),
    (401, b"", "enc_keys", UnauthorizedError),
    (503, body({"message": "internal error"}), "enc_keys", KmeUnavailableError),
    (503, b"", "status", KmeUnavailableError),
    # lenient dialects
    (404, body({"message": "Key not found"}), "dec_keys", KeyNotFoundError),
    (404, b"", "dec_keys", KeyNotFoundError),
    (404, body({"detail": "key_ID 1234 already consumed"}), "dec_keys", KeyNotFoundError),
    (403, body({"detail": "Key expired"}), "dec_keys", KeyExpiredError),
    (403, b"", "dec_keys", KeyExpiredError),
    (403, body({"message": "SAE not authorized"}), "dec_keys", UnauthorizedError),
    (403, b"", "enc_keys", UnauthorizedError),
    (400, body({"message": "Not enough key material"}), "enc_keys", KeyPoolExhaustedError),
    (400, body({"detail": "insufficient keys in pool"}), "enc_keys", KeyPoolExhaustedError),
    (
        503,
        body({"message": "Not enough key material available"}),
        "enc_keys",
        KeyPoolExhaustedError,
    ),
    (404, body({"detail": "SAE sae-b not found"}), "enc_keys", UnauthorizedError),
    (404, body({"detail": "Unknown SAE ID"}), "status", UnauthorizedError),
    (404, body({"detail": "unknown SAE sae-x"}), "dec_keys", UnauthorizedError),
    (404, b"<html>Not Found</html>", "enc_keys", KmeBadRequestError),
    (400, body({"message": "SAE sae-z not found"}), "enc_keys", UnauthorizedError),
    (400, b"bad request", "enc_keys", KmeBadRequestError),
    (
        422,
        body({"detail": [{"loc": ["body", "size"], "msg": "bad"}]}),
        "enc_keys",
        KmeBadRequestError,
    ),
    (429, b"", "enc_keys", KmeUnavailableError),
    (500, b"Internal Server Error", "dec_keys", KmeUnavailableError),
    (502, b"", "status", KmeUnavailableError),
    (302, b"", "status", KmeStatusError),
    # the embedded KME's own messages (kme/service.py, kme/store.py), lenient dialect
    (404, body({"detail": "SAE sae-x is not a slave of key k-1"}), "dec_keys", UnauthorizedError),
    (404, body({"detail": "SAE sae-a is not served by KME_B"}), "enc_keys", UnauthorizedError),
    (404, body({"detail": "no client certificate"}), "status", UnauthorizedError),
    (403, body({"detail": "key k-1 has expired"}), "dec_keys", KeyExpiredError),
    (
        400,
        body({"detail": "slave SAE IDs must be distinct and differ from the master"}),
        "enc_keys",
        KmeBadRequestError,
    ),
    (400, body({"message": "key_IDs must name at least one key"}), "dec_keys", KmeBadRequestError),
    (400, body({"message": "key k-1 has expired"}), "dec_keys", KeyExpiredError),
]


@pytest.mark.parametrize(("code", "raw", "endpoint", "kind"), CASES)
def test_dialect_maps_to_typed_error(
    code: int, raw: bytes, endpoint: Endpoint, kind: type[KmeStatusError]
) -> None:
    error = error_for_status(code, raw, method="POST", path="/api/v1/keys/x/y", endpoint=endpoint)
    assert type(error) is kind
    assert error.status_code == code
    assert error.method == "POST"
    assert error.path == "/api/v1/keys/x/y"
    assert f"HTTP {code}" in str(error)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", ""),
        (b"   ", ""),
        (body({"message": "not found"}), "not found"),
        (body({"detail": "gone"}), "gone"),
        (body({"detail": {"reason": "x"}}), '{"reason":"x"}'),
        (
            body({"message": "bad", "details": [{"field": "size"}]}),
            'bad; details: [{"field":"size"}]',
        ),
        (body({"other": 1}), '{"other":1}'),
        (body("plain string"), "plain string"),
        (body(["a"]), '["a"]'),
        (b"Service\n  Unavailable\r\n", "Service Unavailable"),
        (b"\xff\xfeoops", "\ufffd\ufffdoops"),
        (body({"message": None, "detail": "d"}), "d"),
    ],
)
def test_server_message_handles_every_body_shape(raw: bytes, expected: str) -> None:
    assert server_message(raw) == expected


def test_server_message_is_truncated() -> None:
    message = server_message(body({"message": "word " * 500}))
    assert len(message) == MAX_MESSAGE_CHARS
    assert message.endswith("...")


def test_server_message_masks_key_shaped_text() -> None:
    leaked = "nK45tzFFjDA42/1KqV3uXyZ0abcdEFGHijklMNOPqrstUVWX+/0123456789="
    message = server_message(body({"message": f"cannot deliver {leaked} now"}))
    assert leaked not in message
    assert "cannot deliver" in message
