"""KmeClient over real mutual TLS against the embedded KME, in both of its error dialects.

Whatever dialect a KME speaks, the client reports the same typed error.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.integration.conftest import KmeLab, KmeLabFactory, start_kme_lab

from qkd_macsec.etsi014.client import ClientOptions, KmeClient, Method, RequestRecord
from qkd_macsec.etsi014.errors import (
    KeyExpiredError,
    KeyNotFoundError,
    KeyPoolExhaustedError,
    KmeTlsError,
    KmeTransportError,
    UnauthorizedError,
)
from qkd_macsec.etsi014.retry import RetryPolicy
from qkd_macsec.etsi014.tls import TlsIdentity
from qkd_macsec.kme.example import write_example_network

MASTER, SLAVE, BYSTANDER = "mx304-11", "mx304-12", "mx304-13"
SAES = {MASTER: "KME_A", SLAVE: "KME_B", BYSTANDER: "KME_B"}
DIALECTS = ["etsi", "lenient"]
FAST = ClientOptions(
    timeout=5.0,
    connect_timeout=2.0,
    retry=RetryPolicy(attempts=3, backoff_base=0.01, backoff_max=0.05),
    dec_keys_wait=0.0,
)


@dataclass
class ManualClock:
    """The KME network's clock, moved by the test (expiry without waiting)."""

    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module", params=DIALECTS)
def lab(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KmeLab]:
    directory = tmp_path_factory.mktemp(f"lab-{request.param}")
    with start_kme_lab(directory, saes=SAES, dialect=request.param) as running:
        yield running


def client(lab: KmeLab, sae_id: str, options: ClientOptions = FAST) -> KmeClient:
    return KmeClient(lab.url_for_sae(sae_id), lab.identity(sae_id), options)


# -- the happy paths ------------------------------------------------------------------------------


async def test_status_describes_the_link(lab: KmeLab) -> None:
    async with client(lab, MASTER) as master:
        status = await master.get_status(SLAVE)
    assert (status.source_kme_id, status.target_kme_id) == ("KME_A", "KME_B")
    assert (status.master_sae_id, status.slave_sae_id) == (MASTER, SLAVE)
    assert status.key_size == 256
    assert status.stored_key_count > 0


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_enc_and_dec_keys_deliver_identical_bytes(lab: KmeLab, method: Method) -> None:
    async with client(lab, MASTER) as master, client(lab, SLAVE) as slave:
        issued = await master.get_keys(SLAVE, size=256, number=1, method=method)
        fetched = await slave.get_keys_with_ids(MASTER, [issued[0].key_id], method=method)
    assert fetched[0].key_id == issued[0].key_id
    assert fetched[0].key == issued[0].key
    assert issued[0].bits == 256


async def test_several_keys_come_back_in_the_order_asked(lab: KmeLab) -> None:
    async with client(lab, MASTER) as master, client(lab, SLAVE) as slave:
        issued = await master.get_keys(SLAVE, size=128, number=3)
        wanted = [key.key_id for key in reversed(issued)]
        fetched = await slave.get_keys_with_ids(MASTER, wanted, size=128)
    assert [key.key_id for key in fetched] == wanted
    assert [key.key for key in fetched] == [key.key for key in reversed(issued)]


async def test_multicast_key_reaches_every_named_slave(lab: KmeLab) -> None:
    async with (
        client(lab, MASTER) as master,
        client(lab, SLAVE) as slave,
        client(lab, BYSTANDER) as other,
    ):
        (issued,) = await master.get_keys(SLAVE, size=256, additional_slave_sae_ids=[BYSTANDER])
        (first,) = await slave.get_keys_with_ids(MASTER, [issued.key_id])
        (second,) = await other.get_keys_with_ids(MASTER, [issued.key_id])
    assert first.key == issued.key == second.key


# -- one typed error per fault, whatever the dialect ---------------------------------------------


async def test_a_key_is_delivered_once(lab: KmeLab) -> None:
    async with client(lab, MASTER) as master, client(lab, SLAVE) as slave:
        (issued,) = await master.get_keys(SLAVE, size=256)
        await slave.get_keys_with_ids(MASTER, [issued.key_id])
        with pytest.raises(KeyNotFoundError):
            await slave.get_keys_with_ids(MASTER, [issued.key_id])


async def test_unknown_key_id_is_not_found(lab: KmeLab) -> None:
    async with client(lab, SLAVE) as slave:
        with pytest.raises(KeyNotFoundError):
            await slave.get_keys_with_ids(MASTER, ["00000000-0000-4000-8000-000000000000"])


async def test_slave_not_named_is_refused(lab: KmeLab) -> None:
    async with client(lab, MASTER) as master, client(lab, BYSTANDER) as other:
        (issued,) = await master.get_keys(SLAVE, size=256)
        with pytest.raises(UnauthorizedError):
            await other.get_keys_with_ids(MASTER, [issued.key_id])


async def test_unknown_slave_is_refused(lab: KmeLab) -> None:
    async with client(lab, MASTER) as master:
        with pytest.raises(UnauthorizedError):
            await master.get_keys("no-such-sae", size=256)


