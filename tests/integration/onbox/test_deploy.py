"""``onbox deploy`` against the simulator: script uploaded with the right checksum, event-options
and apply-macros committed, and a second deployment changes nothing."""

from __future__ import annotations

import hashlib
import stat
from typing import Any

import pytest
from click.testing import CliRunner

from qkd_macsec.cli.errors import EXIT_UNREACHABLE, CliError
from qkd_macsec.cli.onbox import group
from qkd_macsec.onbox.build import build_script
from qkd_macsec.onbox.config import EVENT_NAME, OnboxOptions
from qkd_macsec.onbox.deploy import deploy_router

EVENT_SCRIPT = "var/db/scripts/event/qkd_onbox.py"


@pytest.mark.parametrize("transfer", ["scp", "sftp"])
def test_deploy_uploads_commits_and_is_idempotent(
    onbox_factory: Any, tmp_path: Any, transfer: str
) -> None:
    bed, harness = onbox_factory(["p2p-11-12"], serve_files=True, configure=False)
    script = build_script(tmp_path / "build")
    options = OnboxOptions(timer_s=120, transport="push")
    device = bed.lab.device("mx304-11")
    root = harness.root("mx304-11")
    (root / EVENT_SCRIPT).unlink()  # the harness pre-installs it; deploy must bring it

    first = deploy_router(harness.inventory, "mx304-11", script, options, transfer)

    assert (first.uploaded, first.committed) == (True, True)
    uploaded = root / EVENT_SCRIPT
    assert hashlib.sha256(uploaded.read_bytes()).hexdigest() == script.sha256
    assert stat.S_IMODE(uploaded.stat().st_mode) == 0o644
    committed = device.committed.to_set()
    assert f"set event-options generate-event {EVENT_NAME} time-interval 120" in committed
    assert f"event-script file qkd_onbox.py checksum sha-256 {script.sha256}" in committed
    assert "apply-macro qkd role master" in committed
    commits = len(device.history)

    second = deploy_router(harness.inventory, "mx304-11", script, options, transfer)

    assert (second.uploaded, second.committed) == (False, False)
    assert len(device.history) == commits

    uploaded.write_text("# tampered\n")  # a changed file is detected by checksum and replaced
    third = deploy_router(harness.inventory, "mx304-11", script, options, transfer)
    assert (third.uploaded, third.committed) == (True, False)
    assert hashlib.sha256(uploaded.read_bytes()).hexdigest() == script.sha256


def test_slave_only_router_gets_no_timer(onbox_factory: Any, tmp_path: Any) -> None:
    bed, harness = onbox_factory(["p2p-11-12"], serve_files=True, configure=False)
    script = build_script(tmp_path / "build")
    deploy_router(harness.inventory, "mx304-12", script, OnboxOptions())
    committed = bed.lab.device("mx304-12").committed.to_set()
    assert "generate-event" not in committed
    assert "apply-macro qkd role slave" in committed
    assert "set system scripts op file qkd_onbox.py" in committed


def test_cli_deploy_twice_through_the_command(onbox_factory: Any, kit: Any, tmp_path: Any) -> None:
    bed, harness = onbox_factory(["p2p-11-12"], serve_files=True, configure=False)
    inventory = kit.write_inventory(bed, harness, tmp_path / "inventory.yaml")
    for router in harness.routers.values():  # the harness pre-installs it; deploy must bring it
        router.script.unlink()
        router.op_script.unlink()
    args = ["deploy", "-i", str(inventory), "-o", str(tmp_path / "build"), "--timer", "60"]

    first = CliRunner().invoke(group, args)
    second = CliRunner().invoke(group, args)

    assert first.exit_code == 0, first.output
    assert "mx304-11: script uploaded, configuration committed" in first.output
    assert "mx304-12: script uploaded, configuration committed" in first.output
    assert second.exit_code == 0, second.output
    assert "mx304-11: script up to date, configuration unchanged" in second.output
    assert "mx304-12: script up to date, configuration unchanged" in second.output


def test_cli_deploy_unreachable_router_exits_3(onbox_factory: Any, kit: Any, tmp_path: Any) -> None:
    bed, harness = onbox_factory(["p2p-11-12"], serve_files=True, configure=False)
    inventory = kit.write_inventory(bed, harness, tmp_path / "inventory.yaml")
    bed.lab.refuse_connections("mx304-11")
    bed.lab.refuse_connections("mx304-12")
    result = CliRunner().invoke(group, ["deploy", "-i", str(inventory), "-o", str(tmp_path / "b")])
    assert isinstance(result.exception, CliError)  # main() turns it into the exit code
    assert result.exception.exit_code == EXIT_UNREACHABLE
    assert "mx304-11: FAILED" in result.output
