"""The real PyEZ client against the simulator: facts, get_config, the Config workflow."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from jnpr.junos import Device
from jnpr.junos.exception import CommitError, ConfigLoadError, LockError
from jnpr.junos.utils.config import Config
from lxml import etree

from qkd_macsec.sim.lab import LabThread

OpenDevice = Callable[..., Device]
WaitFor = Callable[..., None]

LOCATION = "set system location building {}"


def test_open_without_facts_then_with_facts(open_device: OpenDevice) -> None:
    bare = open_device(gather_facts=False)
    assert bare.connected
    dev = open_device(gather_facts=True)
    dev.facts_refresh(exception_on_failure=True)  # every fact RPC answered sensibly
    assert dev.facts["hostname"] == "mx304-11"
    assert dev.facts["model"] == "MX304"
    assert dev.facts["version"] == "23.4R2-S3.9"
    assert dev.facts["serialnumber"].startswith("SIM")
    assert dev.facts["2RE"] is False
    assert dev.facts["master"] == "RE0"
    assert dev.facts["personality"] == "MX"
    assert dev.facts["vc_capable"] is False
    assert dev.facts["current_re"] == ["master", "re0"]


def test_get_config_in_every_format_and_filtered(open_device: OpenDevice) -> None:
    dev = open_device()
    xml = dev.rpc.get_config(options={"database": "committed", "format": "xml"})
    assert xml.findtext("system/host-name") == "mx304-11"
    text = dev.rpc.get_config(options={"database": "committed", "format": "text"})
    assert text.tag == "configuration-text"
    assert "host-name mx304-11;" in text.text
    sets = dev.rpc.get_config(options={"database": "committed", "format": "set"})
    assert "set system host-name mx304-11" in sets.text
    as_json = dev.rpc.get_config(options={"database": "committed", "format": "json"})
    assert as_json["configuration"]["system"]["host-name"] == "mx304-11"
    cu = Config(dev)
    cu.load(LOCATION.format("x"), format="set")
    cu.commit()
    only = dev.rpc.get_config(
        filter_xml=etree.XML("<configuration><system><location/></system></configuration>"),
        options={"database": "committed"},
    )
    assert only.findtext("system/location/building") == "x"
    assert only.find("system/host-name") is None


def test_lock_load_diff_commit_unlock(open_device: OpenDevice, lab: LabThread) -> None:
    dev = open_device()
    cu = Config(dev)
    cu.lock()
    cu.load(LOCATION.format("b1"), format="set")
    diff = cu.diff()
    assert diff is not None
    assert "+" in diff
    assert "building b1" in diff
    assert cu.commit(comment="via pyez") is True
    cu.unlock()
    assert cu.diff() is None  # nothing pending
    device = lab.device("mx304-11")
    assert "building b1" in device.committed.to_set()
    assert device.history[0].comment == "via pyez"
    assert device.history[0].user == "lab"
    assert device.lock_holder is None


def test_commit_check_passes_and_fails(open_device: OpenDevice) -> None:
    dev = open_device()
    cu = Config(dev)
    assert cu.commit_check() is True
    cu.load(
        "set security macsec connectivity-association CA1 pre-shared-key-chain NOPE", format="set"
    )
    with pytest.raises(CommitError):
        cu.commit_check()
    with pytest.raises(CommitError):
        cu.commit()


def test_commit_confirmed_rolls_back_when_not_confirmed(
    open_device: OpenDevice, lab: LabThread, wait_for: WaitFor
) -> None:
    dev = open_device()
    device = lab.device("mx304-11")
    cu = Config(dev)
    cu.load(LOCATION.format("temp"), format="set")
    cu.commit(confirm=1)  # one simulated minute
    assert "building temp" in device.committed.to_set()
    wait_for(lambda: "building temp" not in device.committed.to_set())
    assert device.history[0].comment == "commit confirmed rollback complete"


def test_commit_confirmed_kept_when_confirmed(open_device: OpenDevice, lab: LabThread) -> None:
    dev = open_device()
    device = lab.device("mx304-11")
    cu = Config(dev)
    cu.load(LOCATION.format("kept"), format="set")
    cu.commit(confirm=100)
    assert device.confirm_pending
    cu.commit(comment="confirm")
    assert not device.confirm_pending
    assert "building kept" in device.committed.to_set()


def test_rollback_one(open_device: OpenDevice, lab: LabThread) -> None:
    dev = open_device()
    cu = Config(dev)
    cu.load(LOCATION.format("first"), format="set")
    cu.commit()
    cu.load(LOCATION.format("second"), format="set")
    cu.commit()
    cu.rollback(1)
    assert "building second" in (cu.diff() or "")
    cu.commit()
    committed = lab.device("mx304-11").committed.to_set()
    assert "building first" in committed
    assert "building second" not in committed


def test_lock_held_by_another_session_or_user(open_device: OpenDevice, lab: LabThread) -> None:
    holder = open_device()
    Config(holder).lock()
    other = open_device()
    with pytest.raises(LockError) as excinfo:
        Config(other).lock()
    assert "locked" in str(excinfo.value.rsp.findtext(".//error-message"))
    Config(holder).unlock()
    lab.device("mx304-11").set_faults(foreign_lock_user="alice")
    with pytest.raises(LockError) as excinfo:
        Config(other).lock()
    assert "alice" in str(excinfo.value.rsp.findtext(".//error-message"))


def test_injected_commit_error(open_device: OpenDevice, lab: LabThread) -> None:
    lab.device("mx304-11").set_faults(failing_commits=1)
    cu = Config(open_device())
    cu.load(LOCATION.format("z"), format="set")
    with pytest.raises(CommitError) as excinfo:
        cu.commit()
    assert "injected" in str(excinfo.value)
    assert cu.commit() is True  # only the next one failed


def test_load_errors(open_device: OpenDevice) -> None:
    cu = Config(open_device())
    with pytest.raises(ConfigLoadError):
        cu.load("set security macsec connectivity-association", format="set")
    with pytest.raises(ConfigLoadError):
        cu.load("frobnicate everything", format="set")
    with pytest.raises(ConfigLoadError):
        cu.load("system { host-name", format="text")


def test_load_text_and_xml(open_device: OpenDevice, lab: LabThread) -> None:
    cu = Config(open_device())
    cu.load("system { location { building txt; } }", format="text", merge=True)
    cu.load(
        "<configuration><system><domain-name>example.net</domain-name></system></configuration>",
        format="xml",
        merge=True,
    )
    cu.commit()
    committed = lab.device("mx304-11").committed.to_set()
    assert "building txt" in committed
    assert "domain-name example.net" in committed


def test_cli_show_commands(open_device: OpenDevice) -> None:
    dev = open_device()
    uptime = dev.cli("show system uptime", warning=False)
    assert "Current time:" in uptime
    config = dev.cli("show configuration system", warning=False)
    assert "host-name mx304-11;" in config
    with pytest.warns(RuntimeWarning, match="rpc.get_mka_session_information"):
        dev.cli("show security mka sessions summary")


def test_device_clock_follows_offset(open_device: OpenDevice, lab: LabThread) -> None:
    device = lab.device("mx304-11")
    device.set_clock_offset(3600.0)
    dev = open_device()
    reply = dev.rpc.get_system_uptime_information()
    seconds = int(reply.find("current-time/date-time").get("seconds"))
    assert abs(seconds - device.device_time().timestamp()) < 5
    assert seconds - device.now() > 3500


def test_json_load(open_device: OpenDevice, lab: LabThread) -> None:
    cu = Config(open_device())
    data = {"configuration": {"system": {"location": {"building": "js"}}}}
    cu.load(json.dumps(data), format="json", merge=True)
    cu.commit()
    assert "building js" in lab.device("mx304-11").committed.to_set()
    with pytest.raises(ConfigLoadError):
        cu.load('{"configuration": [', format="json")
