"""Whatever a KME sends, the client raises a KmeError or returns only well-formed keys."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.etsi014.conftest import FakeTime, fast_options

from qkd_macsec.etsi014.client import KmeClient
from qkd_macsec.etsi014.errors import KmeError, KmeResponseError
from qkd_macsec.etsi014.responses import parse_keys, parse_status
from qkd_macsec.etsi014.status_errors import MAX_MESSAGE_CHARS, server_message
from qkd_macsec.etsi014.tls import TlsIdentity

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
key_ids = st.text(min_size=0, max_size=40)
key_texts = st.text(alphabet="ABCDEFGHabcdefgh0123456789+/=-_ \n", max_size=80) | st.builds(
    lambda raw: base64.b64encode(raw).decode(), st.binary(max_size=80)
)
entries = st.fixed_dictionaries(
    {},
    optional={
        "key_ID": key_ids | json_values,
        "key": key_texts | json_values,
        "key_ID_extension": json_values,
        "key_extension": json_values,
    },
)
containers = st.fixed_dictionaries(
    {},
    optional={
        "keys": st.lists(entries, max_size=4) | json_values,
        "Keys": st.lists(entries, max_size=4),
        "key_container_extension": json_values,
    },
)


def check_keys(keys: list[Any], size: int, number: int) -> None:
    assert len(keys) == number
    assert len({key.key_id for key in keys}) == number
    for key in keys:
        assert isinstance(key.key_id, str)
        assert key.key_id
        assert key.bits >= size


@PROPERTY
@given(body=st.binary(max_size=300))
def test_random_bytes_never_escape_as_other_errors(body: bytes) -> None:
    try:
        keys = parse_keys(body, what="t", size=128, number=1)
    except KmeResponseError:
        return
    check_keys(keys, 128, 1)


@PROPERTY
@given(
    payload=containers | json_values, size=st.sampled_from([8, 128, 256]), number=st.integers(1, 3)
)
def test_structured_garbage_is_refused_or_valid(payload: Any, size: int, number: int) -> None:
    try:
        keys = parse_keys(json.dumps(payload).encode(), what="t", size=size, number=number)
    except KmeResponseError:
        return
    check_keys(keys, size, number)


@PROPERTY
@given(
    payload=containers | json_values,
    ids=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=3, unique=True),
)
def test_dec_keys_answers_match_the_asked_ids_or_are_refused(payload: Any, ids: list[str]) -> None:
    try:
        keys = parse_keys(json.dumps(payload).encode(), what="t", size=None, key_ids=ids)
    except KmeResponseError:
        return
    assert [key.key_id for key in keys] == ids


@PROPERTY
@given(
    raws=st.lists(st.binary(min_size=32, max_size=64), min_size=1, max_size=4),
    cut=st.integers(min_value=0),
)
def test_truncated_answers_are_refused(raws: list[bytes], cut: int) -> None:
    payload = {
        "keys": [
            {"key_ID": f"id-{i}", "key": base64.b64encode(raw).decode()}
            for i, raw in enumerate(raws)
        ]
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    truncated = body[: cut % len(body)]
    try:
        parse_keys(truncated, what="t", size=256, number=len(raws))
    except KmeResponseError:
        return
    raise AssertionError("a truncated answer was accepted")


@PROPERTY
@given(
    raws=st.lists(st.binary(min_size=32, max_size=40), min_size=1, max_size=4),
    mutation=st.sampled_from(["short", "duplicate", "count", "drop_key", "int_id", "bad_b64"]),
)
def test_broken_valid_answers_are_refused(raws: list[bytes], mutation: str) -> None:
    entries_ = [
        {"key_ID": f"id-{i}", "key": base64.b64encode(raw).decode()} for i, raw in enumerate(raws)
    ]
    victim = entries_[-1]
    if mutation == "short":
        victim["key"] = base64.b64encode(raws[-1][:31]).decode()
    elif mutation == "duplicate":
        entries_.append(dict(entries_[0]))
    elif mutation == "count":
        entries_.append({"key_ID": "extra", "key": victim["key"]})
    elif mutation == "drop_key":
        del victim["key"]
    elif mutation == "int_id":
        victim["key_ID"] = 12  # type: ignore[assignment]
    else:
        victim["key"] = "*" + victim["key"]
    body = json.dumps({"keys": entries_}).encode()
    try:
        parse_keys(body, what="t", size=256, number=len(raws))
    except KmeResponseError:
        return
    raise AssertionError(f"accepted an answer broken by {mutation}")


@PROPERTY
@given(
    payload=json_values
    | st.dictionaries(st.sampled_from(["key_size", "source_KME_ID", "min_key_size"]), json_values)
)
def test_status_garbage_is_refused(payload: Any) -> None:
    try:
        parse_status(json.dumps(payload).encode())
    except KmeResponseError:
        return
    raise AssertionError("garbage accepted as status")


@PROPERTY
@given(body=st.binary(max_size=2000) | json_values.map(lambda v: json.dumps(v).encode()))
def test_server_message_always_gives_short_text(body: bytes) -> None:
    message = server_message(body)
    assert isinstance(message, str)
    assert len(message) <= MAX_MESSAGE_CHARS
    assert "\n" not in message


@PROPERTY
@given(
    status=st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 409, 429, 500, 503]),
    body=st.binary(max_size=200) | containers.map(lambda v: json.dumps(v).encode()),
)
def test_client_raises_only_kme_errors(status: int, body: bytes) -> None:
    async def scenario() -> None:
        transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
        time = FakeTime()
        client = KmeClient(
            "https://kme.test",
            TlsIdentity(Path("c.pem"), Path("k.pem")),
            fast_options(dec_keys_wait=0.05),
            transport=transport,
            sleep=time.sleep,
            clock=time.clock,
            rng=random.Random(0),
        )
        async with client:
            try:
                keys = await client.get_keys("sae-b", size=128, number=2)
            except KmeError:
                return
            check_keys(keys, 128, 2)
            assert 200 <= status <= 299

    asyncio.run(scenario())
