"""Issue 11, part 6: known_hosts paths in ssh_config, ASCII-only digits, one interface claimed
under two spellings, and the warnings ``inventory check`` prints for risky settings."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qkd_macsec.cli.inventory import group
from qkd_macsec.devices import junos_names
from qkd_macsec.inventory import (
    InventoryError,
    inventory_warnings,
    load_inventory,
    parse_inventory,
    ssh_config_path_problem,
)
from qkd_macsec.inventory.durations import parse_duration
from qkd_macsec.onbox import deploy

WriteInventory = Callable[[dict[str, Any] | str], Path]
INJECTION = 'known_hosts"\n  ProxyCommand touch pwned-by-inventory\n#'


def problems_of(write_inventory: WriteInventory, doc: dict[str, Any]) -> tuple[str, str]:
    """(file, message) of the InventoryError the document raises."""
    path = write_inventory(doc)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert caught.value.source == str(path)
    return str(path), str(caught.value)


# -- known_hosts in an ssh_config -----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [INJECTION, 'a"b', "kh\nProxyCommand x", "kh\rx", "kh%h", "kh\\x", "kh\tx", "kh\x7f"],
)
def test_known_hosts_that_could_break_an_ssh_config_is_refused(
    write_inventory: WriteInventory, doc: dict[str, Any], value: str
) -> None:
    doc["defaults"]["known_hosts"] = value
    path, message = problems_of(write_inventory, doc)
    assert f"{path}: defaults.known_hosts: " in message
    assert "cannot be used in an ssh_config" in message
    assert "\n  ProxyCommand" not in message  # the value is shown repr'd, on one line


def test_a_host_level_known_hosts_names_the_host(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc["hosts"]["mx304-12"]["known_hosts"] = INJECTION
    path, message = problems_of(write_inventory, doc)
    assert f"{path}: hosts.mx304-12.known_hosts: " in message


def test_an_inventory_folder_that_would_break_the_ssh_config_is_refused(
    tmp_path: Path, doc: dict[str, Any]
) -> None:
    import yaml

    folder = tmp_path / 'site"\nProxyCommand x'
    folder.mkdir()
    path = folder / "inventory.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(InventoryError, match=r"defaults\.known_hosts: .*ssh_config"):
        load_inventory(path)


def test_ordinary_paths_are_fine() -> None:
    for path in ("/etc/qkd-macsec/known_hosts", "/srv/lab one/known_hosts", "/tmp/é/kh"):
        assert ssh_config_path_problem(path) is None


def test_deploy_refuses_to_write_an_unsafe_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a temporary directory of its own: other tests running in parallel write to the shared one
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    with pytest.raises(deploy.DeployError, match="cannot be used in an ssh_config"):
        deploy._ssh_config(str(tmp_path / INJECTION))
    assert os.listdir(private_tmp) == []


def test_deploy_writes_a_safe_path_quoted(tmp_path: Path) -> None:
    name = deploy._ssh_config(str(tmp_path / "known hosts"))
    try:
        text = Path(name).read_text()
        assert f'UserKnownHostsFile "{tmp_path / "known hosts"}"' in text
        assert text.count("\n") == 3
        assert oct(os.stat(name).st_mode & 0o777) == "0o600"
    finally:
        os.unlink(name)


def test_deploy_checks_the_path_after_symlinks_before_connecting(
    tmp_path: Path,
    write_inventory: WriteInventory,
    doc: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The inventory's path is clean; the file it points to is not.
    target = tmp_path / INJECTION
    target.write_text("")
    (tmp_path / "known_hosts").symlink_to(target)
    monkeypatch.setenv("QKD_TEST_ROUTER_PASSWORD", "pw-for-the-test")
    host = load_inventory(write_inventory(doc)).hosts["mx304-11"]

    def no_device(**_: Any) -> Any:
        raise AssertionError("must not connect")

    monkeypatch.setattr(deploy, "Device", no_device)
    with pytest.raises(deploy.DeployError, match=r"mx304-11: known_hosts: .*refusing to connect"):
        deploy.open_router(host)


# -- ASCII digits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "et-0/0/\u0663",  # Arabic-Indic three
        "et-\u0660/0/9",
        "xe-0/0/1:\u0662",
        "et-0/0/9.\u0661",
        "ae\u0663",
        "ae1.\uff10",  # full-width zero
        "ge-0/0/\u00b2",  # superscript two
    ],
)
def test_interface_names_take_ascii_digits_only(name: str) -> None:
    assert name.isascii() is False
    with pytest.raises(junos_names.ConfigRenderError, match="not a valid Junos interface name"):
        junos_names.validate_interface_name(name)


def test_unicode_digits_in_an_inventory_interface_name_the_file_and_field(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc["links"][0]["slaves"][0]["interface"] = "et-0/0/\u0669"
    path, message = problems_of(write_inventory, doc)
    assert f"{path}: links[0].slaves[0].interface: " in message
    assert "not a valid Junos interface name" in message


@pytest.mark.parametrize("text", ["\u0663s", "1\u0660m", "\uff19\uff10", "\u00b2"])
def test_durations_take_ascii_digits_only(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_host_names_with_unicode_digit_labels_are_refused() -> None:
    with pytest.raises(junos_names.ConfigRenderError):
        junos_names.validate_hostname("router.\u0663")


# -- one interface, two spellings -----------------------------------------------------------


def test_interface_and_its_unit_0_in_two_links_conflict(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc["links"][1]["master"] = {"host": "mx304-11", "interfaces": ["et-0/0/9.0"]}
    path, message = problems_of(write_inventory, doc)
    assert f"{path}: links[1].master.interfaces: interface 'et-0/0/9.0' on mx304-11" in message
    assert "already used by link 'core-11-12' (as 'et-0/0/9': the same interface)" in message


def test_unit_0_first_then_the_physical_name_conflicts_too(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc["links"][0]["slaves"][0]["interface"] = "et-0/0/10.0"
    path, message = problems_of(write_inventory, doc)
    assert f"{path}: links[1].slaves[0].interface: interface 'et-0/0/10' on mx304-12" in message


def test_one_end_listing_both_spellings_is_refused(
    write_inventory: WriteInventory, doc: dict[str, Any]
) -> None:
    doc["links"][1]["master"]["interfaces"] = ["et-0/0/10", "et-0/0/10.0"]
    path, message = problems_of(write_inventory, doc)
    assert f"{path}: links[1].master: " in message
    assert "lists an interface twice" in message


def test_other_units_are_other_interfaces(doc: dict[str, Any], tmp_path: Path) -> None:
    doc["links"][1]["master"]["interfaces"] = ["et-0/0/9.1", "et-0/0/10"]
    import yaml

    inventory = parse_inventory(yaml.safe_dump(doc), tmp_path / "inventory.yaml")
    assert inventory.links[1].master.interfaces == ("et-0/0/9.1", "et-0/0/10")


def test_interface_identity() -> None:
    assert junos_names.interface_identity("et-0/0/9.0") == "et-0/0/9"
    assert junos_names.interface_identity("et-0/0/9") == "et-0/0/9"
    assert junos_names.interface_identity("ae0.0") == "ae0"
    assert junos_names.interface_identity("et-0/0/9.10") == "et-0/0/9.10"
    assert junos_names.interface_identity("ae10") == "ae10"


# -- warnings ---------------------------------------------------------------------------------


def warnings_for(doc: dict[str, Any], tmp_path: Path) -> list[str]:
    import yaml

    return inventory_warnings(parse_inventory(yaml.safe_dump(doc), tmp_path / "inventory.yaml"))


def test_the_base_inventory_has_no_warnings(doc: dict[str, Any], tmp_path: Path) -> None:
    assert warnings_for(doc, tmp_path) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["kmes"]["KME_B"].update(verify=False),
            "kmes.KME_B.verify: false: the KME's TLS certificate is not checked",
        ),
        (
            lambda d: d["hosts"]["mx304-12"].update(insecure_host_keys=True),
            "hosts.mx304-12.insecure_host_keys: true: the router's SSH host key is not verified",
        ),
        (
            lambda d: d["links"][0].update(rotation_interval="45s"),
            "links[0].rotation_interval: 45s (link 'core-11-12') is under a minute",
        ),
        (
            lambda d: d["policy"].update(rotation_interval="8d"),
            "policy.rotation_interval: 8d is over a week",
        ),
        (
            lambda d: d["policy"].update(rotation_interval="8d"),
            "links[1].rotation_interval: 8d (link 'group-a') is over a week",
        ),
        (
            lambda d: d["hosts"]["mx304-12"].update(timeout="2m"),
            "hosts.mx304-12.timeout: 2m is longer than link 'core-11-12'",
        ),
        (
            lambda d: d["policy"].update(dec_keys_wait="100s"),
            "policy.dec_keys_wait: 1m40s is longer than link 'core-11-12'",
        ),
        (
            lambda d: d["policy"].update(clock_tolerance="20s"),
            "policy.clock_tolerance: 20s is more than policy.min_activation_delay (10s)",
        ),
        (
            lambda d: d["policy"].update(activation_delay="15s", clock_tolerance="20s"),
            "policy.clock_tolerance: 20s is more than policy.activation_delay (15s)",
        ),
        (
            lambda d: d["policy"].update(journal="/dev/null"),
            "policy.journal: /dev/null keeps nothing",
        ),
    ],
)
def test_risky_settings_are_warned_about(
    doc: dict[str, Any], tmp_path: Path, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    change(doc)
    found = warnings_for(doc, tmp_path)
    assert any(line.startswith(expected) for line in found), found


def test_a_journal_symlinked_to_dev_null_is_warned_about(
    doc: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "journal.sqlite").symlink_to("/dev/null")
    doc["policy"]["journal"] = "journal.sqlite"
    assert any(w.startswith("policy.journal: ") for w in warnings_for(doc, tmp_path))


def test_inventory_check_prints_warnings_and_still_succeeds(
    write_inventory: WriteInventory, doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    doc["kmes"]["KME_A"]["verify"] = False
    doc["policy"]["journal"] = "/dev/null"
    path = write_inventory(doc)
    result = CliRunner().invoke(group, ["check", "--structure-only", str(path)])
    assert result.exit_code == 0, result.output
    assert f"warning: {path}: kmes.KME_A.verify: false" in result.stderr
    assert f"warning: {path}: policy.journal: /dev/null keeps nothing" in result.stderr
    assert f"{path}: OK" in result.stderr
