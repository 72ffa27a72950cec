"""The answer checker: what is accepted, what is refused, and how keys come out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.unit.etsi014.conftest import LogCapture, b64, container

from qkd_macsec.etsi014.errors import KmeResponseError
from qkd_macsec.etsi014.models import KeyContainer, KmeStatus
from qkd_macsec.etsi014.responses import parse_keys, parse_status

ID_A = "d9b6fa63-dd88-47d2-8afe-94fcecf40d19"
ID_B = "3f1c7c1e-0000-1000-8000-00805f9b34fb"  # version 1: opaque, must be accepted
KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))

STATUS = {
    "source_KME_ID": "KME_A",
    "target_KME_ID": "KME_B",
    "master_SAE_ID": "sae-a",
    "slave_SAE_ID": "sae-b",
    "key_size": 256,
    "stored_key_count": 25000,
    "max_key_count": 100000,
    "max_key_per_request": 128,
    "max_key_size": 1024,
    "min_key_size": 64,
    "max_SAE_ID_count": 0,
}


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def test_keys_come_back_wrapped_with_their_ids() -> None:
    keys = parse_keys(encode(container((ID_A, KEY_A), (ID_B, KEY_B))), what="t", size=256)
    assert [key.key_id for key in keys] == [ID_A, ID_B]
    assert [key.key.reveal() for key in keys] == [KEY_A, KEY_B]
    assert keys[0].bits == 256


def test_capitalised_keys_array_is_accepted() -> None:
    body = encode(container((ID_A, KEY_A), field_name="Keys"))
    assert parse_keys(body, what="t", size=256, number=1)[0].key.reveal() == KEY_A


def test_longer_keys_are_returned_untruncated() -> None:
    long_key = bytes(64)
    keys = parse_keys(encode(container((ID_A, long_key))), what="t", size=256)
    assert keys[0].key.reveal() == long_key


def test_missing_base64_padding_is_tolerated() -> None:
    text = b64(b"\x01" * 31).rstrip("=")
    keys = parse_keys(encode({"keys": [{"key_ID": ID_A, "key": text}]}), what="t", size=248)
    assert keys[0].key.reveal() == b"\x01" * 31


def test_extensions_are_kept() -> None:
    payload = {
        "keys": [
            {"key_ID": ID_A, "key": b64(KEY_A), "key_ID_extension": {"x": 1}, "key_extension": {}}
        ],
        "key_container_extension": {"note": "hi"},
    }
    key = parse_keys(encode(payload), what="t", size=None)[0]
    assert key.key_id_extension == {"x": 1}
    assert key.key_extension == {}


def test_dec_keys_answer_is_returned_in_the_order_asked() -> None:
    body = encode(container((ID_B, KEY_B), (ID_A, KEY_A)))
    keys = parse_keys(body, what="t", size=None, key_ids=[ID_A, ID_B])
    assert [key.key_id for key in keys] == [ID_A, ID_B]
    assert keys[0].key.reveal() == KEY_A


def test_unknown_fields_are_logged_by_name_only(etsi_log: LogCapture) -> None:
    payload = container((ID_A, KEY_A))
    payload["vendor_blob"] = "SECRET-LOOKING-VALUE"
    payload["keys"][0]["qber"] = 0.01
    parse_keys(encode(payload), what="POST /x", size=256)
    text = etsi_log.text
    assert "vendor_blob" in text
    assert "qber" in text
    assert "SECRET-LOOKING-VALUE" not in text


@pytest.mark.parametrize(
    ("payload", "kwargs", "complaint"),
    [
        ([], {}, "not an object"),
        ({"key": []}, {}, "keys"),
        ({"keys": {}}, {}, "keys"),
        ({"keys": [{"key_ID": ID_A}]}, {}, "keys.0.key"),
        ({"keys": [{"key": b64(KEY_A)}]}, {}, "keys.0.key_ID"),
        ({"keys": [{"key_ID": 42, "key": b64(KEY_A)}]}, {}, "key_ID"),
        ({"keys": [{"key_ID": ID_A, "key": 42}]}, {}, "keys.0.key"),
        ({"keys": [{"key_ID": "", "key": b64(KEY_A)}]}, {}, "empty key_ID"),
        ({"keys": [{"key_ID": "a\nb", "key": b64(KEY_A)}]}, {}, "control characters"),
        ({"keys": [{"key_ID": "x" * 300, "key": b64(KEY_A)}]}, {}, "longer than"),
        ({"keys": [{"key_ID": ID_A, "key": "not base64!"}]}, {}, "base64"),
        ({"keys": [{"key_ID": ID_A, "key": "QUJD\u00e9"}]}, {}, "base64"),
        ({"keys": [{"key_ID": ID_A, "key": "QUJDR"}]}, {}, "base64"),
        ({"keys": [{"key_ID": ID_A, "key": ""}]}, {}, "empty"),
        (container((ID_A, KEY_A[:16])), {"size": 256}, "128 bits, 256 asked"),
        (container((ID_A, KEY_A), (ID_A, KEY_B)), {}, "appears twice"),
        (container((ID_A, KEY_A)), {"number": 2}, "1 keys returned, 2 asked"),
        (container((ID_A, KEY_A), (ID_B, KEY_B)), {"number": 1}, "2 keys returned"),
        (container((ID_B, KEY_B)), {"key_ids": [ID_A]}, "differ"),
        (container((ID_A, KEY_A), (ID_B, KEY_B)), {"key_ids": [ID_A]}, "differ"),
        (container((ID_A, KEY_A)), {"key_ids": [ID_A, ID_B]}, "differ"),
        ({"keys": [], "Keys": container((ID_A, KEY_A))["keys"]}, {"number": 1}, "0 keys"),
    ],
)
def test_invalid_answers_are_refused(payload: Any, kwargs: dict[str, Any], complaint: str) -> None:
    args: dict[str, Any] = {"size": None, **kwargs}
    with pytest.raises(KmeResponseError, match=complaint):
        parse_keys(encode(payload), what="POST /api/v1/keys/b/enc_keys", **args)


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe", b"[" * 100_000, b"null", b'"keys"'])
def test_non_json_or_non_object_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(KmeResponseError, match="what"):
        parse_keys(body, what="what", size=None)


def test_status_is_parsed_with_snake_case_names() -> None:
    status = parse_status(encode({**STATUS, "status_extension": {"k": "v"}, "extra": 1}))
    assert isinstance(status, KmeStatus)
    assert status.source_kme_id == "KME_A"
    assert status.slave_sae_id == "sae-b"
    assert status.key_size == 256
    assert status.max_key_per_request == 128
    assert status.status_extension == {"k": "v"}


def test_status_without_max_sae_id_count_defaults_to_no_multicast() -> None:
    payload = {k: v for k, v in STATUS.items() if k != "max_SAE_ID_count"}
    assert parse_status(encode(payload)).max_sae_id_count == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"key_size": "256"}, "key_size"),
        ({"key_size": True}, "key_size"),
        ({"stored_key_count": -1}, "stored_key_count"),
        ({"source_KME_ID": None}, "source_KME_ID"),
        ({"max_key_per_request": 1.5}, "max_key_per_request"),
    ],
)
def test_status_with_wrong_types_is_refused(change: dict[str, Any], field: str) -> None:
    with pytest.raises(KmeResponseError, match=field):
        parse_status(encode({**STATUS, **change}))


def test_wire_key_repr_hides_the_key_text() -> None:
    model = KeyContainer.model_validate(container((ID_A, b"\xaa" * 32)))
    assert b64(b"\xaa" * 32) not in repr(model)
