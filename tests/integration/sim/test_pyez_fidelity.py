"""The real PyEZ client against the simulator's Junos fidelity: warnings on the wire, unlock
semantics, commit stamps, the device zone in the clock and in read-backs (field evidence §1,
§4, §6)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from jnpr.junos import Device
from jnpr.junos.exception import CommitError, ConfigLoadError
from jnpr.junos.utils.config import Config
from lxml import etree

from qkd_macsec.sim.lab import LabThread

OpenDevice = Callable[..., Device]

A = "mx304-11"
CA = "set security macsec connectivity-association CA1"
KC = "set security authentication-key-chains key-chain KC1 key 1"
CAK = "9a" * 32
SHORT_CKN = "badc0ffe01"


def commit_set(dev: Device, text: str, **commit: object) -> None:
    cu = Config(dev)
    cu.lock()
    try:
        cu.load(text, format="set")
        cu.commit(**commit)
    finally:
        cu.unlock()


def seconds_attr(element: etree._Element) -> int:
    (value,) = [v for k, v in element.attrib.items() if etree.QName(k).localname == "seconds"]
    return int(value)


def test_uptime_shows_local_time_in_the_configured_zone(
    open_device: OpenDevice, lab: LabThread
) -> None:
    dev = open_device()
    commit_set(dev, "set system time-zone Europe/Berlin")
    reply = dev.rpc.get_system_uptime_information()
    stamp = reply.find("current-time/date-time")
    epoch = seconds_attr(stamp)
    local = datetime.fromtimestamp(epoch, UTC) + timedelta(hours=1)  # December: CET
    assert stamp.text == f"{local:%Y-%m-%d %H:%M:%S} CET"
    assert abs(epoch - lab.device(A).device_time().timestamp()) < 5
    text = dev.rpc.get_system_uptime_information({"format": "text"})
    assert re.search(r"Current time: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d CET", text.text)


def test_start_time_and_secret_read_back_like_junos(open_device: OpenDevice) -> None:
    dev = open_device()
    commit_set(
        dev,
        "set system time-zone Europe/Berlin\n"
        f"{KC} key-name {'ab' * 32}\n{KC} secret {CAK}\n{KC} start-time 2027-01-02.03:04",
    )
    committed = {"database": "committed"}
    xml = dev.rpc.get_config(options={**committed, "format": "xml"})
    assert xml.findtext(".//key/start-time") == "2027-1-2.03:04:00 +0100"
    assert xml.findtext(".//key/secret").startswith("$9$")
    for fmt in ("text", "set"):
        shown = dev.rpc.get_config(options={**committed, "format": fmt}).text
        assert '"2027-1-2.03:04:00 +0100"' in shown, fmt
        assert CAK not in shown, fmt
        assert "$9$" in shown, fmt
    as_json = dev.rpc.get_config(options={**committed, "format": "json"})
    assert CAK not in str(as_json)
    cu = Config(dev)
    cu.load(f"{KC} secret {'5b' * 32}", format="set")
    diff = cu.diff()
    assert diff is not None
    assert CAK not in diff
    assert "5b" * 32 not in diff
    assert re.search(r'^\+\s+secret "\$9\$\S+"; ## SECRET-DATA$', diff, re.M)
    cu.rollback(0)


def test_configuration_carries_commit_stamps(open_device: OpenDevice, lab: LabThread) -> None:
    dev = open_device()
    commit_set(dev, "set system location building stamps", comment="stamped")
    xml = dev.rpc.get_config(options={"database": "committed", "format": "xml"})
    attrs = {etree.QName(k).localname: v for k, v in xml.attrib.items()}
    record = lab.device(A).history[0]
    assert attrs["commit-user"] == "lab"
    assert int(attrs["commit-seconds"]) == int(record.at)
    assert attrs["commit-localtime"] == lab.device(A).local_time_text(record.at)
    assert attrs["commit-localtime"].endswith(" UTC")


def test_deleting_an_absent_statement_warns_and_only_ignore_warning_passes(
    open_device: OpenDevice,
) -> None:
    dev = open_device()
    cu = Config(dev)
    with pytest.raises(ConfigLoadError) as excinfo:
        cu.load("delete system location", format="set")
    assert excinfo.value.rpc_error["severity"] == "warning"
    assert "statement not found" in excinfo.value.rpc_error["message"]
    cu.load("delete system location", format="set", ignore_warning="statement not found")


def test_short_ckn_commit_warns_but_takes_effect(open_device: OpenDevice, lab: LabThread) -> None:
    dev = open_device()
    psk = f"{CA} pre-shared-key ckn {SHORT_CKN} cak {'1f' * 16}"  # one set line for both
    with pytest.raises(CommitError, match="64 hexadecimal digits"):
        commit_set(dev, psk)
    assert SHORT_CKN in lab.device(A).committed.to_set()  # committed all the same
    commit_set(
        dev,
        f"{CA} pre-shared-key ckn {SHORT_CKN}ee cak {'2f' * 16}",
        ignore_warning=["recommend configuring all 64 hexadecimal digits"],
    )
    assert f"{SHORT_CKN}ee" in lab.device(A).committed.to_set()


def test_unlock_without_commit_discards_the_candidate(
    open_device: OpenDevice, lab: LabThread
) -> None:
    dev = open_device()
    cu = Config(dev)
    cu.lock()
    cu.load("set system location building never", format="set")
    assert cu.diff() is not None
    cu.unlock()
    assert cu.diff() is None
    assert lab.device(A).candidate() == lab.device(A).committed
