"""Peers that cannot prove who they are are refused with a clear error, before any change."""

from __future__ import annotations

import yaml

from qkd_macsec.engine.controller import Controller
from qkd_macsec.engine.journal import Phase
from qkd_macsec.inventory import load_inventory
from qkd_macsec.pki.ca import create_ca, save_ca
from qkd_macsec.pki.files import write_private
from qkd_macsec.testbed.builder import Testbed

from .conftest import RunCli


def commits(testbed: Testbed) -> dict[str, int]:
    return {name: len(testbed.lab.device(name).history) for name in testbed.inventory.hosts}


def live(testbed: Testbed) -> dict[str, list[str | None]]:
    return {link: testbed.live_ckns(link) for link in testbed.wires}


async def test_kme_whose_certificate_does_not_verify_is_refused(
    testbed: Testbed, run_cli: RunCli
) -> None:
    async with Controller(testbed.inventory) as controller:
        assert (await controller.rotate()).ok
    before_commits, before_live = commits(testbed), live(testbed)

    # The inventory now trusts another CA: the KMEs' real certificates no longer verify.
    other_ca, _ = save_ca(create_ca("not the KMEs' CA"), testbed.directory / "other-ca")
    document = yaml.safe_load(testbed.inventory_path.read_text())
    for kme in document["kmes"].values():
        kme["ca"] = str(other_ca)
    path = testbed.directory / "wrong-ca.yaml"
    write_private(path, yaml.safe_dump(document).encode())

    async with Controller(load_inventory(path)) as controller:
        result = await controller.rotate(all_links=True)
    assert sorted(result.failed_links) == sorted(testbed.wires)
    for rotation in result.rotations.values():
        assert rotation.phase is Phase.ABORTED
        assert rotation.error is not None
        assert "KmeTlsError" in rotation.error
        assert "certificate" in rotation.error.lower()
    assert commits(testbed) == before_commits  # no router was touched
    assert live(testbed) == before_live

    cli = run_cli("rotate", "--force", "-i", str(path))
    assert cli.returncode != 0
    assert "Traceback" not in cli.stderr + cli.stdout
    assert "certificate" in (cli.stderr + cli.stdout).lower()
    assert commits(testbed) == before_commits


async def test_router_whose_host_key_changed_is_refused(testbed: Testbed) -> None:
    async with Controller(testbed.inventory) as controller:
        assert (await controller.rotate()).ok
        before_commits, before_live = commits(testbed), live(testbed)
        testbed.lab.rotate_host_key("mx304-12")  # a man in the middle, or a re-installed box

        result = await controller.rotate(all_links=True)

    device = result.devices["mx304-12"]
    assert not device.ok
    assert device.error is not None
    assert "host key" in device.error
    assert "CHANGED" in device.error
    assert "refusing to connect" in device.error
    # mx304-12 is an end of both links: neither rotated, and the other ends were undone
    assert sorted(result.failed_links) == sorted(testbed.wires)
    assert all(r.phase is Phase.ABORTED for r in result.rotations.values())
    assert commits(testbed)["mx304-12"] == before_commits["mx304-12"]
    assert live(testbed) == before_live
    assert all(testbed.outage_seconds(link) == 0.0 for link in testbed.wires)
