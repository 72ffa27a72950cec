"""A TLS hop's posture read from a real pyOpenSSL connection (in memory, no sockets), and the
transport policy deciding on a device session by its hop kind (``devices.hop_policy``)."""

from __future__ import annotations

import contextlib
import logging
import ssl
from pathlib import Path

import pytest

from qkd_macsec.devices.base import DeviceTarget, DeviceTransportPolicyError, InvalidTargetError
from qkd_macsec.devices.hop_policy import enforce_transport_policy, policy_for, report_posture
from qkd_macsec.hybrid_tls import (
    TlsCertificateError,
    TlsEngine,
    TlsFiles,
    anonymous_client_context,
    hybrid_tls_available,
    server_context,
    settle_handshake,
)
from qkd_macsec.posture import HopPosture, PqPolicy
from qkd_macsec.secret import Secret
from qkd_macsec.sim.nxos.server import NxosTls, make_tls

needs_hybrid = pytest.mark.skipif(not hybrid_tls_available(), reason="no ML-KEM in pyOpenSSL")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> NxosTls:
    return make_tls(tmp_path_factory.mktemp("tls"))


def pump(
    client: TlsEngine, server: TlsEngine | ssl.SSLObject, bio: tuple[ssl.MemoryBIO, ...]
) -> None:
    """Move handshake bytes both ways until the client is done (bounded)."""
    for _ in range(10):
        done = client.handshake()
        out = client.outgoing()
        if isinstance(server, TlsEngine):
            server.receive(out)
            server.handshake()
            client.receive(server.outgoing())
        else:
            incoming, outgoing = bio
            incoming.write(out)
            with contextlib.suppress(ssl.SSLWantReadError):
                server.do_handshake()
            client.receive(outgoing.read())
        if done:
            return
    raise AssertionError("handshake did not complete")


def hybrid_pair(tls: NxosTls, ca: Path) -> tuple[TlsEngine, TlsEngine]:
    server = TlsEngine(
        server_context(TlsFiles(tls.cert, tls.key, None), client_certificates=False),
        server_side=True,
    )
    client = TlsEngine(anonymous_client_context(ca), server_side=False, server_hostname="localhost")
    return client, server


def target(**changes: object) -> DeviceTarget:
    fields: dict[str, object] = {
        "name": "nx1",
        "host": "127.0.0.1",
        "user": "admin",
        "password": Secret(b"pw"),
        "management": "https",
    }
    fields.update(changes)
    return DeviceTarget(**fields)  # type: ignore[arg-type]


@needs_hybrid
def test_a_hybrid_connection_measures_x25519mlkem768(tls: NxosTls) -> None:
    client, server = hybrid_pair(tls, tls.ca)
    pump(client, server, ())
    seen: list[HopPosture] = []
    posture = settle_handshake(client, verify=True, peer="nx1", on_handshake=seen.append)
    assert seen == [posture]
    assert (posture.kind, posture.kex, posture.version) == ("tls", "X25519MLKEM768", "TLSv1.3")
    assert posture.cipher == "TLS_AES_256_GCM_SHA384"
    assert posture.pq
    assert posture.aes256


def test_a_classical_server_measures_a_classical_group(tls: NxosTls) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ecdh_curve("prime256v1")
    context.load_cert_chain(str(tls.cert), str(tls.key))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = context.wrap_bio(incoming, outgoing, server_side=True)
    client = TlsEngine(
        anonymous_client_context(tls.ca), server_side=False, server_hostname="localhost"
    )
    pump(client, server, (incoming, outgoing))
    posture = settle_handshake(client, verify=True, peer="nx1", on_handshake=None)
    assert posture.kex == "secp256r1"
    assert not posture.pq
    assert posture.label == "classical"


def test_a_certificate_from_another_ca_fails_the_handshake_as_a_verification_error(
    tls: NxosTls, tmp_path: Path
) -> None:
    other = make_tls(tmp_path / "other")
    client, server = hybrid_pair(tls, other.ca)
    with pytest.raises(TlsCertificateError) as caught:
        pump(client, server, ())
    assert isinstance(caught.value, ssl.SSLCertVerificationError)  # as the ssl module says it


def test_a_certificate_for_another_name_is_refused_before_the_hook(tls: NxosTls) -> None:
    server = TlsEngine(
        server_context(TlsFiles(tls.cert, tls.key, None), client_certificates=False),
        server_side=True,
    )
    client = TlsEngine(
        anonymous_client_context(tls.ca), server_side=False, server_hostname="switch.example.net"
    )
    pump(client, server, ())
    seen: list[HopPosture] = []
    with pytest.raises(ssl.SSLCertVerificationError, match=r"does not name 'switch\.example\.net'"):
        settle_handshake(client, verify=True, peer="nx1", on_handshake=seen.append)
    assert seen == []


CLASSICAL = HopPosture("tls", "nx1 (127.0.0.1:443)", "X25519", "TLS_AES_256_GCM_SHA384")
HYBRID = HopPosture("tls", "nx1 (127.0.0.1:443)", "X25519MLKEM768", "TLS_AES_256_GCM_SHA384")


def test_the_tls_policy_governs_tls_hops_and_the_ssh_policy_ssh_hops() -> None:
    t = target(tls_policy=PqPolicy.REQUIRED, ssh_policy=PqPolicy.ANY)
    assert policy_for(CLASSICAL, t) is PqPolicy.REQUIRED
    ssh = HopPosture("ssh", "r1", "curve25519-sha256", "aes256-gcm@openssh.com")
    assert policy_for(ssh, t) is PqPolicy.ANY


def test_pq_required_closes_and_refuses_a_classical_tls_hop() -> None:
    closed: list[bool] = []
    with pytest.raises(DeviceTransportPolicyError, match=r"policy\.transport\.tls is pq-required"):
        enforce_transport_policy(
            CLASSICAL, target(tls_policy=PqPolicy.REQUIRED), lambda: closed.append(True)
        )
    assert closed == [True]
    enforce_transport_policy(HYBRID, target(tls_policy=PqPolicy.REQUIRED), lambda: 1 / 0)


def test_pq_preferred_warns_once_per_posture(caplog: pytest.LogCaptureFixture) -> None:
    posture = HopPosture("tls", "nx-warn-once (192.0.2.9:443)", "secp384r1", "AES256-GCM")
    with caplog.at_level(logging.WARNING, logger="qkd_macsec"):
        for _ in range(3):
            enforce_transport_policy(posture, target(), lambda: None)
    flagged = [r for r in caplog.records if "accepted, flagged" in r.getMessage()]
    assert len(flagged) == 1


def test_a_failing_posture_hook_is_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_: HopPosture) -> None:
        raise RuntimeError("hook")

    with caplog.at_level(logging.WARNING, logger="qkd_macsec"):
        report_posture(HYBRID, target(on_posture=broken))
    assert "on_posture hook failed" in caplog.text


def test_an_https_target_needs_no_known_hosts_an_ssh_target_does() -> None:
    assert target().known_hosts is None
    with pytest.raises(InvalidTargetError, match="known_hosts is required"):
        target(management="ssh")
    with pytest.raises(InvalidTargetError, match="unknown management"):
        target(management="telnet")
