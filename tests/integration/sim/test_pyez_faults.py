"""Faults and connection failures, as PyEZ reports them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from jnpr.junos import Device
from jnpr.junos.exception import (
    ConnectAuthError,
    ConnectClosedError,
    ConnectError,
    ConnectRefusedError,
    RpcTimeoutError,
)
from jnpr.junos.utils.config import Config

from qkd_macsec.sim.lab import LabThread

OpenDevice = Callable[..., Device]
WaitFor = Callable[..., None]


def test_session_drop_surfaces_as_connection_closed(
    open_device: OpenDevice, lab: LabThread, wait_for: WaitFor
) -> None:
    dev = open_device()
    device = lab.device("mx304-11")
    Config(dev).lock()
    device.set_faults(drop_session_on="get-configuration")
    with pytest.raises(ConnectClosedError):
        dev.rpc.get_config()
    wait_for(lambda: device.lock_holder is None)  # the dropped session's lock is gone
    assert device.sessions() == []
    again = open_device()
    assert Config(again).lock() is True


def test_rpc_that_never_answers_times_out(open_device: OpenDevice, lab: LabThread) -> None:
    lab.device("mx304-11").set_faults(hang_rpcs={"get-system-uptime-information"})
    dev = open_device()
    dev.timeout = 1
    with pytest.raises(RpcTimeoutError):
        dev.rpc.get_system_uptime_information()
    assert dev.rpc.get_software_information().findtext("host-name") == "mx304-11"


def test_refused_connection(lab: LabThread, password: str) -> None:
    lab.refuse_connections("mx304-12")
    dev = Device(
        "127.0.0.1", port=lab.port("mx304-12"), user="lab", password=password, gather_facts=False
    )
    with pytest.raises(ConnectRefusedError):
        dev.open()
    lab.refuse_connections("mx304-12", False)
    dev.open()
    assert dev.connected
    dev.close()


def test_wrong_password_is_an_auth_error_and_never_logged(
    lab: LabThread, caplog: pytest.LogCaptureFixture
) -> None:
    canary = "Wr0ng-Canary-9d8c7b"
    caplog.set_level(logging.DEBUG)
    dev = Device(
        "127.0.0.1",
        port=lab.port("mx304-11"),
        user="lab",
        password=canary,
        gather_facts=False,
        look_for_keys=False,
    )
    with pytest.raises(ConnectAuthError):
        dev.open()
    assert canary not in caplog.text


def test_rejected_auth_fault(lab: LabThread, password: str) -> None:
    lab.device("mx304-11").set_faults(reject_auth=True)
    dev = Device(
        "127.0.0.1",
        port=lab.port("mx304-11"),
        user="lab",
        password=password,
        gather_facts=False,
        look_for_keys=False,
    )
    with pytest.raises(ConnectAuthError):
        dev.open()


def test_host_key_verified_against_known_hosts_and_change_refused(
    lab: LabThread, password: str, ssh_config: Path
) -> None:
    line = next(
        entry
        for entry in lab.known_hosts_path.read_text().splitlines()
        if entry.startswith(f"[127.0.0.1]:{lab.port('mx304-11')} ")
    )
    assert line.split()[1] == "ssh-ed25519"
    options = {
        "user": "lab",
        "password": password,
        "gather_facts": False,
        "hostkey_verify": True,
        "ssh_config": str(ssh_config),
    }
    dev = Device("127.0.0.1", port=lab.port("mx304-11"), **options)
    dev.open()
    dev.close()
    lab.rotate_host_key("mx304-11")
    changed = Device("127.0.0.1", port=lab.port("mx304-11"), **options)
    with pytest.raises(ConnectError):
        changed.open()
    assert not changed.connected


def test_host_keys_persist_and_are_private(tmp_path: Path) -> None:
    from qkd_macsec.sim.lab import Lab, run_lab_in_thread

    data = {"devices": [{"name": "r1", "password": "x-123456"}]}
    state = tmp_path / "state"
    with run_lab_in_thread(Lab.from_dict(data, state_dir=state)) as first:
        key_line = first.known_hosts_path.read_text().split()[1:]
    with run_lab_in_thread(Lab.from_dict(data, state_dir=state)) as second:
        assert second.known_hosts_path.read_text().split()[1:] == key_line
    key_file = state / "hostkeys" / "r1_ed25519"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_public_key_login(tmp_path: Path) -> None:
    import asyncssh

    from qkd_macsec.sim.lab import Lab, run_lab_in_thread

    client_key = asyncssh.generate_private_key("ssh-rsa", key_size=2048)
    key_path = tmp_path / "id_rsa"
    key_path.write_bytes(client_key.export_private_key("pkcs1-pem"))
    key_path.chmod(0o600)
    public = client_key.export_public_key("openssh").decode().strip()
    data = {"devices": [{"name": "r1", "user": "ops", "authorized_keys": [public]}]}
    with run_lab_in_thread(Lab.from_dict(data, state_dir=tmp_path / "s")) as lab:
        dev = Device(
            "127.0.0.1",
            port=lab.port("r1"),
            user="ops",
            ssh_private_key_file=str(key_path),
            gather_facts=False,
        )
        dev.open()
        assert dev.rpc.get_software_information().findtext("host-name") == "r1"
        dev.close()
        stranger = Device(
            "127.0.0.1",
            port=lab.port("r1"),
            user="root",
            ssh_private_key_file=str(key_path),
            gather_facts=False,
        )
        with pytest.raises(ConnectAuthError):
            stranger.open()
