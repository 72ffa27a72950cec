"""KmeClient against a scripted KME: request forms, retries, the dec_keys wait window."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.unit.etsi014.conftest import (
    FakeTime,
    LogCapture,
    ScriptedKme,
    container,
    error,
    fast_options,
    ok,
)

from qkd_macsec.etsi014.client import ClientOptions, KmeClient, RequestRecord
from qkd_macsec.etsi014.errors import (
    KeyExpiredError,
    KeyNotFoundError,
    KeyPoolExhaustedError,
    KmeBadRequestError,
    KmeResponseError,
    KmeTimeoutError,
    KmeTlsError,
    KmeTransportError,
    KmeUnavailableError,
    UnauthorizedError,
)
from qkd_macsec.etsi014.retry import RetryPolicy
from qkd_macsec.etsi014.tls import TlsIdentity

MakeClient = Callable[..., KmeClient]
ID_A = "d9b6fa63-dd88-47d2-8afe-94fcecf40d19"
ID_B = "0b5e0d4c-1111-2222-3333-444455556666"
KEY_A = b"\x11" * 32
KEY_B = b"\x22" * 32
STATUS: dict[str, Any] = {
    "source_KME_ID": "KME_A",
    "target_KME_ID": "KME_B",
    "master_SAE_ID": "sae-a",
    "slave_SAE_ID": "sae/b c",
    "key_size": 256,
    "stored_key_count": 10,
    "max_key_count": 100,
    "max_key_per_request": 128,
    "max_key_size": 1024,
    "min_key_size": 64,
    "max_SAE_ID_count": 2,
}


# -- request forms ------------------------------------------------------------------------------


async def test_status_path_url_encodes_the_sae_id(make_client: MakeClient) -> None:
    kme = ScriptedKme([ok(STATUS)])
    async with make_client(kme) as client:
        status = await client.get_status("sae/b c")
    assert kme.requests[0].method == "GET"
    assert kme.requests[0].url.raw_path == b"/api/v1/keys/sae%2Fb%20c/status"
    assert status.slave_sae_id == "sae/b c"


async def test_base_url_path_prefix_is_kept(fake_time: FakeTime) -> None:
    kme = ScriptedKme([ok(STATUS)])
    client = KmeClient(
        "https://kme.test/qkd/",
        TlsIdentity(Path("c.pem"), Path("k.pem")),
        transport=httpx.MockTransport(kme),
        sleep=fake_time.sleep,
    )
    async with client:
        await client.get_status("sae-b")
    assert kme.requests[0].url.raw_path == b"/qkd/api/v1/keys/sae-b/status"


async def test_post_enc_keys_sends_number_size_and_extras(make_client: MakeClient) -> None:
    kme = ScriptedKme([ok(container((ID_A, KEY_A), (ID_B, KEY_B)))])
    async with make_client(kme) as client:
        keys = await client.get_keys(
            "sae-b",
            size=256,
            number=2,
            additional_slave_sae_ids=["sae-c"],
            extension_optional=[{"route": "x"}],
        )
    request = kme.requests[0]
    assert request.method == "POST"
    assert request.url.raw_path == b"/api/v1/keys/sae-b/enc_keys"
    assert kme.body() == {
        "number": 2,
        "size": 256,
        "additional_slave_SAE_IDs": ["sae-c"],
        "extension_optional": [{"route": "x"}],
    }
    assert [key.key_id for key in keys] == [ID_A, ID_B]
    assert keys[1].key.reveal() == KEY_B


async def test_post_enc_keys_always_sends_size(make_client: MakeClient) -> None:
    kme = ScriptedKme([ok(container((ID_A, KEY_A[:16])))])
    async with make_client(kme) as client:
        await client.get_keys("sae-b", size=128)
    assert kme.body() == {"number": 1, "size": 128}


async def test_get_enc_keys_puts_number_and_size_in_the_query(make_client: MakeClient) -> None:
    kme = ScriptedKme([ok(container((ID_A, KEY_A)))])
    async with make_client(kme) as client:
        await client.get_keys("sae-b", size=256, method="GET")
    request = kme.requests[0]
    assert request.method == "GET"
    assert request.url.path == "/api/v1/keys/sae-b/enc_keys"
    assert dict(request.url.params) == {"number": "1", "size": "256"}
    assert request.content == b""


async def test_post_dec_keys_sends_key_ids_and_no_size(make_client: MakeClient) -> None:
    kme = ScriptedKme([ok(container((ID_B, KEY_B), (ID_A, KEY_A)))])
    async with make_client(kme) as client:
        keys = await client.get_keys_with_ids("sae-a", [ID_A, ID_B], size=256)
    assert kme.requests[0].url.raw_path == b"/api/v1/keys/sae-a/dec_keys"
    assert kme.body() == {"key_IDs": [{"key_ID": ID_A}, {"key_ID": ID_B}]}
    assert [key.key_id for key in keys] == [ID_A, ID_B]
    assert keys[0].key.reveal() == KEY_A


async def test_get_dec_keys_uses_the_key_id_query(make_client: MakeClient) -> None:
    kme = ScriptedKme([ok(container((ID_A, KEY_A)))])
    async with make_client(kme) as client:
        keys = await client.get_keys_with_ids("sae-a", [ID_A], method="GET")
    request = kme.requests[0]
    assert request.method == "GET"
    assert dict(request.url.params) == {"key_ID": ID_A}
    assert keys[0].key.reveal() == KEY_A


async def test_capitalised_keys_answer_is_accepted(make_client: MakeClient) -> None:
    kme = ScriptedKme([ok(container((ID_A, KEY_A), field_name="Keys"))])
    async with make_client(kme) as client:
        keys = await client.get_keys("sae-b", size=256)
    assert keys[0].key.reveal() == KEY_A


@pytest.mark.parametrize(
    ("call", "complaint"),
    [
        ({"size": 255}, "multiple of 8"),
        ({"size": 0}, "multiple of 8"),
        ({"size": True}, "multiple of 8"),
        ({"size": 256, "number": 0}, "number"),
        ({"size": 256, "method": "GET", "additional_slave_sae_ids": ["c"]}, "POST"),
        ({"size": 256, "method": "GET", "extension_mandatory": [{"a": 1}]}, "POST"),
        ({"size": 256, "method": "PUT"}, "method"),
        ({"size": 256, "additional_slave_sae_ids": [""]}, "additional_slave_sae_ids"),
        ({"size": 256, "slave": ""}, "slave_sae_id"),
    ],
)
async def test_bad_enc_keys_arguments_raise_before_any_request(
    make_client: MakeClient, call: dict[str, Any], complaint: str
) -> None:
    kme = ScriptedKme([ok(container((ID_A, KEY_A)))])
    slave = call.pop("slave", "sae-b")
    async with make_client(kme) as client:
        with pytest.raises(ValueError, match=complaint):
            await client.get_keys(slave, **call)
    assert kme.requests == []


@pytest.mark.parametrize(
    ("key_ids", "kwargs", "complaint"),
    [
        ([ID_A, ID_B], {"method": "GET"}, "exactly one"),
        ([], {}, "at least one"),
        (ID_A, {}, "single string"),
        ([ID_A, ID_A], {}, "repeat"),
        ([""], {}, "non-empty"),
        ([ID_A], {"size": 12}, "multiple of 8"),
        ([ID_A], {"wait": -1.0}, "negative"),
    ],
)
async def test_bad_dec_keys_arguments_raise_before_any_request(
    make_client: MakeClient, key_ids: Any, kwargs: dict[str, Any], complaint: str
) -> None:
    kme = ScriptedKme([ok(container((ID_A, KEY_A)))])
    async with make_client(kme) as client:
        with pytest.raises(ValueError, match=complaint):
            await client.get_keys_with_ids("sae-a", key_ids, **kwargs)
    assert kme.requests == []


def test_plain_http_base_url_is_refused() -> None:
    with pytest.raises(ValueError, match="https"):
        KmeClient("http://kme.test", TlsIdentity(Path("c.pem"), Path("k.pem")))


# -- retries ----------------------------------------------------------------------------------


async def test_503_is_retried_then_raised(make_client: MakeClient, fake_time: FakeTime) -> None:
    kme = ScriptedKme([error(503, {"message": "busy"})])
    async with make_client(kme) as client:
        with pytest.raises(KmeUnavailableError, match="busy"):
            await client.get_keys("sae-b", size=256)
    assert len(kme.requests) == 4
    assert len(fake_time.sleeps) == 3
    ceilings = [0.01, 0.02, 0.04]
    for slept, ceiling in zip(fake_time.sleeps, ceilings, strict=True):
        assert ceiling * 0.5 <= slept <= ceiling


async def test_503_then_success_returns_the_keys(make_client: MakeClient) -> None:
    kme = ScriptedKme([error(503), error(503), ok(container((ID_A, KEY_A)))])
    async with make_client(kme) as client:
        keys = await client.get_keys("sae-b", size=256)
    assert len(kme.requests) == 3
    assert keys[0].key_id == ID_A


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (error(400, {"message": "size shall be a multiple of 8"}), KmeBadRequestError),
        (error(400, {"message": "Not enough key material"}), KeyPoolExhaustedError),
        (error(401), UnauthorizedError),
        (error(403), UnauthorizedError),
        (ok({"keys": "nope"}), KmeResponseError),
    ],
)
async def test_client_errors_are_not_retried(
    make_client: MakeClient, answer: httpx.Response, kind: type[Exception]
) -> None:
    kme = ScriptedKme([answer])
    async with make_client(kme) as client:
        with pytest.raises(kind):
            await client.get_keys("sae-b", size=256)
    assert len(kme.requests) == 1


async def test_connection_errors_are_retried(make_client: MakeClient) -> None:
    kme = ScriptedKme([httpx.ConnectError("refused"), ok(container((ID_A, KEY_A)))])
    async with make_client(kme) as client:
        keys = await client.get_keys("sae-b", size=256)
    assert len(kme.requests) == 2
    assert keys[0].key_id == ID_A


async def test_timeouts_are_retried_then_raised_as_timeouts(make_client: MakeClient) -> None:
    kme = ScriptedKme([httpx.ReadTimeout("slow")])
    async with make_client(kme) as client:
        with pytest.raises(KmeTimeoutError) as caught:
            await client.get_status("sae-b")
    assert len(kme.requests) == 4
    assert isinstance(caught.value, KmeTransportError)
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert caught.value.path == "/api/v1/keys/sae-b/status"


async def test_tls_failures_are_not_retried(make_client: MakeClient) -> None:
    refused = httpx.ConnectError("handshake failed")
    refused.__cause__ = ssl.SSLCertVerificationError("certificate verify failed")
    kme = ScriptedKme([refused])
    async with make_client(kme) as client:
        with pytest.raises(KmeTlsError, match="ConnectError"):
            await client.get_status("sae-b")
    assert len(kme.requests) == 1


async def test_tls_eof_counts_as_a_dropped_connection(make_client: MakeClient) -> None:
    dropped = httpx.ReadError("eof")
    dropped.__cause__ = ssl.SSLEOFError("EOF occurred in violation of protocol")
    kme = ScriptedKme([dropped, ok(STATUS)])
    async with make_client(kme) as client:
        await client.get_status("sae-b")
    assert len(kme.requests) == 2


async def test_single_attempt_policy_does_not_retry(make_client: MakeClient) -> None:
    kme = ScriptedKme([error(503)])
    options = fast_options(retry=RetryPolicy(attempts=1))
    async with make_client(kme, options) as client:
        with pytest.raises(KmeUnavailableError):
            await client.get_status("sae-b")
    assert len(kme.requests) == 1


# -- dec_keys wait window -----------------------------------------------------------------------


async def test_dec_keys_waits_for_a_key_not_there_yet(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    not_yet = error(404, {"message": "key not found"})
    kme = ScriptedKme([not_yet, not_yet, ok(container((ID_A, KEY_A)))])
    async with make_client(kme) as client:
        keys = await client.get_keys_with_ids("sae-a", [ID_A])
    assert len(kme.requests) == 3
    assert len(fake_time.sleeps) == 2
    assert keys[0].key.reveal() == KEY_A


async def test_dec_keys_gives_up_when_the_window_closes(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    kme = ScriptedKme([error(400, {"message": "one or more keys specified are not found on KME"})])
    started = fake_time.now
    async with make_client(kme) as client:
        with pytest.raises(KeyNotFoundError, match="not found on KME"):
            await client.get_keys_with_ids("sae-a", [ID_A], wait=0.5)
    assert fake_time.now - started == pytest.approx(0.5)
    assert len(kme.requests) == len(fake_time.sleeps) + 1
    assert len(kme.requests) > 5  # backoff capped at 0.05 s over a 0.5 s window


async def test_dec_keys_window_defaults_to_the_option(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    kme = ScriptedKme([error(404)])
    started = fake_time.now
    async with make_client(kme, fast_options(dec_keys_wait=0.2)) as client:
        with pytest.raises(KeyNotFoundError):
            await client.get_keys_with_ids("sae-a", [ID_A])
    assert fake_time.now - started == pytest.approx(0.2)


async def test_dec_keys_without_wait_asks_once(make_client: MakeClient) -> None:
    kme = ScriptedKme([error(404)])
    async with make_client(kme) as client:
        with pytest.raises(KeyNotFoundError):
            await client.get_keys_with_ids("sae-a", [ID_A], wait=0)
    assert len(kme.requests) == 1


async def test_dec_keys_does_not_wait_on_expired_keys(make_client: MakeClient) -> None:
    kme = ScriptedKme([error(403, {"detail": "Key expired"})])
    async with make_client(kme) as client:
        with pytest.raises(KeyExpiredError):
            await client.get_keys_with_ids("sae-a", [ID_A])
    assert len(kme.requests) == 1


async def test_dec_keys_answer_with_other_ids_is_refused(make_client: MakeClient) -> None:
    kme = ScriptedKme([ok(container((ID_B, KEY_B)))])
    async with make_client(kme) as client:
        with pytest.raises(KmeResponseError) as caught:
            await client.get_keys_with_ids("sae-a", [ID_A])
    assert caught.value.method == "POST"
    assert caught.value.path == "/api/v1/keys/sae-a/dec_keys"


@pytest.mark.parametrize(
    ("first", "warned"),
    [(httpx.ReadError("reset"), True), (httpx.ConnectError("refused"), False), (error(503), False)],
)
async def test_a_lost_dec_keys_answer_is_reported_when_the_key_is_then_gone(
    make_client: MakeClient, etsi_log: LogCapture, first: httpx.Response | Exception, warned: bool
) -> None:
    kme = ScriptedKme([first, error(404)])
    async with make_client(kme) as client:
        with pytest.raises(KeyNotFoundError):
            await client.get_keys_with_ids("sae-a", [ID_A], wait=0)
    assert len(kme.requests) == 2
    assert ("may have consumed the key" in etsi_log.text) is warned


# -- limits and hooks ---------------------------------------------------------------------------


async def test_oversized_answers_are_refused(make_client: MakeClient) -> None:
    kme = ScriptedKme([httpx.Response(200, content=b" " * 5000)])
    async with make_client(kme, fast_options(max_response_bytes=4096)) as client:
        with pytest.raises(KmeResponseError, match="4096-byte limit"):
            await client.get_status("sae-b")


async def test_on_request_sees_every_attempt(make_client: MakeClient) -> None:
    records: list[RequestRecord] = []
    kme = ScriptedKme([httpx.ConnectError("refused"), error(503), ok(container((ID_A, KEY_A)))])
    async with make_client(kme, fast_options(on_request=records.append)) as client:
        await client.get_keys("sae-b", size=256)
    assert [(r.method, r.endpoint, r.status, r.error) for r in records] == [
        ("POST", "enc_keys", None, "KmeTransportError"),
        ("POST", "enc_keys", 503, "KmeUnavailableError"),
        ("POST", "enc_keys", 200, None),
    ]
    assert all(record.seconds >= 0 for record in records)


async def test_a_failing_hook_does_not_break_the_call(make_client: MakeClient) -> None:
    def broken(record: RequestRecord) -> None:
        raise RuntimeError("metrics down")

    kme = ScriptedKme([ok(STATUS)])
    async with make_client(kme, fast_options(on_request=broken)) as client:
        status = await client.get_status("sae-b")
    assert status.key_size == 256


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": 0},
        {"dec_keys_wait": -1},
        {"max_connections": 0},
        {"max_response_bytes": 10},
    ],
)
def test_invalid_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="ClientOptions"):
        ClientOptions(**options)
