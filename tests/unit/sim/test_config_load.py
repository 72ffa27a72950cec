"""load_text (merge/replace/override/update), load_xml with operation attributes, load_json."""

from __future__ import annotations

import pytest
from lxml import etree

from qkd_macsec.sim.config import ConfigSyntaxError, Configuration

BASE = (
    "set system host-name r1\n"
    "set security macsec connectivity-association CA cipher-suite gcm-aes-128\n"
    "set security macsec connectivity-association CA pre-shared-key ckn 0a0a\n"
    "set security macsec connectivity-association CA pre-shared-key cak 0b0b\n"
    "set security macsec connectivity-association OLD cipher-suite gcm-aes-256\n"
)

NEW_TEXT = """
/* a comment */
security {
    macsec {
        connectivity-association CA {
            pre-shared-key {
                ckn 0c0c;
            }
            mka should-secure;
        }
        interfaces {
            et-0/0/9 {
                connectivity-association CA;
            }
        }
    }
}
"""


REPLACE_CA = (
    "security { macsec { replace: connectivity-association CA { cipher-suite gcm-aes-256; } } }"
)


def _base() -> Configuration:
    return Configuration.from_set(BASE)


def test_load_text_merge_adds_and_replaces_leaves() -> None:
    cfg = _base()
    cfg.load_text(NEW_TEXT, "merge")
    expected = Configuration.from_set(
        BASE
        + "set security macsec connectivity-association CA pre-shared-key ckn 0c0c\n"
        + "set security macsec connectivity-association CA mka should-secure\n"
        + "set security macsec interfaces et-0/0/9 connectivity-association CA\n"
    )
    assert cfg == expected


def test_load_text_replace_honours_replace_tags_only() -> None:
    cfg = _base()
    cfg.load_text(
        REPLACE_CA,
        "replace",
    )
    out = cfg.to_set()
    assert "connectivity-association CA cipher-suite gcm-aes-256" in out
    assert "pre-shared-key" not in out  # CA was replaced as a whole
    assert "connectivity-association OLD" in out  # siblings untouched
    merged = _base()
    merged.load_text(
        REPLACE_CA,
        "merge",
    )
    assert "pre-shared-key ckn 0a0a" in merged.to_set()


def test_load_text_delete_tag() -> None:
    cfg = _base()
    cfg.load_text("security { macsec { delete: connectivity-association OLD; } }", "merge")
    assert "OLD" not in cfg.to_set()


@pytest.mark.parametrize("action", ["override", "update"])
def test_load_text_override_replaces_everything(action: str) -> None:
    cfg = _base()
    cfg.load_text(NEW_TEXT, action)
    assert "host-name" not in cfg.to_set()
    assert "connectivity-association OLD" not in cfg.to_set()
    assert "pre-shared-key ckn 0c0c" in cfg.to_set()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("system { host-name r1; ", "missing '}'"),
        ("system { host-name r1 }", "missing ';'"),
        ("}", "unbalanced"),
        ("system { host-name { x; } }", "not a container"),
        ("protect: system { host-name r1; }", "not supported"),  # inactive: is supported
        ("delete: system { }", "delete:"),
    ],
)
def test_bad_text_raises_and_keeps_config(text: str, needle: str) -> None:
    cfg = _base()
    with pytest.raises(ConfigSyntaxError) as info:
        cfg.load_text(text)
    assert needle in str(info.value)
    assert cfg == _base()


def test_unknown_action_is_refused() -> None:
    with pytest.raises(ConfigSyntaxError, match="action"):
        _base().load_text("system { host-name x; }", "set")


def _xml(text: str) -> etree._Element:
    return etree.fromstring(text)


def test_load_xml_merge_with_delete_and_replace_operations() -> None:
    cfg = _base()
    cfg.load_xml(
        _xml(
            """<configuration><security><macsec>
              <connectivity-association operation="delete"><name>OLD</name>
              </connectivity-association>
              <connectivity-association>
                <name>CA</name>
                <pre-shared-key operation="replace"><ckn>0d0d</ckn><cak>0e0e</cak></pre-shared-key>
                <cipher-suite operation="delete"/>
              </connectivity-association>
              <interfaces><name>et-0/0/9</name>
                <connectivity-association>CA</connectivity-association></interfaces>
            </macsec></security>
            <system><host-name delete="delete"/></system></configuration>"""
        ),
        None,
    )
    expected = Configuration.from_set(
        "set security macsec connectivity-association CA pre-shared-key ckn 0d0d\n"
        "set security macsec connectivity-association CA pre-shared-key cak 0e0e\n"
        "set security macsec interfaces et-0/0/9 connectivity-association CA\n"
    )
    assert cfg.root.get("system") is not None
    cfg.load_set("delete system")
    assert cfg == expected


