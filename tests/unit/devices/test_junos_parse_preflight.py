"""Parsing the replies preflight reads. NTP samples are the two shapes real Junos returned in
czerwonk/junos_exporter issue #315 (EX4300 18.4R3: ntpq text in <output>; EX4100 24.4R2:
<ntp-status>), shortened to the fields the parser reads."""

from __future__ import annotations

import pytest
from lxml import etree

from qkd_macsec.devices.junos_parse import (
    MalformedReplyError,
    parse_commit_confirm_pending,
    parse_interface_information,
    parse_macsec_config,
    parse_ntp_status,
    parse_software_information,
    parse_time_zone,
)

NS = 'xmlns:junos="http://xml.juniper.net/junos/18.4R3/junos"'
NTP_TEXT_18_4 = f"""<output {NS}>
status=00f4 leap_none, sync_unspec, 15 events, event_peer/strat_chg,
version="ntpd 4.2.0-a Wed Mar 18 11:34:58  2020 (1)",
processor="powerpc", system="JUNOS18.4R3-S1.3", leap=00, stratum=4,
precision=-18, rootdelay=13.569, rootdispersion=3231.830, peer=0,
refid=172.22.13.13, poll=4, state=4,
offset=1.847, frequency=-1.630, jitter=0.455, stability=0.107
</output>"""
NTP_XML_24_4 = """<ntp-status>
<associd>0</associd>
<status>0618 leap_none, sync_ntp, 1 event, no_sys_peer</status>
<leap>00</leap><stratum>4</stratum><precision>-22</precision><offset>-0.217</offset>
</ntp-status>"""


def xml(text: str) -> etree._Element:
    return etree.fromstring(text)


def test_ntp_text_form_without_a_sync_source_is_not_synchronised() -> None:
    state = parse_ntp_status(xml(NTP_TEXT_18_4))
    assert (state.leap, state.sync_source, state.stratum) == ("leap_none", "sync_unspec", 4)
    assert state.offset_ms == pytest.approx(1.847)
    assert not state.synchronised
    assert "sync_unspec" in state.raw_status


def test_ntp_structured_form_synchronised() -> None:
    state = parse_ntp_status(xml(NTP_XML_24_4))
    assert state.synchronised
    assert (state.sync_source, state.stratum, state.offset_ms) == ("sync_ntp", 4, -0.217)


@pytest.mark.parametrize(
    "reply",
    [
        "<output>status=c016 leap_alarm, sync_unspec, 1 event, restart, stratum=16</output>",
        "<output>status=0615 leap_none, sync_local, stratum=10</output>",
        "<output>ntpq: read: Connection refused</output>",
        "<ntp-status><status>0618 leap_none, sync_ntp</status></ntp-status>",  # no stratum
    ],
)
def test_ntp_unsynchronised_or_unknown(reply: str) -> None:
    assert not parse_ntp_status(xml(reply)).synchronised


def test_software_information_new_and_old_forms() -> None:
    new = xml(
        "<multi-routing-engine-results><multi-routing-engine-item><software-information>"
        "<host-name>r1</host-name><product-model>mx304</product-model>"
        "<junos-version>23.4R2-S3.9</junos-version></software-information>"
        "</multi-routing-engine-item></multi-routing-engine-results>"
    )
    facts = parse_software_information(new)
    assert (facts.hostname, facts.model, facts.version) == ("r1", "mx304", "23.4R2-S3.9")
    old = xml(
        "<software-information><host-name>r2</host-name><product-name>mx80</product-name>"
        "<package-information><name>junos</name>"
        "<comment>JUNOS Base OS boot [12.3R12.4]</comment></package-information>"
        "</software-information>"
    )
    assert parse_software_information(old).version == "12.3R12.4"
    with pytest.raises(MalformedReplyError):
        parse_software_information(xml("<software-information/>"))


def test_interface_information() -> None:
    reply = xml(
        '<interface-information style="terse"><physical-interface>'
        "<name>et-0/0/9</name><admin-status>down</admin-status><oper-status>down</oper-status>"
        "</physical-interface></interface-information>"
    )
    state = parse_interface_information(reply, "et-0/0/9")
    assert (state.exists, state.admin_up, state.oper_up) == (True, False, False)
    assert not parse_interface_information(reply, "et-0/0/1").exists


def test_time_zone_and_macsec_config_without_secrets() -> None:
    assert parse_time_zone(xml("<configuration/>")) is None
    zone = xml(
        "<configuration><system><time-zone>Europe/Berlin</time-zone></system></configuration>"
    )
    assert parse_time_zone(zone) == "Europe/Berlin"
    config = parse_macsec_config(
        xml(
            "<configuration><security><macsec>"
            "<connectivity-association><name>CA1</name><cipher-suite>gcm-aes-256</cipher-suite>"
            "<pre-shared-key><ckn>ABCD</ckn><cak>$9$secret</cak></pre-shared-key>"
            "</connectivity-association>"
            "<connectivity-association><name>CA2</name>"
            "<pre-shared-key-chain>KC2</pre-shared-key-chain></connectivity-association>"
            "<interfaces><name>et-0/0/1</name><connectivity-association>CA2"
            "</connectivity-association></interfaces>"
            "</macsec></security></configuration>"
        )
    )
    assert config.cas["CA1"].pre_shared_key_ckn == "abcd"
    assert config.cas["CA1"].cipher_suite == "gcm-aes-256"
    assert config.cas["CA2"].pre_shared_key_chain == "KC2"
    assert config.bindings == {"et-0/0/1": "CA2"}
    assert "$9$" not in repr(config)


def test_commit_confirm_pending_reads_the_newest_entry() -> None:
    pending = xml(
        "<commit-information><commit-history><sequence-number>0</sequence-number>"
        "<comment>commit confirmed, rollback in 10mins</comment><log>napalm</log>"
        "</commit-history><commit-history><sequence-number>1</sequence-number>"
        "</commit-history></commit-information>"
    )
    assert parse_commit_confirm_pending(pending)
    older = xml(
        "<commit-information><commit-history><sequence-number>0</sequence-number>"
        "</commit-history><commit-history><sequence-number>1</sequence-number>"
        "<comment>commit confirmed, rollback in 10mins</comment></commit-history>"
        "</commit-information>"
    )
    assert not parse_commit_confirm_pending(older)
