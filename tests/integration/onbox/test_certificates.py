"""Certificate lifecycle against the testbed: an aged SAE certificate is flagged, renewed (KME
accepts the new pair first), uploaded to its router (key 0600), and rotations carry on."""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.certs.renew import (
    CaServer,
    CertificateWatch,
    RenewError,
    check_inventory_certificates,
    fetch_ca,
    renew_sae_certificate,
)
from qkd_macsec.cli import main
from qkd_macsec.macsec import derive_ckn
from qkd_macsec.pki import create_ca, issue_client_cert, load_ca, save_issued
from qkd_macsec.pki.check import Validity
from qkd_macsec.testbed.builder import PASSWORD_ENV

pytestmark = pytest.mark.slow  # real processes wait for real start-times

LINK = "p2p-11-12"
THRESHOLD = timedelta(days=7)  # the testbed's own certificates are valid for 30 days
DELAY_S = 3.0


def _router_pair(harness: Any, name: str) -> tuple[Path, Path]:
    sae = harness.inventory.hosts[name].sae_id
    certs = harness.routers[name].home / "qkd" / "certs"
    return certs / f"{sae}.crt", certs / f"{sae}.key"


def _age(bed: Any, harness: Any, name: str) -> None:
    """Give ``name`` a certificate that expires in an hour, on the router and the controller."""
    ca = load_ca(bed.directory / "certs")
    host = harness.inventory.hosts[name]
    short = issue_client_cert(ca, host.sae_id, valid_for=timedelta(hours=1))
    save_issued(short, host.tls.cert, host.tls.key)
    save_issued(short, *_router_pair(harness, name))


def _rotate(kit: Any, bed: Any, harness: Any) -> None:
    result = harness.fire_timer("mx304-11")
    assert result.returncode == 0, harness.trace("mx304-11")
    ckn = derive_ckn(kit.current_key_id(harness, "mx304-11", LINK))
    kit.wait_for(lambda: bed.live_ckns(LINK) == [ckn], DELAY_S + 10, "rotation live")
    kit.wait_until_due(harness, "mx304-11", LINK)


