"""Reply rendering follows the JUNOS.md wire rules; request parsing is hardened."""

from __future__ import annotations

import pytest
from lxml import etree

from qkd_macsec.sim.netconf.xml import NC_NS, XmlInputError, element, parse, rpc_reply, sub


def test_reply_has_default_namespace_echoes_attributes_and_no_declaration() -> None:
    body = element("thing")
    sub(body, "text", "a < b & c")
    raw = rpc_reply([body], {"message-id": "urn:uuid:1", "extra": 'q"x'}, junos_version="1")
    assert not raw.startswith(b"<?xml")
    root = etree.fromstring(raw)
    assert root.tag == f"{{{NC_NS}}}rpc-reply"
    assert root.get("message-id") == "urn:uuid:1"
    assert root.get("extra") == 'q"x'
    assert root.findtext(f"{{{NC_NS}}}thing/{{{NC_NS}}}text") == "a < b & c"


def test_reply_text_is_escaped_and_ok_appended() -> None:
    raw = rpc_reply(None, {"message-id": "7"}, junos_version="1", text="{<&>}", ok=True)
    root = etree.fromstring(raw)
    assert root.text == "{<&>}"
    assert root.find(f"{{{NC_NS}}}ok") is not None


def test_parse_strips_namespaces_from_elements_and_attributes() -> None:
    raw = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<nc:rpc xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:message-id="5">'
        b"<nc:lock><nc:target><nc:candidate/></nc:target></nc:lock></nc:rpc>"
    )
    root = parse(raw)
    assert root.tag == "rpc"
    assert root.get("message-id") == "5"
    assert root.find("lock/target/candidate") is not None


def test_parse_rejects_malformed_xml() -> None:
    with pytest.raises(XmlInputError, match="malformed"):
        parse(b"<rpc><unclosed></rpc>")


def test_parse_does_not_expand_entities() -> None:
    raw = (
        b'<!DOCTYPE r [<!ENTITY a "AAAAAAAAAAAAAAAA"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b"<rpc><command>&b;</command></rpc>"
    )
    try:
        root = parse(raw)
    except XmlInputError:
        return
    assert "AAAA" not in (root.findtext("command") or "")
