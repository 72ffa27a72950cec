"""Hybrid post-quantum TLS between the ETSI 014 client and the embedded KME, measured per
connection and judged by ``policy.transport.tls`` (real mTLS on 127.0.0.1, no mocks).

A ``tls: classical`` KME serves through the runtime's ssl module (OpenSSL 3.0 here: no ML-KEM
group), i.e. a KME that withholds the PQ groups.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from tests.integration.conftest import KmeLab, KmeLabFactory, start_kme_lab

from qkd_macsec.etsi014.client import ClientOptions, KmeClient
from qkd_macsec.etsi014.errors import KmePostureError, KmeTlsError
from qkd_macsec.etsi014.retry import RetryPolicy
from qkd_macsec.hybrid_tls import hybrid_tls_available, library_openssl_version
from qkd_macsec.posture import HopPosture, PqPolicy

MASTER, SLAVE = "mx304-11", "mx304-12"
RETRY = RetryPolicy(attempts=2, backoff_base=0.01, backoff_max=0.02)

pytestmark = pytest.mark.skipif(
    not hybrid_tls_available(),
    reason=f"pyOpenSSL's OpenSSL {library_openssl_version()} has no ML-KEM groups (needs 3.5)",
)


def options(policy: PqPolicy, **extra: object) -> ClientOptions:
    return ClientOptions(timeout=5.0, connect_timeout=2.0, retry=RETRY, tls_policy=policy, **extra)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def hybrid_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KmeLab]:
    with start_kme_lab(tmp_path_factory.mktemp("hybrid")) as running:
        yield running


@pytest.fixture(scope="module")
def classical_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KmeLab]:
    directory = tmp_path_factory.mktemp("classical")
    with start_kme_lab(directory, kme_options={"tls": "classical"}) as running:
        yield running


async def test_hybrid_group_is_negotiated_and_keys_flow_under_pq_required(
    hybrid_lab: KmeLab,
) -> None:
    seen: list[HopPosture] = []
    opts = options(PqPolicy.REQUIRED, on_posture=seen.append)
    async with (
        KmeClient(hybrid_lab.url_for_sae(MASTER), hybrid_lab.identity(MASTER), opts) as master,
        KmeClient(hybrid_lab.url_for_sae(SLAVE), hybrid_lab.identity(SLAVE), opts) as slave,
    ):
        [key] = await master.get_keys(SLAVE, size=256)
        [same] = await slave.get_keys_with_ids(MASTER, [key.key_id])
        assert same.key == key.key
        for client in (master, slave):
            posture = client.posture
            assert posture is not None
            assert posture.kind == "tls"
            assert posture.kex == "X25519MLKEM768"
            assert posture.pq
            assert posture.version == "TLSv1.3"
            assert posture.cipher == "TLS_AES_256_GCM_SHA384"
            assert posture.aes256
    assert {p.peer for p in seen} == {
        hybrid_lab.url_for_sae(MASTER).removeprefix("https://"),
        hybrid_lab.url_for_sae(SLAVE).removeprefix("https://"),
    }


async def test_classical_kme_is_accepted_and_flagged_under_pq_preferred(
    classical_lab: KmeLab, caplog: pytest.LogCaptureFixture
) -> None:
    url = classical_lab.url_for_sae(MASTER)
    with caplog.at_level(logging.INFO, logger="qkd_macsec"):
        async with KmeClient(url, classical_lab.identity(MASTER), options(PqPolicy.PREFERRED)) as c:
            status = await c.get_status(SLAVE)
    assert status.slave_sae_id == SLAVE
    posture = c.posture
    assert posture is not None
    assert not posture.pq
    assert posture.kex is not None
    assert "MLKEM" not in posture.kex.upper()
    assert posture.label == "classical"
    flagged = [r.getMessage() for r in caplog.records if "pq-preferred: accepted" in r.getMessage()]
    assert len(flagged) == 1
    assert "classical" in flagged[0]


async def test_classical_kme_is_refused_under_pq_required_before_any_key(
    classical_lab: KmeLab,
) -> None:
    url = classical_lab.url_for_sae(MASTER)
    identity = classical_lab.identity(MASTER)
    async with KmeClient(url, identity, options(PqPolicy.PREFERRED)) as observer:
        before = (await observer.get_status(SLAVE)).stored_key_count
    async with KmeClient(url, identity, options(PqPolicy.REQUIRED)) as strict:
        with pytest.raises(KmePostureError, match=r"pq-required") as caught:
            await strict.get_keys(SLAVE, size=256, number=3)
    assert isinstance(caught.value, KmeTlsError)  # never retried
    refused = caught.value.posture
    assert isinstance(refused, HopPosture)
    assert not refused.pq
    async with KmeClient(url, identity, options(PqPolicy.PREFERRED)) as observer:
        assert (await observer.get_status(SLAVE)).stored_key_count == before


async def test_any_accepts_a_classical_kme_without_flagging(
    classical_lab: KmeLab, caplog: pytest.LogCaptureFixture
) -> None:
    url = classical_lab.url_for_sae(MASTER)
    with caplog.at_level(logging.INFO, logger="qkd_macsec"):
        async with KmeClient(url, classical_lab.identity(MASTER), options(PqPolicy.ANY)) as c:
            await c.get_status(SLAVE)
    assert c.posture is not None
    assert not c.posture.pq
    assert not [r for r in caplog.records if "pq-preferred" in r.getMessage()]


async def test_the_stdlib_stack_is_refused_under_pq_required_without_connecting(
    hybrid_lab: KmeLab,
) -> None:
    opts = options(PqPolicy.REQUIRED, tls_stack="stdlib")
    async with KmeClient(hybrid_lab.url_for_sae(MASTER), hybrid_lab.identity(MASTER), opts) as c:
        with pytest.raises(KmePostureError, match=r"offers no ML-KEM group"):
            await c.get_keys(SLAVE, size=256)
    assert c.posture is None


async def test_hybrid_client_still_checks_the_kme_host_name(
    kme_lab_factory: KmeLabFactory,
) -> None:
    # The lab certificates name 127.0.0.1 and localhost; this KME listens on 127.0.0.2.
    lab = kme_lab_factory(kme_options={"listen": {"host": "127.0.0.2", "port": 0}})
    async with KmeClient(lab.url_for_sae(MASTER), lab.identity(MASTER), options(PqPolicy.ANY)) as c:
        with pytest.raises(KmeTlsError, match=r"does not name '127.0.0.2'"):
            await c.get_status(SLAVE)