async def test_sae_calling_the_wrong_kme_is_refused(lab: KmeLab) -> None:
    wrong = KmeClient(lab.url("KME_B"), lab.identity(MASTER), FAST)
    async with wrong:
        with pytest.raises(UnauthorizedError):
            await wrong.get_status(SLAVE)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_empty_pool_is_reported_and_not_retried(
    kme_lab_factory: KmeLabFactory, dialect: str
) -> None:
    small = {"pool_capacity_bits": 512, "key_rate_bps": 1}
    lab = kme_lab_factory(dialect=dialect, link=small)
    records: list[RequestRecord] = []
    options = ClientOptions(retry=FAST.retry, on_request=records.append)
    async with client(lab, MASTER, options) as master:
        with pytest.raises(KeyPoolExhaustedError):
            await master.get_keys(SLAVE, size=256, number=3)
    assert len(records) == 1


@pytest.mark.parametrize(
    ("dialect", "kind"), [("etsi", KeyNotFoundError), ("lenient", KeyExpiredError)]
)
async def test_expired_key(
    kme_lab_factory: KmeLabFactory, dialect: str, kind: type[Exception]
) -> None:
    clock = ManualClock()
    lab = kme_lab_factory(dialect=dialect, link={"key_ttl_s": 60}, clock=clock)
    async with client(lab, MASTER) as master, client(lab, SLAVE) as slave:
        (issued,) = await master.get_keys(SLAVE, size=256)
        clock.now += 61
        with pytest.raises(kind):
            await slave.get_keys_with_ids(MASTER, [issued.key_id])
    # The spec has no "expired": the etsi dialect reports it as not found, and that is what a
    # caller sees; both are non-retryable reasons to start over with a fresh key.


async def test_dec_keys_waits_for_synchronisation(kme_lab_factory: KmeLabFactory) -> None:
    lab = kme_lab_factory(link={"sync_delay_ms": 300})
    waiting = ClientOptions(
        retry=RetryPolicy(backoff_base=0.02, backoff_max=0.1), dec_keys_wait=10.0
    )
    async with client(lab, MASTER) as master, client(lab, SLAVE, waiting) as slave:
        (issued,) = await master.get_keys(SLAVE, size=256)
        with pytest.raises(KeyNotFoundError):
            await slave.get_keys_with_ids(MASTER, [issued.key_id], wait=0)
        (fetched,) = await slave.get_keys_with_ids(MASTER, [issued.key_id])
    assert fetched.key == issued.key


async def test_injected_outages_and_drops_are_ridden_out(kme_lab_factory: KmeLabFactory) -> None:
    faults = {"error_503_rate": 0.3, "drop_rate": 0.2, "seed": 7}
    lab = kme_lab_factory(kme_options={"faults": faults})
    records: list[RequestRecord] = []
    options = ClientOptions(
        retry=RetryPolicy(attempts=12, backoff_base=0.005, backoff_max=0.02),
        on_request=records.append,
    )
    async with client(lab, MASTER, options) as master, client(lab, SLAVE, options) as slave:
        for _ in range(10):
            (issued,) = await master.get_keys(SLAVE, size=256)
            (fetched,) = await slave.get_keys_with_ids(MASTER, [issued.key_id])
            assert fetched.key == issued.key
    errors = {record.error for record in records if record.error}
    assert "KmeUnavailableError" in errors
    assert "KmeTransportError" in errors


# -- TLS --------------------------------------------------------------------------------------


def foreign_identity(directory: Path, trust: Path | None = None) -> TlsIdentity:
    """An SAE certificate from another CA (same CN), trusting ``trust`` for the KME."""
    other = write_example_network(directory)
    files = other.saes[MASTER]
    return TlsIdentity(files.cert, files.key, ca=trust or other.ca_cert)


async def test_certificate_from_another_ca_is_refused(lab: KmeLab, tmp_path: Path) -> None:
    # TLS 1.3 checks the client certificate after the handshake. The KME's refusal alert may
    # arrive (a TLS error, not retried) or be lost to the connection reset (a dropped
    # connection, retried): both are refusals, and no attempt ever gets an HTTP answer.
    records: list[RequestRecord] = []
    identity = foreign_identity(tmp_path, trust=lab.example.ca_cert)
    options = ClientOptions(retry=FAST.retry, on_request=records.append)
    async with KmeClient(lab.url_for_sae(MASTER), identity, options) as master:
        with pytest.raises(KmeTransportError):
            await master.get_status(SLAVE)
    assert {record.status for record in records} == {None}
    assert 1 <= len(records) <= FAST.retry.attempts


async def test_kme_with_an_untrusted_certificate_is_refused(lab: KmeLab, tmp_path: Path) -> None:
    mine = lab.identity(MASTER)
    other_ca = foreign_identity(tmp_path).ca
    assert other_ca is not None
    identity = TlsIdentity(mine.cert, mine.key, ca=other_ca)
    async with KmeClient(lab.url_for_sae(MASTER), identity, FAST) as master:
        with pytest.raises(KmeTlsError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
            await master.get_status(SLAVE)


async def test_connection_refused_is_a_transport_error(lab: KmeLab) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    records: list[RequestRecord] = []
    options = ClientOptions(retry=FAST.retry, on_request=records.append)
    async with KmeClient(f"https://127.0.0.1:{port}", lab.identity(MASTER), options) as master:
        with pytest.raises(KmeTransportError) as caught:
            await master.get_status(SLAVE)
    assert not isinstance(caught.value, KmeTlsError)
    assert len(records) == FAST.retry.attempts
