"""A known key value never shows in reprs, exception texts, tracebacks or DEBUG logs."""

from __future__ import annotations

import base64
import traceback
from collections.abc import Callable

import httpx
import pytest
from tests.unit.etsi014.conftest import LogCapture, ScriptedKme, container, error, ok

from qkd_macsec.etsi014.client import KmeClient
from qkd_macsec.etsi014.errors import KmeError

MakeClient = Callable[..., KmeClient]
CANARY = b"CANARY-qkd-key-material-0123456"  # 31 bytes: short of 256 bits on purpose below
KEY = CANARY + b"!"  # 32 bytes
KEY_ID = "d9b6fa63-dd88-47d2-8afe-94fcecf40d19"
OTHER_ID = "0b5e0d4c-1111-2222-3333-444455556666"


def leaks(text: str) -> list[str]:
    forms = {
        "raw": KEY.decode(),
        "canary": CANARY.decode(),
        "hex": KEY.hex(),
        "HEX": KEY.hex().upper(),
        "base64": base64.b64encode(KEY).decode(),
        "base64-canary": base64.b64encode(CANARY).decode(),
        "bytes-repr": repr(KEY),
    }
    return [name for name, form in forms.items() if form in text]


def everything_about(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


async def test_delivered_keys_never_show(make_client: MakeClient, etsi_log: LogCapture) -> None:
    kme = ScriptedKme([ok(container((KEY_ID, KEY)))])
    async with make_client(kme) as client:
        keys = await client.get_keys("sae-b", size=256)
        again = await client.get_keys_with_ids("sae-a", [KEY_ID])
    assert keys[0].key.reveal() == KEY
    shown = "\n".join([repr(keys), str(keys), repr(keys[0]), str(again[0]), f"{keys[0]}"])
    assert KEY_ID in shown
    assert leaks(shown) == []
    assert leaks(etsi_log.text) == []
    assert etsi_log.messages  # DEBUG logging was really on


BAD_ANSWERS = [
    ok(container((KEY_ID, CANARY))),  # too short for 256 bits
    ok(container((KEY_ID, KEY), (KEY_ID, KEY))),  # duplicate IDs
    ok(container((KEY_ID, KEY), (OTHER_ID, KEY))),  # wrong count
    ok({"keys": [{"key_ID": 7, "key": base64.b64encode(KEY).decode()}]}),  # wrong type
    ok({"keys": [{"key_ID": KEY_ID, "key": base64.b64encode(KEY).decode() + "!"}]}),
    ok({"keys": {"key_ID": KEY_ID, "key": base64.b64encode(KEY).decode()}}),
    httpx.Response(200, content=b'{"keys":[{"key_ID":"x","key":"' + base64.b64encode(KEY)),
    error(400, {"message": f"cannot deliver {base64.b64encode(KEY).decode()}"}),
    error(503, {"detail": {"key": base64.b64encode(KEY).decode()}}),
    httpx.Response(500, content=b"oops " + base64.b64encode(KEY)),
]


@pytest.mark.parametrize("answer", BAD_ANSWERS)
async def test_failures_never_carry_key_material(
    make_client: MakeClient, etsi_log: LogCapture, answer: httpx.Response
) -> None:
    kme = ScriptedKme([answer])
    async with make_client(kme) as client:
        with pytest.raises(KmeError) as caught:
            await client.get_keys("sae-b", size=256)
    assert leaks(everything_about(caught.value)) == []
    assert caught.value.__context__ is None or leaks(repr(caught.value.__context__)) == []
    assert leaks(etsi_log.text) == []
