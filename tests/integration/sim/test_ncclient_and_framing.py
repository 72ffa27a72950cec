"""Plain ncclient (generic RFC 6241 operations) and the chunked-framing device."""

from __future__ import annotations

from collections.abc import Callable

from jnpr.junos import Device
from jnpr.junos.utils.config import Config
from lxml import etree
from ncclient import manager
from ncclient.transport.session import NetconfBase

from qkd_macsec.sim.lab import LabThread

OpenDevice = Callable[..., Device]

EDIT = """
<config>
  <configuration>
    <system><location><building>nc</building></location></system>
  </configuration>
</config>
"""


def test_generic_ncclient_operations(lab: LabThread, password: str) -> None:
    with manager.connect(
        host="127.0.0.1",
        port=lab.port("mx304-12"),
        username="lab",
        password=password,
        hostkey_verify=False,
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    ) as m:
        running = m.get_config(source="running")
        assert running.ok
        with m.locked(target="candidate"):
            assert m.edit_config(target="candidate", config=EDIT).ok
            assert m.commit().ok
        data = m.get_config(
            source="running",
            filter=("subtree", "<configuration><system><location/></system></configuration>"),
        ).data_ele
        assert data.xpath("//*[local-name()='building']")[0].text == "nc"
        mka = m.dispatch(etree.Element("get-mka-session-information"))
        assert mka.ok
        reply = etree.fromstring(mka.xml.encode())
        assert reply.xpath("count(/*/*[local-name()='mka-session-information'])") == 1
    assert "building nc" in lab.device("mx304-12").committed.to_set()
    assert lab.device("mx304-12").lock_holder is None


def test_chunked_framing_device_with_pyez(open_device: OpenDevice, lab: LabThread) -> None:
    dev = open_device("mx304-13", gather_facts=True)
    assert dev._conn._session._base == NetconfBase.BASE_11  # ncclient chose chunked framing
    assert lab.device("mx304-13").base11
    assert dev.facts["hostname"] == "mx304-13"
    cu = Config(dev)
    cu.lock()
    cu.load("set system location building chunky", format="set")
    cu.commit()
    cu.unlock()
    big = dev.rpc.get_config(options={"format": "set"})
    assert "building chunky" in big.text
    assert "building chunky" in lab.device("mx304-13").committed.to_set()
