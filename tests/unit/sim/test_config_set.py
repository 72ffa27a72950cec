"""Parsing set/delete lines into the tree, and rendering back."""

from __future__ import annotations

import pytest

from qkd_macsec.sim.config import ConfigSyntaxError, Configuration


def test_seed_lines_parse_into_the_expected_shape(seed_set: str, seed_ckn: str) -> None:
    cfg = Configuration.from_set(seed_set)
    ca = cfg.root.get("security", "macsec")
    assert ca is not None
    entry = ca.find("connectivity-association", "CA1")
    assert entry is not None
    assert entry.leaf("cipher-suite") == "gcm-aes-xpn-256"
    assert entry.get("pre-shared-key") is not None
    assert entry.get("pre-shared-key").leaf("ckn") == seed_ckn  # type: ignore[union-attr]
    itf = ca.find("interfaces", "et-0/0/9")
    assert itf is not None
    assert itf.leaf("connectivity-association") == "CA1"
    macro = itf.find("apply-macro", "qkd")
    assert macro is not None
    assert [(d.name, d.value) for d in macro.children] == [
        ("kme-ca", "false"),
        ("kme-host", "kme-a.example.net"),
        ("kme-port", "443"),
        ("kme-keyid-check", "true"),
    ]
    gen = cfg.root.get("event-options")
    assert gen is not None
    every = gen.find("generate-event", "every10mins")
    assert every is not None
    assert every.leaf("start-time") == "2026-11-26.10:15:00"
    trace = gen.get("traceoptions", "file")
    assert trace is not None
    assert trace.leaf("filename") == "script.log"
    assert trace.leaf("size") == "10m"


def test_seed_renders_as_junos_text(seed_set: str) -> None:
    text = Configuration.from_set(seed_set).to_text()
    assert "    static-host-mapping {\n        kme-a.example.net inet 192.0.2.10;\n" in text
    assert 'every10mins time-interval 600 start-time "2026-11-26.10:15:00";' in text
    assert "file script.log size 10m;" in text
    assert "                apply-macro qkd {\n                    kme-ca false;\n" in text
    assert "## SECRET-DATA" in text
    assert text.startswith("security {\n    macsec {\n        connectivity-association CA1 {\n")


def test_set_render_is_stable(seed_set: str) -> None:
    once = Configuration.from_set(seed_set).to_set()
    assert Configuration.from_set(once).to_set() == once
    assert "set security macsec interfaces et-0/0/9 apply-macro qkd kme-port 443\n" in once
    assert 'start-time "2026-11-26.10:15:00"' in once


@pytest.mark.parametrize(
    "line",
    [
        'set security authentication-key-chains key-chain KC key 3 start-time "2026-11-26.10:15"',
        "set security authentication-key-chains key-chain KC key 3 start-time 2026-11-26.10:15",
    ],
)
def test_quoted_and_unquoted_values_are_the_same(line: str) -> None:
    cfg = Configuration.from_set(line)
    key = cfg.root.get("security", "authentication-key-chains")
    assert key is not None
    chain = key.find("key-chain", "KC")
    assert chain is not None
    entry = chain.find("key", "3")
    assert entry is not None
    assert entry.leaf("start-time") == "2026-11-26.10:15:00"  # stored with seconds (evidence §1)
    assert 'start-time "2026-11-26.10:15:00"' in cfg.to_set()
    assert 'start-time "2026-11-26.10:15:00 +0000"' in cfg.presented().to_set()


def test_values_with_spaces_and_quotes_are_quoted_on_output() -> None:
    cfg = Configuration.from_set(r'set interfaces et-0/0/1 description "to \"B\" side; rack 4"')
    assert r'description "to \"B\" side; rack 4";' in cfg.to_text()
    again = Configuration.from_set(cfg.to_set())
    assert again == cfg
    itf = again.root.get("interfaces")
    assert itf is not None
    entry = itf.find("interface", "et-0/0/1")
    assert entry is not None
    assert entry.leaf("description") == 'to "B" side; rack 4'


def test_leaf_is_replaced_and_leaf_list_accumulates() -> None:
    cfg = Configuration.from_set(
        "set security macsec connectivity-association CA cipher-suite gcm-aes-128\n"
        "set security macsec connectivity-association CA cipher-suite gcm-aes-256\n"
        "set security macsec connectivity-association CA exclude-protocol lldp\n"
        "set security macsec connectivity-association CA mka should-secure\n"
        "set security macsec connectivity-association CA exclude-protocol cdp\n"
        "set security macsec connectivity-association CA exclude-protocol lldp\n"
    )
    text = cfg.to_text()
    assert "cipher-suite gcm-aes-256;" in text
    assert "gcm-aes-128" not in text
    assert "exclude-protocol [ lldp cdp ];" in text
    lines = cfg.to_set().splitlines()
    assert lines.count("set security macsec connectivity-association CA exclude-protocol lldp") == 1


