"""Subtree filters (as PyEZ get_config sends them) and `show | compare` diffs."""

from __future__ import annotations

from lxml import etree

from qkd_macsec.sim.config import Configuration


def _f(xml: str) -> etree._Element:
    return etree.fromstring(xml)


def test_no_filter_and_empty_filter_return_everything(seed_set: str) -> None:
    cfg = Configuration.from_set(seed_set)
    assert cfg.filtered(None) == cfg
    assert cfg.filtered(_f("<configuration/>")) == cfg


def test_filter_selects_a_subtree(seed_set: str) -> None:
    cfg = Configuration.from_set(seed_set)
    picked = cfg.filtered(_f("<configuration><security><macsec/></security></configuration>"))
    out = picked.to_set()
    assert out.startswith("set security macsec connectivity-association CA1 cipher-suite")
    assert "system" not in out
    assert "event-options" not in out
    alone = cfg.filtered(_f("<system/>"))
    assert alone.to_set().splitlines()[0].startswith("set system static-host-mapping")


def test_filter_by_list_key_selects_one_entry() -> None:
    cfg = Configuration.from_set(
        "set security macsec interfaces et-0/0/1 connectivity-association A\n"
        "set security macsec interfaces et-0/0/2 connectivity-association B\n"
        "set interfaces et-0/0/1 mtu 9000\n"
        "set interfaces et-0/0/2 mtu 1500\n"
    )
    one = cfg.filtered(
        _f(
            "<configuration><security><macsec><interfaces><name>et-0/0/2</name></interfaces>"
            "</macsec></security><interfaces><interface><name>et-0/0/1</name><mtu/>"
            "</interface></interfaces></configuration>"
        )
    )
    assert one == Configuration.from_set(
        "set security macsec interfaces et-0/0/2 connectivity-association B\n"
        "set interfaces et-0/0/1 mtu 9000\n"
    )


def test_filter_with_no_match_is_empty(seed_set: str) -> None:
    cfg = Configuration.from_set(seed_set)
    none = cfg.filtered(
        _f(
            "<configuration><security><macsec><interfaces><name>xe-9</name></interfaces>"
            "</macsec></security></configuration>"
        )
    )
    assert none.to_set() == ""


def test_diff_is_empty_when_equal_even_if_order_differs() -> None:
    a = Configuration.from_set("set system host-name r1\nset system time-zone UTC\n")
    b = Configuration.from_set("set system time-zone UTC\nset system host-name r1\n")
    assert a == b
    assert a.diff(b) == ""


def test_diff_shows_changed_leaf_and_added_entry(seed_set: str) -> None:
    old = Configuration.from_set(seed_set)
    new = old.copy()
    new.load_set(
        "set security macsec connectivity-association CA1 pre-shared-key ckn 0102\n"
        "set security macsec interfaces et-0/0/10 connectivity-association CA1\n"
        "delete system static-host-mapping mx304-11\n"
    )
    expected_ckn_header = "[edit security macsec connectivity-association CA1 pre-shared-key]"
    lines = new.diff(old).splitlines()
    i = lines.index(expected_ckn_header)
    assert lines[i + 1].startswith("-   ckn abcd1234")
    assert lines[i + 2] == "+   ckn 0102;"
    j = lines.index("[edit security macsec]")
    assert lines[j + 1 : j + 6] == [
        "+   interfaces {",
        "+       et-0/0/10 {",
        "+           connectivity-association CA1;",
        "+       }",
        "+   }",
    ]
    k = lines.index("[edit system]")
    assert lines[k + 1 : k + 4] == [
        "-   static-host-mapping {",
        "-       mx304-11 inet 192.0.2.11;",
        "-   }",
    ]


def test_diff_masks_secrets_by_default(seed_set: str, seed_cak: str) -> None:
    old = Configuration.from_set(seed_set)
    new = old.copy()
    new.load_set("set security macsec connectivity-association CA1 pre-shared-key cak 0f0f")
    masked = new.diff(old)
    assert seed_cak not in masked
    assert "0f0f" not in masked
    assert '-   cak "<masked>"; ## SECRET-DATA' in masked
    assert '+   cak "0f0f"; ## SECRET-DATA' in new.diff(old, mask_secrets=False)


def test_diff_of_leaf_list_and_apply_macro() -> None:
    old = Configuration.from_set(
        "set security macsec connectivity-association CA exclude-protocol lldp\n"
        "set security macsec interfaces et-0/0/9 apply-macro qkd kme-port 443\n"
    )
    new = Configuration.from_set(
        "set security macsec connectivity-association CA exclude-protocol cdp\n"
        "set security macsec interfaces et-0/0/9 apply-macro qkd kme-port 8443\n"
    )
    assert new.diff(old) == (
        "[edit security macsec connectivity-association CA]\n"
        "-   exclude-protocol lldp;\n"
        "+   exclude-protocol cdp;\n"
        "[edit security macsec interfaces et-0/0/9 apply-macro qkd]\n"
        "-   kme-port 443;\n"
        "+   kme-port 8443;\n"
    )


def test_diff_against_empty_shows_everything_added(seed_set: str) -> None:
    cfg = Configuration.from_set(seed_set)
    out = cfg.diff(Configuration.empty())
    assert out.startswith("[edit]\n+   security {\n")
    assert all(line.startswith(("+", "[edit")) for line in out.splitlines())
