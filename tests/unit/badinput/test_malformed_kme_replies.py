"""Whatever a KME answers, a wave aborts the key step cleanly and leaves every link unchanged.

The real executor and key source, the real ETSI 014 client over ``httpx.MockTransport`` playing
a KME that answers enc_keys or dec_keys with garbage (bytes, JSON of any shape, wrong key IDs,
a different key for the slave, error statuses); routers are in-memory fakes. After such a wave:
every rotation is ABORTED with a "key fetch" error, no router saw a commit, every chain is as
it was, and nothing is left open in the journal.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qkd_macsec.devices.base import MacsecBinding
from qkd_macsec.engine.executor import ExecutorOptions, RotationExecutor
from qkd_macsec.engine.journal import Journal, Phase
from qkd_macsec.engine.keysource import KeySource
from qkd_macsec.engine.topology import EndSpec, LinkSpec
from qkd_macsec.etsi014.client import ClientOptions, KmeClient
from qkd_macsec.etsi014.retry import RetryPolicy
from qkd_macsec.etsi014.tls import TlsIdentity
from support.engine_fakes import FakeNetwork, make_link

FAST = ExecutorOptions(
    max_workers=4,
    min_activation_delay=0.3,
    clock_tolerance=0.0,
    verify_grace=0.05,
    verify_timeout=3.0,
    verify_interval=0.05,
    initial_session_estimate=0.05,
)
CLIENT = ClientOptions(dec_keys_wait=0.0, retry=RetryPolicy(attempts=1))
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
Handler = Callable[[httpx.Request], httpx.Response]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
statuses = st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 404, 429, 500, 503])


def key_entry(key_id: str, raw: bytes) -> dict[str, str]:
    return {"key_ID": key_id, "key": base64.b64encode(raw).decode()}


class FakeKme:
    """A KME that issues good keys, unless told how to misbehave on one endpoint."""

    def __init__(self) -> None:
        self.issued: dict[str, bytes] = {}
        self.bad_endpoint: str | None = None
        self.bad_reply: Callable[[httpx.Request], httpx.Response] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        endpoint = request.url.path.rsplit("/", 1)[-1]
        if endpoint == self.bad_endpoint and self.bad_reply is not None:
            return self.bad_reply(request)
        if endpoint == "enc_keys":
            key_id, raw = str(uuid.uuid4()), os.urandom(32)
            self.issued[key_id] = raw
            return httpx.Response(200, json={"keys": [key_entry(key_id, raw)]})
        asked = json.loads(request.content or b"{}").get("key_IDs", [])
        ids = [item.get("key_ID") for item in asked]
        if not all(i in self.issued for i in ids):
            return httpx.Response(400, json={"message": "keys not found"})
        return httpx.Response(200, json={"keys": [key_entry(i, self.issued.pop(i)) for i in ids]})


def binding(link: LinkSpec, end: EndSpec) -> list[MacsecBinding]:
    return [MacsecBinding(i, link.ca, link.suite, link.key_chain) for i in end.interfaces]


class World:
    """Two links on three fake routers, bootstrapped once through the good KME."""

    def __init__(self, directory: Path) -> None:
        self.kme = FakeKme()
        self.net = FakeNetwork()
        identity = TlsIdentity(cert=directory / "unused.pem", key=directory / "unused.key")
        self.links = [
            make_link("l1", "r1", "r2"),
            make_link("l2", "r1", "r3", chain="KC2", interface="et-0/0/2"),
        ]

        def client_for(sae_id: str) -> KmeClient:
            transport = httpx.MockTransport(self.kme)
            return KmeClient("https://kme.test", identity, CLIENT, transport=transport)

        self.executor = RotationExecutor(
            self.links,
            Journal(directory / "journal.sqlite"),
            KeySource(client_for, dec_keys_wait=0.0),
            self.net.driver,
            binding_for=binding,
            options=FAST,
        )
        boot = asyncio.run(self.executor.run_wave(self.executor.plan()))
        assert boot.ok, boot.failed_links

    def snapshot(self) -> dict[str, Any]:
        return {
            name: (router.commits, {c: dict(e) for c, e in router.chains.items()})
            for name, router in self.net.routers.items()
        }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = World(tmp_path_factory.mktemp("kme-garbage"))
    yield built
    built.executor.close()
    built.executor.journal.close()


def garbage_replies() -> st.SearchStrategy[tuple[str, Handler]]:
    """(endpoint, reply) pairs: garbage bodies, wrong shapes, wrong IDs, different keys."""

    def raw(status: int, body: bytes) -> Handler:
        return lambda _request: httpx.Response(status, content=body)

    def as_json(status: int, value: Any) -> Handler:
        return lambda _request: httpx.Response(status, json=value)

    def wrong_id(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"keys": [key_entry(str(uuid.uuid4()), os.urandom(32))]})

    def other_key(request: httpx.Request) -> httpx.Response:
        ids = [i.get("key_ID") for i in json.loads(request.content).get("key_IDs", [])]
        return httpx.Response(200, json={"keys": [key_entry(i, os.urandom(32)) for i in ids]})

    def short_key(size: int) -> Handler:
        return lambda _r: httpx.Response(
            200, json={"keys": [key_entry(str(uuid.uuid4()), os.urandom(size))]}
        )

    endpoints = st.sampled_from(["enc_keys", "dec_keys"])
    bodies = st.one_of(
        st.builds(raw, statuses, st.binary(max_size=64)),
        st.builds(as_json, statuses, json_values),
        st.builds(as_json, statuses, st.fixed_dictionaries({"keys": json_values})),
        st.builds(
            as_json,
            statuses,
            st.fixed_dictionaries(
                {"keys": st.lists(st.dictionaries(st.sampled_from(["key_ID", "key"]), json_values))}
            ),
        ),
        st.just(wrong_id),
        st.builds(short_key, st.integers(min_value=0, max_value=31)),
    )
    return st.one_of(
        st.tuples(endpoints, bodies),
        st.tuples(st.just("dec_keys"), st.just(other_key)),
    )


@PROPERTY
@given(reply=garbage_replies())
def test_malformed_kme_replies_abort_the_key_step_and_touch_no_router(
    world: World, reply: tuple[str, Handler]
) -> None:
    endpoint, handler = reply
    before = world.snapshot()
    world.kme.bad_endpoint, world.kme.bad_reply = endpoint, handler
    try:
        result = asyncio.run(world.executor.run_wave(world.executor.plan(force=["l1", "l2"])))
    finally:
        world.kme.bad_endpoint = world.kme.bad_reply = None

    for rotation in result.rotations.values():
        assert rotation.phase is Phase.ABORTED, rotation
        assert rotation.error is not None
        assert rotation.error.startswith("key fetch: "), rotation.error
    assert result.devices == {}  # no router was contacted
    assert world.snapshot() == before
    assert world.executor.journal.open_rotations() == []