def test_top_level_interfaces_use_a_hidden_interface_list() -> None:
    cfg = Configuration.from_set(
        "set interfaces et-0/0/9 unit 0 family inet address 10.0.0.1/30\n"
        "set interfaces et-0/0/9 mtu 9192\n"
    )
    xml = cfg.to_xml()
    assert xml.findtext("interfaces/interface/name") == "et-0/0/9"
    assert xml.findtext("interfaces/interface/unit/family/inet/address/name") == "10.0.0.1/30"
    assert "interfaces {\n    et-0/0/9 {\n        unit 0 {" in cfg.to_text()


def test_delete_leaf_entry_and_value_and_prunes_empty_containers(seed_set: str) -> None:
    cfg = Configuration.from_set(seed_set)
    cfg.load_set(
        "delete security macsec connectivity-association CA1 pre-shared-key ckn\n"
        "delete security macsec connectivity-association CA1 pre-shared-key cak\n"
        "delete security macsec interfaces et-0/0/9 apply-macro qkd kme-port\n"
        "delete system static-host-mapping mx304-11\n"
    )
    out = cfg.to_set()
    assert "pre-shared-key" not in out
    assert "kme-port" not in out
    assert "mx304-11" not in out
    assert "kme-host" in out
    assert cfg.warnings == []
    cfg.load_set("delete security macsec\n")
    assert "security" not in cfg.to_set()


def test_delete_one_value_of_a_leaf_list() -> None:
    cfg = Configuration.from_set(
        "set security macsec connectivity-association CA exclude-protocol lldp\n"
        "set security macsec connectivity-association CA exclude-protocol cdp\n"
        "delete security macsec connectivity-association CA exclude-protocol lldp\n"
    )
    assert "exclude-protocol cdp;" in cfg.to_text()
    assert "lldp" not in cfg.to_text()


def test_delete_of_missing_statement_warns() -> None:
    cfg = Configuration.from_set("set system host-name r1")
    cfg.load_set("delete system static-host-mapping nope")
    assert cfg.warnings == ["line 1: statement not found"]
    assert cfg == Configuration.from_set("set system host-name r1")


def test_unknown_statements_are_kept() -> None:
    lines = (
        "set protocols lldp interface all\n"
        "set protocols ospf area 0.0.0.0 interface et-0/0/9.0 metric 10\n"
        "set snmp community public authorization read-only\n"
        "set system login message hello\n"
    )
    cfg = Configuration.from_set(lines)
    assert cfg.to_set() == lines
    assert Configuration.from_set(cfg.to_set()) == cfg


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("set security macsec connectivity-association", "missing name"),
        ("set security macsec connectivity-association CA cipher-suite", "missing value"),
        ("set security macsec connectivity-association CA cipher-suite des", "cipher-suite"),
        ("set system host-name r1 {", "unexpected '{'"),
        ('set system host-name "r1', "unterminated"),
        ("show configuration", "unknown command 'show'"),
        ("set", "needs a statement"),
        ("set 10.0.0.1 foo", "not a statement"),
        ("set system host-name r1 extra", "unexpected 'extra'"),
        ("set security macsec connectivity-association CA mka should-secure x", "unexpected"),
    ],
)
def test_bad_set_lines_raise_and_leave_config_unchanged(text: str, needle: str) -> None:
    cfg = Configuration.from_set("set system host-name r1")
    before = cfg.copy()
    with pytest.raises(ConfigSyntaxError) as info:
        cfg.load_set("set system domain-name example.net\n" + text)
    assert needle in str(info.value)
    assert info.value.line == 2
    assert cfg == before


def test_mask_secrets_hides_cak_and_secret(seed_set: str, seed_cak: str) -> None:
    cfg = Configuration.from_set(
        seed_set + "set security authentication-key-chains key-chain KC key 0 secret 00ff00ff\n"
    )
    for rendered in (cfg.to_text(mask_secrets=True), cfg.to_set(mask_secrets=True)):
        assert seed_cak not in rendered
        assert "00ff00ff" not in rendered
        assert '"<masked>"' in rendered
    assert seed_cak in cfg.to_text()


def test_copy_is_independent(seed_set: str) -> None:
    cfg = Configuration.from_set(seed_set)
    dup = cfg.copy()
    dup.load_set("set system host-name other")
    assert dup != cfg
    assert "host-name" not in cfg.to_set()
    assert repr(cfg).startswith("Configuration(<")


@pytest.mark.parametrize(
    "line",
    [
        "set security macsec connectivity-association CA pre-shared-key {canary}",
        "set security macsec connectivity-association CA pre-shared-key cak {canary} {canary}",
        "set security macsec connectivity-association CA cipher-suite {canary}",
        "{canary} security",
    ],
)
def test_syntax_errors_do_not_echo_key_material(line: str) -> None:
    canary = "c0ffee" * 10 + "beef"
    with pytest.raises(ConfigSyntaxError) as info:
        Configuration.from_set(line.format(canary=canary))
    assert canary not in str(info.value)
    assert "<hex value>" in str(info.value)


def test_tree_repr_hides_values(seed_set: str, seed_cak: str) -> None:
    cfg = Configuration.from_set(seed_set)
    assert seed_cak not in repr(cfg.root)
