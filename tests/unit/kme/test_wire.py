"""Parsing what SAEs send; errors name the field and never echo the body."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qkd_macsec.kme.errors import Fault, KmeServiceError
from qkd_macsec.kme.service import KeyRequest
from qkd_macsec.kme.store import IssuedKey
from qkd_macsec.kme.wire import (
    key_container,
    parse_key_ids_body,
    parse_key_ids_query,
    parse_key_request_body,
    parse_key_request_query,
    parse_path,
)
from qkd_macsec.secret import Secret


def test_paths() -> None:
    assert parse_path(b"/api/v1/keys/sae-b/status") == ("sae-b", "status")
    assert parse_path(b"/api/v1/keys/a%2Fb%20c/enc_keys") == ("a/b c", "enc_keys")
    assert parse_path(b"/api/v1/keys/sae-a/dec_keys") == ("sae-a", "dec_keys")
    for bad in (
        b"/api/v1/keys//status",
        b"/api/v1/keys/x/other",
        b"/",
        b"/api/v1/keys/a/b/c",
        b"/api/v1/keys/\xff/status",
    ):
        assert parse_path(bad) is None


def test_key_request_body() -> None:
    assert parse_key_request_body(b"") == KeyRequest()
    body = {
        "number": 3,
        "size": 512,
        "additional_slave_SAE_IDs": ["c"],
        "extension_optional": [{"x": 1}],
        "unknown": True,
    }
    assert parse_key_request_body(json.dumps(body).encode()) == KeyRequest(
        number=3, size=512, additional_slave_sae_ids=("c",)
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1]", "JSON object"),
        (b'{"number": 0}', "number must be a positive integer"),
        (b'{"number": true}', "number must be a positive integer"),
        (b'{"number": "2"}', "number must be a positive integer"),
        (b'{"size": 2.5}', "size must be a positive integer"),
        (b'{"additional_slave_SAE_IDs": "x"}', "additional_slave_SAE_IDs"),
        (b'{"additional_slave_SAE_IDs": [""]}', "additional_slave_SAE_IDs"),
        (b'{"extension_mandatory": {"a": 1}}', "extension_mandatory"),
    ],
)
def test_bad_key_request_bodies(body: bytes, message: str) -> None:
    with pytest.raises(KmeServiceError) as caught:
        parse_key_request_body(body)
    assert caught.value.fault is Fault.BAD_REQUEST
    assert message in caught.value.message


def test_queries() -> None:
    assert parse_key_request_query(b"number=2&size=128") == KeyRequest(number=2, size=128)
    assert parse_key_request_query(b"") == KeyRequest()
    assert parse_key_ids_query(b"key_ID=abc") == ["abc"]
    for bad in (b"number=-1", b"size=x", b"number=1&number=2"):
        with pytest.raises(KmeServiceError):
            parse_key_request_query(bad)
    for bad in (b"", b"key_ID=a&key_ID=b", b"key_ID="):
        with pytest.raises(KmeServiceError, match="exactly one key_ID"):
            parse_key_ids_query(bad)


def test_key_ids_body() -> None:
    body = json.dumps({"key_IDs": [{"key_ID": "a"}, {"key_ID": "b", "key_ID_extension": {}}]})
    assert parse_key_ids_body(body.encode()) == ["a", "b"]
    for bad in (b"{}", b'{"key_IDs": []}', b'{"key_IDs": [{"key_ID": 5}]}', b'{"key_IDs": ["a"]}'):
        with pytest.raises(KmeServiceError):
            parse_key_ids_body(bad)


def test_key_container() -> None:
    body = json.loads(key_container([IssuedKey("id-1", Secret(b"\x01" * 32))]))
    assert body == {"keys": [{"key_ID": "id-1", "key": base64.b64encode(b"\x01" * 32).decode()}]}


def outcome(parse: Callable[[bytes], object], body: bytes) -> Fault | None:
    """None when parsed; the fault when refused (any other exception fails the test)."""
    try:
        parse(body)
    except KmeServiceError as exc:
        return exc.fault
    return None


@given(st.binary(max_size=300))
def test_any_body_is_parsed_or_refused_cleanly(body: bytes) -> None:
    for parse in (parse_key_request_body, parse_key_ids_body):
        assert outcome(parse, body) in (None, Fault.BAD_REQUEST)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
request_fields = st.sampled_from(
    ["number", "size", "additional_slave_SAE_IDs", "extension_mandatory", "key_IDs", "x"]
)


@given(st.dictionaries(request_fields, json_values, max_size=5))
def test_any_json_object_is_parsed_or_refused_cleanly(data: dict[str, object]) -> None:
    body = json.dumps(data).encode()
    for parse in (parse_key_request_body, parse_key_ids_body):
        assert outcome(parse, body) in (None, Fault.BAD_REQUEST)


def test_deep_nesting_is_a_bad_request() -> None:
    with pytest.raises(KmeServiceError, match="not valid JSON"):
        parse_key_request_body(b"[" * 100_000)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("number", 10**100, "number must be at most 2147483647"),
        ("size", 10**100, "size must be at most 2147483647"),
        ("size", 2**31, "size must be at most 2147483647"),
    ],
)
def test_oversized_integers_in_a_body_are_bad_requests(name: str, value: int, message: str) -> None:
    with pytest.raises(KmeServiceError, match=message) as caught:
        parse_key_request_body(json.dumps({name: value}).encode())
    assert caught.value.fault is Fault.BAD_REQUEST


def test_the_largest_integer_is_still_parsed() -> None:
    assert parse_key_request_body(b'{"number": 2147483647}').number == 2**31 - 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (b"size=" + b"9" * 5000, "size must be at most"),
        (b"number=" + str(10**100).encode(), "number must be at most"),
        (b"size=%C2%B2", "size must be a positive integer"),  # '2' superscript: isdigit() True
        (b"size=%D9%A3%D9%A2", "size must be a positive integer"),  # Arabic-Indic 32
        (b"size=%EF%BC%93%EF%BC%92", "size must be a positive integer"),  # full-width 32
        (b"size=1&size=2", "size must be a positive integer"),
    ],
)
def test_query_integers_are_ascii_digits_of_bounded_length(query: bytes, message: str) -> None:
    with pytest.raises(KmeServiceError, match=message):
        parse_key_request_query(query)


def test_query_leading_zeros_do_not_count_as_length() -> None:
    assert parse_key_request_query(b"size=" + b"0" * 40 + b"256").size == 256