def test_load_xml_delete_value_of_leaf_list_and_apply_macro_data() -> None:
    cfg = Configuration.from_set(
        "set security macsec connectivity-association CA exclude-protocol lldp\n"
        "set security macsec connectivity-association CA exclude-protocol cdp\n"
        "set security macsec interfaces et-0/0/9 apply-macro qkd kme-host h\n"
        "set security macsec interfaces et-0/0/9 apply-macro qkd kme-port 443\n"
    )
    cfg.load_xml(
        _xml(
            """<configuration><security><macsec>
              <connectivity-association><name>CA</name>
                <exclude-protocol operation="delete">lldp</exclude-protocol>
              </connectivity-association>
              <interfaces><name>et-0/0/9</name><apply-macro><name>qkd</name>
                <data operation="delete"><name>kme-port</name></data>
                <data><name>kme-ca</name><value>true</value></data>
              </apply-macro></interfaces>
            </macsec></security></configuration>"""
        )
    )
    assert cfg == Configuration.from_set(
        "set security macsec connectivity-association CA exclude-protocol cdp\n"
        "set security macsec interfaces et-0/0/9 apply-macro qkd kme-host h\n"
        "set security macsec interfaces et-0/0/9 apply-macro qkd kme-ca true\n"
    )


def test_load_xml_override_and_namespaced_input() -> None:
    cfg = _base()
    cfg.load_xml(
        _xml(
            '<rpc xmlns="urn:x"><load-configuration><configuration><system>'
            "<host-name>r2</host-name></system></configuration></load-configuration></rpc>"
        ),
        "override",
    )
    assert cfg == Configuration.from_set("set system host-name r2")


@pytest.mark.parametrize(
    ("xml", "needle"),
    [
        (
            "<configuration><security><macsec><connectivity-association><cipher-suite>"
            "gcm-aes-128</cipher-suite></connectivity-association></macsec></security>"
            "</configuration>",
            "needs a <name>",
        ),
        (
            "<configuration><system><host-name operation='frob'>x</host-name></system>"
            "</configuration>",
            "unsupported operation",
        ),
        ("<load-configuration/>", "expected <configuration>"),
        (
            "<configuration><security><macsec><connectivity-association><name>C</name>"
            "<cipher-suite>rot13</cipher-suite></connectivity-association></macsec></security>"
            "</configuration>",
            "cipher-suite",
        ),
    ],
)
def test_bad_xml_raises_and_keeps_config(xml: str, needle: str) -> None:
    cfg = _base()
    with pytest.raises(ConfigSyntaxError) as info:
        cfg.load_xml(_xml(xml))
    assert needle in str(info.value)
    assert cfg == _base()


def test_load_json_merge_and_errors() -> None:
    cfg = _base()
    cfg.load_json(
        '{"configuration": {"security": {"macsec": {"interfaces": '
        '[{"name": "et-0/0/9", "connectivity-association": "CA"}]}}, '
        '"system": {"services": {"netconf": {"ssh": [null]}}}}}'
    )
    out = cfg.to_set()
    assert "set security macsec interfaces et-0/0/9 connectivity-association CA" in out
    assert "set system services netconf ssh" in out
    for bad in ("{", "[]", '{"configuration": {"system": {"host-name": 5}}}'):
        with pytest.raises(ConfigSyntaxError):
            cfg.load_json(bad)


def test_pre_shared_key_accepts_only_ckn_and_cak_in_every_format() -> None:
    canary = "c0ffee" * 10 + "beef"
    cfg = _base()
    with pytest.raises(ConfigSyntaxError) as info:
        cfg.load_xml(
            _xml(
                "<configuration><security><macsec><connectivity-association><name>CA</name>"
                f"<pre-shared-key><{canary}/></pre-shared-key></connectivity-association>"
                "</macsec></security></configuration>"
            )
        )
    assert canary not in str(info.value)
    with pytest.raises(ConfigSyntaxError, match="not valid here"):
        cfg.load_json(
            '{"configuration": {"security": {"macsec": {"connectivity-association": '
            '[{"name": "CA", "pre-shared-key": {"key": "x"}}]}}}}'
        )
    with pytest.raises(ConfigSyntaxError, match="not valid here"):
        cfg.load_text(
            "security { macsec { connectivity-association CA { pre-shared-key { x; } } } }"
        )
    assert cfg == _base()


def test_load_xml_delete_of_missing_statement_warns() -> None:
    cfg = _base()
    cfg.load_xml(
        _xml(
            "<configuration><security><macsec><connectivity-association operation='delete'>"
            "<name>NOPE</name></connectivity-association></macsec></security></configuration>"
        )
    )
    assert cfg.warnings == ["statement not found: connectivity-association NOPE"]
    assert cfg == _base()