def test_aged_certificate_is_flagged_renewed_and_rotations_continue(
    onbox_factory: Any, kit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    bed, harness = onbox_factory([LINK], delay_s=DELAY_S, serve_files=True)
    _rotate(kit, bed, harness)
    _age(bed, harness, "mx304-12")
    _rotate(kit, bed, harness)  # the aged certificate still works

    now = datetime.now(UTC)
    reports = {r.label: r for r in check_inventory_certificates(harness.inventory, THRESHOLD, now)}
    assert reports["SAE mx304-12"].check.validity is Validity.EXPIRING
    assert reports["SAE mx304-11"].ok
    assert reports["KME KME_A"].check is not None
    assert reports["KME KME_B"].check is not None
    with pytest.raises(SystemExit) as exited:
        main(["certs", "check", "--warn-days", "7", "-i", str(bed.inventory_path)])
    assert exited.value.code == 1
    assert "SAE mx304-12" in capsys.readouterr().out

    outcome = renew_sae_certificate(
        harness.inventory, "mx304-12", load_ca(bed.directory / "certs"), now, threshold=THRESHOLD
    )

    assert outcome.renewed
    assert outcome.uploaded
    assert outcome.days_left_after > 300
    cert, key = _router_pair(harness, "mx304-12")
    controller = harness.inventory.hosts["mx304-12"].tls
    assert cert.read_bytes() == controller.cert.read_bytes()
    assert key.read_bytes() == controller.key.read_bytes()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(controller.key.stat().st_mode) == 0o600
    assert not list(cert.parent.glob("*.new"))
    after = {r.label: r for r in check_inventory_certificates(harness.inventory, THRESHOLD, now)}
    assert after["SAE mx304-12"].ok

    for _ in range(2):  # rotations continue with the new certificate, no failed KME call
        _rotate(kit, bed, harness)
    assert "failed" not in harness.trace("mx304-11").lower()
    assert "failed" not in harness.trace("mx304-12").lower()
    assert bed.outage_seconds(LINK) == 0.0


def test_renewal_refused_by_kme_keeps_the_old_certificate(onbox_factory: Any) -> None:
    bed, harness = onbox_factory([LINK], delay_s=DELAY_S, serve_files=True)
    _age(bed, harness, "mx304-12")
    cert, key = _router_pair(harness, "mx304-12")
    before = hashlib.sha256(cert.read_bytes() + key.read_bytes()).hexdigest()
    rogue = create_ca("not the KME's CA")

    with pytest.raises(RenewError, match="did not accept"):
        renew_sae_certificate(
            harness.inventory, "mx304-12", rogue, datetime.now(UTC), threshold=THRESHOLD
        )

    assert hashlib.sha256(cert.read_bytes() + key.read_bytes()).hexdigest() == before
    controller = harness.inventory.hosts["mx304-12"].tls
    assert controller.cert.read_bytes() == cert.read_bytes()
    assert not list(controller.cert.parent.glob("*.new"))


def test_fetch_ca_from_a_ca_server_over_ssh(onbox_factory: Any, tmp_path: Path) -> None:
    bed, harness = onbox_factory([LINK], serve_files=True, configure=False)
    served = harness.root("mx304-11") / "var" / "home" / "remote" / "ca"
    served.mkdir(parents=True)
    source = bed.directory / "certs"
    (served / "ca.pem").write_bytes((source / "ca.pem").read_bytes())
    (served / "ca.key").write_bytes((source / "ca.key").read_bytes())
    host = harness.inventory.hosts["mx304-11"]
    server = CaServer(
        host.host,
        host.port,
        host.user,
        host.known_hosts,
        password=os.environ[PASSWORD_ENV],
        cert_path="/var/home/remote/ca/ca.pem",
        key_path="/var/home/remote/ca/ca.key",
    )

    cert_path, key_path = fetch_ca(server, tmp_path / "fetched")

    assert cert_path.read_bytes() == (source / "ca.pem").read_bytes()
    assert key_path is not None
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert load_ca(tmp_path / "fetched").cert == load_ca(source).cert
    with pytest.raises(RenewError, match="CA server"):
        fetch_ca(
            CaServer(host.host, host.port, host.user, host.known_hosts, password="wrong"),
            tmp_path / "nope",
        )


def test_certificate_watch_warns_at_most_daily(onbox_factory: Any) -> None:
    bed, harness = onbox_factory([LINK], serve_files=False, configure=False)
    _age(bed, harness, "mx304-12")
    watch = CertificateWatch(harness.inventory, THRESHOLD)
    now = datetime.now(UTC)
    warnings = watch.poll(now)
    assert any("SAE mx304-12" in w and "expiring" in w for w in warnings)
    assert watch.poll(now + timedelta(hours=23)) == []
    assert watch.poll(now + timedelta(hours=24)) != []


def test_certs_renew_command_renews_only_what_is_due(
    onbox_factory: Any, kit: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bed, harness = onbox_factory([LINK], serve_files=True, configure=False)
    _age(bed, harness, "mx304-11")
    inventory = kit.write_inventory(bed, harness, tmp_path / "inventory.yaml")
    ca_dir = str(bed.directory / "certs")

    main(["certs", "renew", "-i", str(inventory), "--ca", ca_dir, "--threshold-days", "7"])

    out = capsys.readouterr().out
    assert "mx304-11: renewed" in out
    assert "uploaded" in out
    assert "mx304-12: ok" in out
    cert, _ = _router_pair(harness, "mx304-11")
    assert cert.read_bytes() == harness.inventory.hosts["mx304-11"].tls.cert.read_bytes()
    main(["certs", "check", "--warn-days", "7", "-i", str(inventory)])  # all fine now
