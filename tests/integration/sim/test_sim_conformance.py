"""The simulator answers like the real routers in tests/unit/devices/fixtures/junos/.

Real PyEZ asks the simulator (NETCONF over SSH) the same requests the fixtures record, and the
answers go through the same driver parsers and the same shape checks as the fixtures
(support/junos_evidence.py), so the simulator cannot drift from the evidence unseen. The
scenario is a rollover where one end moves first: the moment real devices log
``UNKNOWN_CAK_ERR`` and hold two CAKs (shared/reference/junos-field-evidence.md §2 to §4).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jnpr.junos import Device
from jnpr.junos.utils.config import Config
from tests.integration.sim.conftest import PASSWORD, lab_dict

from qkd_macsec.devices.base import DeviceTarget, MkaSessionState
from qkd_macsec.devices.junos_parse import (
    key_chain_filter,
    parse_key_chain,
    parse_key_chain_set,
    parse_macsec_log,
    parse_mka_sessions,
    parse_mka_sessions_text,
)
from qkd_macsec.devices.platform import DRIVERS
from qkd_macsec.engine.sessions import live_ckn
from qkd_macsec.secret import Secret
from qkd_macsec.sim.lab import Lab, LabThread, run_lab_in_thread
from support.junos_evidence import (
    PEER_LABELS,
    assert_real_layout,
    assert_same_shape,
    fixture_reply,
    fixture_text,
    text_labels,
)

A, B = "mx304-11", "mx304-12"
ITF = "et-0/0/9"
CKN_1, CKN_2 = "3f5af4e5" * 8, "462d2555" * 8
CAK_1, CAK_2 = "5e" * 32, "6f" * 32
#: Start-times already passed, so a key is active as soon as it is committed.
PAST = {1: "2020-1-1.00:00:00", 2: "2020-1-2.00:00:00"}
CA = "set security macsec connectivity-association CA1"
KC = "set security authentication-key-chains key-chain KC1 key {slot}"
#: The start-time grammar real devices read back (evidence §1), quotes included.
READ_BACK = re.compile(r'"?\d{4}-\d\d?-\d\d?\.\d{2}:\d{2}(?::\d{2})?(?: [+-]\d{4})?"?')


def chain_key(slot: int, ckn: str, cak: str) -> str:
    head = KC.format(slot=slot)
    return "\n".join(
        [
            f"{CA} security-mode static-cak",
            f"{CA} cipher-suite gcm-aes-xpn-256",
            f"{CA} pre-shared-key-chain KC1",
            f"set security macsec interfaces {ITF} connectivity-association CA1",
            f"{head} key-name {ckn}",
            f"{head} secret {cak}",
            f'{head} start-time "{PAST[slot]}"',
        ]
    )


def commit(dev: Device, lines: str) -> None:
    cu = Config(dev)
    cu.lock()
    try:
        cu.load(lines, format="set")
        cu.commit(comment="conformance")
    finally:
        cu.unlock()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabThread]:
    """Two linked routers; the preceding key is held long enough to look at it."""
    spec = Lab.from_dict(lab_dict(preceding_hold_s=600.0), state_dir=tmp_path / "state")
    running = run_lab_in_thread(spec)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def devices(lab: LabThread) -> Iterator[dict[str, Device]]:
    opened = {}
    for name in (A, B):
        dev = Device("127.0.0.1", port=lab.port(name), user="lab", password=PASSWORD)
        dev.open(gather_facts=False)
        opened[name] = dev
    yield opened
    for dev in opened.values():
        dev.close()


def detail(dev: Device) -> Any:
    return dev.rpc.get_mka_session_information(detail=True)


def text(dev: Device, **form: bool) -> str:
    reply = dev.rpc.get_mka_session_information({"format": "text"}, **form)
    return str(reply.text or "")


def fields(sessions: list[MkaSessionState]) -> list[tuple[str, str, str, bool, str]]:
    return [(s.interface, s.cak_name, s.cak_type, s.live, s.member_id) for s in sessions]


def log(dev: Device) -> str:
    return str(dev.rpc.get_log(filename="messages").text or "")


WaitFor = Callable[..., None]


def test_rollover_one_end_first_reads_like_the_real_device(
    lab: LabThread, devices: dict[str, Device], wait_for: WaitFor
) -> None:
    a, b = devices[A], devices[B]
    link = lab.fabric.links()[0]
    for dev in (a, b):
        commit(dev, chain_key(1, CKN_1, CAK_1))
    wait_for(lambda: lab.fabric.link_ckn(link) == CKN_1)
    commit(a, chain_key(2, CKN_2, CAK_2))  # A moves first; B has not got the key yet

    # -- XML, detail: the real layout, two CAKs on A, the old one still live
    reply = detail(a)
    assert_real_layout(reply, detail=True)
    assert_same_shape(reply, fixture_reply("mka_detail.xml"))
    sessions = parse_mka_sessions(reply)
    assert [(s.cak_name, s.cak_type, s.live) for s in sessions] == [
        (CKN_2, "primary", False),
        (CKN_1, "preceding", True),
    ]
    assert {s.interface_state for s in sessions} == {"Secured - Preceding"}

    # -- XML, brief: one CAK named, the primary, not the one the link runs on
    brief = a.rpc.get_mka_session_information()
    assert_real_layout(brief, detail=False)
    assert_same_shape(brief, fixture_reply("mka_brief.xml"))
    ((interface, ckn, cak_type, live, _),) = fields(parse_mka_sessions(brief))
    assert (interface, ckn, cak_type, live) == (ITF, CKN_2, "primary", False)

    # -- text, brief and detail: the fixture's labels, and the same reading as the XML
    for form, fixture in (({}, "mka_brief.txt"), ({"detail": True}, "mka_detail.txt")):
        shown = text(a, **form)
        want = set().union(*text_labels(fixture_text(fixture)))
        (labels,) = text_labels(shown)
        assert labels >= want - PEER_LABELS, sorted(want - PEER_LABELS - labels)
        xml_form = detail(a) if form else a.rpc.get_mka_session_information()
        assert fields(parse_mka_sessions_text(shown)) == fields(parse_mka_sessions(xml_form))

    # -- B's log: A speaks a CKN B lacks (evidence §4)
    unknown = [e for e in parse_macsec_log(log(b)) if e.tag == "DOT1XD_MACSEC_SC_UNKNOWN_CAK_ERR"]
    assert [(e.interface, e.ckn) for e in unknown] == [(ITF, CKN_2)]

    commit(b, chain_key(2, CKN_2, CAK_2))
    wait_for(lambda: lab.fabric.link_ckn(link) == CKN_2)
    for dev, own, peer in ((a, A, B), (b, B, A)):
        reply = detail(dev)
        assert_real_layout(reply, detail=True)
        assert_same_shape(reply, fixture_reply("mka_detail.xml"))
        assert live_ckn(parse_mka_sessions(reply), ITF) == {CKN_2}
        (labels,) = text_labels(text(dev))
        assert labels >= set().union(*text_labels(fixture_text("mka_brief.txt")))
        events = parse_macsec_log(log(dev))
        assert (
            "DOT1XD_MACSEC_SC_PRIMARY_CAK_IN_USE",
            ITF,
            CKN_2,
        ) in [(e.tag, e.interface, e.ckn) for e in events]
        (activated,) = [
            e for e in events if e.tag == "DOT1XD_MACSEC_SC_CAK_ACTIVATED" and e.names(CKN_2)
        ]
        assert activated.host == lab.device(own).hostname
        assert re.fullmatch(r"[0-9A-F]{16}", activated.sci_in)
        other = [e for e in parse_macsec_log(log(devices[peer])) if e.names(CKN_2)]
        assert activated.sci_in in {e.sci_out for e in other}


def test_driver_reads_the_simulator_in_the_real_form(
    lab: LabThread, devices: dict[str, Device], wait_for: WaitFor
) -> None:
    for dev in devices.values():
        commit(dev, chain_key(1, CKN_1, CAK_1))
    wait_for(lambda: lab.fabric.link_ckn(lab.fabric.links()[0]) == CKN_1)
    target = DeviceTarget(
        name=A,
        host="127.0.0.1",
        port=lab.port(A),
        user="lab",
        password=Secret.from_text(PASSWORD),
        known_hosts=lab.known_hosts_path,
        timeout=10.0,
    )
    driver = DRIVERS.create(target, "junos")
    driver.open()
    try:
        assert live_ckn(driver.mka_sessions([ITF]), ITF) == {CKN_1}
        (entry,) = driver.key_chain("KC1")
    finally:
        driver.close()
    assert (entry.slot, entry.ckn, entry.start_time) == (1, CKN_1, datetime(2020, 1, 1, tzinfo=UTC))


def test_key_chain_read_back_in_both_forms(lab: LabThread, devices: dict[str, Device]) -> None:
    a = devices[A]
    commit(a, chain_key(1, CKN_1, CAK_1))
    xml_reply = a.rpc.get_config(
        filter_xml=key_chain_filter("KC1"), options={"database": "committed", "format": "xml"}
    )
    set_text = a.cli(
        "show configuration security authentication-key-chains | display set", warning=False
    )
    expected = [(1, CKN_1, datetime(2020, 1, 1, tzinfo=UTC))]
    assert [(e.slot, e.ckn, e.start_time) for e in parse_key_chain(xml_reply, "KC1")] == expected
    assert [(e.slot, e.ckn, e.start_time) for e in parse_key_chain_set(set_text, "KC1")] == expected
    raw = re.search(r'start-time ("[^"]*"|\S+)', set_text)
    assert raw is not None
    assert READ_BACK.fullmatch(raw.group(1)), raw.group(1)
