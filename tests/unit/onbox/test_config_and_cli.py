"""What deploy commits per router (pure), and the `onbox` commands' input handling."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from qkd_macsec.cli.onbox import group
from qkd_macsec.inventory import Inventory, load_inventory
from qkd_macsec.macsec import KeyDerivation
from qkd_macsec.onbox.config import EVENT_NAME, OnboxConfigError, OnboxOptions, router_lines

SEED = Path(__file__).resolve().parents[3] / "src/qkd_macsec/data/examples/seed-lab/inventory.yaml"
SHA = "ab" * 32


@pytest.fixture
def seed() -> Inventory:
    return load_inventory(SEED)


def test_master_gets_timer_and_peers_slave_gets_macros_only(seed: Inventory) -> None:
    master = router_lines(seed, "mx304-11", SHA, OnboxOptions(timer_s=300))
    assert f"set event-options generate-event {EVENT_NAME} time-interval 300" in master
    assert f"set event-options event-script file qkd_onbox.py checksum sha-256 {SHA}" in master
    assert (
        "set security macsec interfaces et-0/0/9 apply-macro qkd peers "
        "mx304-12@127.0.0.1:830,mx10008-23@127.0.0.1:830,mx10008-24@127.0.0.1:830"
    ) in master
    assert "set security macsec interfaces xe-0/0/1:0 apply-macro qkd role master" in master
    slave = router_lines(seed, "mx10008-24", SHA, OnboxOptions())
    assert not [line for line in slave if "generate-event" in line]
    assert (
        "set security macsec interfaces et-0/0/1 apply-macro qkd master mx304-11@127.0.0.1:830"
    ) in slave
    assert "set security macsec connectivity-association CA_basic exclude-protocol lldp" in slave
    assert len(slave) == len(set(slave))


def test_scp_transport_gives_slaves_a_timer(seed: Inventory) -> None:
    slave = router_lines(seed, "mx304-12", SHA, OnboxOptions(transport="scp"))
    assert any("generate-event" in line for line in slave)
    assert "set security macsec interfaces et-0/0/10 apply-macro qkd transport scp" in slave


def test_link_without_key_chain_is_refused(seed: Inventory) -> None:
    links = tuple(dataclasses.replace(link, key_chain=None) for link in seed.links)
    broken = dataclasses.replace(seed, links=links)
    with pytest.raises(OnboxConfigError, match="needs a key chain"):
        router_lines(broken, "mx304-11", SHA, OnboxOptions())


def test_cli_build_writes_script_and_checksum(tmp_path: Path) -> None:
    result = CliRunner().invoke(group, ["build", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    digest = (tmp_path / "out" / "qkd_onbox.py.sha256").read_text().split()[0]
    assert digest in result.output
    assert (tmp_path / "out" / "qkd_onbox.py").is_file()


def test_cli_deploy_dry_run_prints_config_and_touches_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        group,
        ["deploy", "--dry-run", "-o", str(tmp_path / "b"), "-i", str(SEED), "--timer", "120"],
    )
    assert result.exit_code == 0, result.output
    assert "# mx304-11" in result.output
    assert f"generate-event {EVENT_NAME} time-interval 120" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timer", "30"], "60"),
        (["--transport", "lldp"], "lldp"),
    ],
)
def test_cli_deploy_rejects_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(group, ["deploy", "--dry-run", "-i", str(SEED), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_hybrid_links_get_the_key_derivation_macro_and_need_push(seed: Inventory) -> None:
    assert not [
        line
        for line in router_lines(seed, "mx304-11", SHA, OnboxOptions())
        if "key-derivation" in line
    ]
    links = tuple(
        dataclasses.replace(link, key_derivation=KeyDerivation.HYBRID) for link in seed.links
    )
    hybrid = dataclasses.replace(seed, links=links)
    slave = router_lines(hybrid, "mx304-12", SHA, OnboxOptions())
    assert "set security macsec interfaces et-0/0/10 apply-macro qkd key-derivation hybrid" in slave
    with pytest.raises(OnboxConfigError, match="needs the push transport"):
        router_lines(hybrid, "mx304-12", SHA, OnboxOptions(transport="scp"))
