"""Every kind of bad inventory → one InventoryError naming the file, the field and the problem."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.inventory import InventoryError, load_inventory, parse_inventory

Doc = dict[str, Any]


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """Mutation: set doc[a][b]... (ints index lists) to value."""

    def mutate(doc: Doc) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = doc
        for part in parents:
            node = node[part]
        node[last] = value

    return mutate


def _delete(path: str) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = doc
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


def _append_link(**changes: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        link = {
            "name": "extra",
            "master": {"host": "mx10008-23", "interface": "et-5/0/0"},
            "slaves": [{"host": "mx304-12", "interface": "et-5/0/0"}],
            "connectivity_association": "CA_extra",
            "key_chain": "KC_extra",
        }
        link.update(changes)
        doc["links"].append(link)

    return mutate


# (id, mutation, field named, message fragment)
CASES: list[tuple[str, Callable[[Doc], None], str, str]] = [
    (
        "injected interface",
        _set("links.0.master.interface", "et-0/0/9;x"),
        "links[0].master.interface",
        "'et-0/0/9;x' is not a valid Junos interface name",
    ),
    (
        "interface with newline",
        _set("links.0.slaves.0.interface", "et-0/0/9\ndelete security"),
        "links[0].slaves[0].interface",
        "not a valid Junos interface name",
    ),
    (
        "CA with space",
        _set("links.0.connectivity_association", "CA x"),
        "links[0].connectivity_association",
        "not a valid connectivity-association name",
    ),
    (
        "chain with brace",
        _set("links.0.key_chain", "KC}"),
        "links[0].key_chain",
        "not a valid key-chain name",
    ),
    (
        "CA too long",
        _set("links.0.connectivity_association", "C" * 33),
        "links[0].connectivity_association",
        "1-32 characters",
    ),
    (
        "bad ckn prefix",
        _set("links.0.ckn_prefix", "abc"),
        "links[0].ckn_prefix",
        "even number of hex digits",
    ),
    (
        "ckn prefix too long",
        _set("links.0.ckn_prefix", "ab" * 17),
        "links[0].ckn_prefix",
        "even number of hex digits",
    ),
    (
        "bad cipher",
        _set("links.0.cipher_suite", "aes-cbc"),
        "links[0].cipher_suite",
        "gcm-aes-xpn-256",
    ),
    ("bad mode", _set("links.0.mode", "psk"), "links[0].mode", "key-chain"),
    (
        "bad protocol",
        _set("links.0.mka.exclude_protocols", ["lldp; delete"]),
        "links[0].mka.exclude_protocols[0]",
        "not a valid exclude-protocol",
    ),
    (
        "priority range",
        _set("links.0.mka.key_server_priority", 256),
        "links[0].mka.key_server_priority",
        "outside 0..255",
    ),
    (
        "transmit interval",
        _set("links.0.mka.transmit_interval_ms", 100),
        "links[0].mka.transmit_interval_ms",
        "outside 2000..6000",
    ),
    (
        "key-chain mode without chain",
        _delete("links.0.key_chain"),
        "links[0].key_chain",
        "required in key-chain mode",
    ),
    (
        "chain in psk mode",
        _set("links.1.key_chain", "KC_x"),
        "links[1].key_chain",
        "only used in key-chain mode",
    ),
    (
        "unknown link host",
        _set("links.0.slaves.0.host", "mx999"),
        "links[0].slaves[0].host",
        "unknown host 'mx999'",
    ),
    (
        "host twice in link",
        _set("links.0.slaves.0.host", "mx304-11"),
        "links[0].slaves[0].host",
        "already an end of this link",
    ),
    (
        "duplicate link name",
        _append_link(name="core-11-12"),
        "links[2].name",
        "already used by links[0]",
    ),
    (
        "interface in two links",
        _append_link(
            master={"host": "mx304-12", "interface": "et-0/0/9"},
            slaves=[{"host": "mx10008-23", "interface": "et-5/0/0"}],
        ),
        "links[2].master.interface",
        "interface 'et-0/0/9' on mx304-12 is already used by link 'core-11-12'",
    ),
    (
        "CA reused on a host",
        _append_link(connectivity_association="CA_core_11_12"),
        "links[2].connectivity_association",
        "'CA_core_11_12' on mx304-12 is already used",
    ),
    (
        "chain reused on a host",
        _append_link(key_chain="KC_core_11_12"),
        "links[2].key_chain",
        "'KC_core_11_12' on mx304-12 is already used",
    ),
    ("no slaves", _set("links.0.slaves", []), "links[0].slaves", "at least 1"),
    (
        "interface and interfaces",
        _set("links.0.master.interfaces", ["et-0/0/1"]),
        "links[0].master",
        "exactly one of 'interface' or 'interfaces'",
    ),
    (
        "interfaces twice",
        _set("links.1.master.interfaces", ["et-0/0/1", "et-0/0/1"]),
        "links[1].master",
        "lists an interface twice",
    ),
    (
        "unknown kme",
        _set("hosts.mx304-11.kme", "KME_Z"),
        "hosts.mx304-11.kme",
        "unknown KME 'KME_Z' (known: KME_A, KME_B)",
    ),
    (
        "link end without kme",
        _delete("hosts.mx304-11.kme"),
        "hosts.mx304-11.kme",
        "required: the host is an end of link 'core-11-12'",
    ),
    (
        "link end without tls",
        _delete("hosts.mx304-12.tls"),
        "hosts.mx304-12.tls",
        "required (the SAE's client certificate)",
    ),
    (
        "unknown group",
        _set("hosts.mx304-11.groups", ["mx304", "nope"]),
        "hosts.mx304-11.groups[1]",
        "unknown group 'nope'",
    ),
    (
        "group twice",
        _set("hosts.mx304-11.groups", ["edge", "edge"]),
        "hosts.mx304-11.groups[1]",
        "listed twice",
    ),
    (
        "missing user",
        _delete("defaults.user"),
        "hosts.mx10008-23.user",
        "not set on the host, its groups or defaults",
    ),
    (
        "missing known_hosts",
        _delete("defaults.known_hosts"),
        "hosts.mx304-11.known_hosts",
        "unless insecure_host_keys: true",
    ),
    (
        "duplicate sae id",
        _set("hosts.mx10008-23.sae_id", "SAE-B"),
        "hosts.mx10008-23.sae_id",
        "already the SAE ID of host 'mx304-12'",
    ),
    (
        "bad host name key",
        _set("hosts.bad;name", {"host": "192.0.2.1"}),
        "hosts['bad;name'] (key)",
        "not a valid host name",
    ),
    (
        "bad address",
        _set("hosts.mx304-11.host", "192.0.2.1 ; rm"),
        "hosts.mx304-11.host",
        "not a valid host name or IP address",
    ),
    ("port range", _set("defaults.port", 70000), "defaults.port", "less than or equal to 65535"),
    ("port as bool", _set("defaults.port", True), "defaults.port", "valid integer"),
    (
        "bad platform",
        _set("groups.mx304.platform", "ios"),
        "groups.mx304.platform",
        "not a supported platform",
    ),
    ("bad user", _set("defaults.user", "a b"), "defaults.user", "not a valid user name"),
    (
        "bad env name",
        _set("defaults.password", {"env": "1BAD"}),
        "defaults.password",
        "environment variable name",
    ),
    (
        "bad password shape",
        _set("defaults.password", {"vault": "x"}),
        "defaults.password",
        "{env: NAME} or {file: PATH}",
    ),
    (
        "inline password",
        _set("hosts.mx304-12.password", "hunter2-canary"),
        "hosts.mx304-12.password",
        "inline passwords are refused",
    ),
    ("unknown top key", _set("hostz", {}), "hostz", "unknown key 'hostz'; did you mean 'hosts'?"),
    (
        "unknown host key",
        _set("hosts.mx304-11.prot", 1),
        "hosts.mx304-11.prot",
        "did you mean 'port'?",
    ),
    ("unknown link key", _set("links.0.cipher", "x"), "links[0].cipher", "allowed: name, master"),
    ("unknown mka key", _set("links.0.mka.sak_rekey", 1), "links[0].mka.sak_rekey", "unknown key"),
    (
        "http kme",
        _set("kmes.KME_A.url", "http://kme-a.example.net"),
        "kmes.KME_A.url",
        "must start with https://",
    ),
    (
        "kme url with creds",
        _set("kmes.KME_A.url", "https://u:pw@kme-a.example.net"),
        "kmes.KME_A.url",
        "must not carry credentials",
    ),
    (
        "kme url query",
        _set("kmes.KME_A.url", "https://kme-a.example.net/?x=1"),
        "kmes.KME_A.url",
        "no query",
    ),
    (
        "kme address",
        _set("kmes.KME_B.address", "kme-b"),
        "kmes.KME_B.address",
        "not a valid IP address",
    ),
    (
        "bad duration",
        _set("policy.rotation_interval", "10 minutes"),
        "policy.rotation_interval",
        "is not a duration",
    ),
    (
        "negative duration",
        _set("links.0.rotation_interval", -5),
        "links[0].rotation_interval",
        "at least 0",
    ),
    (
        "rotation shorter than activation",
        _set("links.0.rotation_interval", "5s"),
        "links[0].rotation_interval",
        "must be longer than the activation delay",
    ),
    (
        "activation below minimum",
        _set("policy.activation_delay", "2s"),
        "policy.activation_delay",
        "below policy.min_activation_delay",
    ),
    (
        "keep_previous range",
        _set("policy.keep_previous", 63),
        "policy.keep_previous",
        "less than or equal to 62",
    ),
    (
        "max_workers zero",
        _set("policy.max_workers", 0),
        "policy.max_workers",
        "greater than or equal to 1",
    ),
    ("empty path", _set("policy.journal", ""), "policy.journal", "non-empty file path"),
    ("no hosts", _set("hosts", {}), "hosts", "at least 1"),
    ("bad version", _set("version", 2), "version", "Input should be 1"),
]


@pytest.mark.parametrize(
    ("mutate", "field", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_inventory_names_file_field_and_problem(
    write_inventory: Any,
    doc: Doc,
    mutate: Callable[[Doc], None],
    field: str,
    fragment: str,
) -> None:
    mutate(doc)
    path = write_inventory(doc)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    error = caught.value
    assert error.source == str(path)
    assert str(error).startswith(str(path))
    matching = [p for p in error.problems if p.startswith(f"{field}: ")]
    assert matching, f"no problem for {field}: {error.problems}"
    assert any(fragment in p for p in matching), error.problems


def test_all_problems_are_reported_at_once(write_inventory: Any, doc: Doc) -> None:
    doc["links"][0]["master"]["interface"] = "bad interface"
    doc["links"][1]["connectivity_association"] = "bad;ca"
    doc["policy"]["max_workers"] = -1
    with pytest.raises(InventoryError) as caught:
        load_inventory(write_inventory(doc))
    fields = {p.split(":", 1)[0] for p in caught.value.problems}
    assert {
        "links[0].master.interface",
        "links[1].connectivity_association",
        "policy.max_workers",
    } <= fields
    assert "3 problems" in str(caught.value)


def test_duplicate_link_names_do_not_hide_shared_names(write_inventory: Any, doc: Doc) -> None:
    doc["links"].append(copy.deepcopy(doc["links"][0]))
    with pytest.raises(InventoryError) as caught:
        load_inventory(write_inventory(doc))
    fields = [p.split(":", 1)[0] for p in caught.value.problems]
    assert "links[2].name" in fields
    assert "links[2].master.interface" in fields
    assert "links[2].connectivity_association" in fields
    assert "links[2].key_chain" in fields


def test_dotted_host_names_are_quoted_in_field_paths(write_inventory: Any, doc: Doc) -> None:
    doc["hosts"]["r1.lab.example.net"] = {"port": "x"}
    with pytest.raises(InventoryError) as caught:
        load_inventory(write_inventory(doc))
    assert "hosts['r1.lab.example.net'].port: Input should be a valid integer" in str(caught.value)


def test_reference_problems_are_all_collected(write_inventory: Any, doc: Doc) -> None:
    doc["hosts"]["mx304-11"]["kme"] = "KME_Z"
    doc["links"][0]["slaves"][0]["host"] = "ghost"
    with pytest.raises(InventoryError) as caught:
        load_inventory(write_inventory(doc))
    assert any(p.startswith("hosts.mx304-11.kme: unknown KME") for p in caught.value.problems)
    assert any(p.startswith("links[0].slaves[0].host: unknown host") for p in caught.value.problems)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("hosts:\n  a: {host: 1.2.3.4\n", "line 3, column 1: YAML syntax error"),
        ("hosts:\n\ta: {}\n", "line 2, column 1: YAML syntax error"),
        ("hosts:\n  r1: {}\n  r1: {}\n", "line 3, column 3: YAML syntax error"),
        ("", "the file is empty"),
        ("- a\n- b\n", "the top level must be a mapping (hosts:, links:, ...), not a list"),
        ("just text\n", "not a string"),
    ],
    ids=["unclosed flow", "tab", "duplicate key", "empty", "list", "scalar"],
)
def test_yaml_level_errors_name_file_and_line(
    write_inventory: Any, text: str, fragment: str
) -> None:
    path = write_inventory(text)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert fragment in str(caught.value)


def test_duplicate_key_names_the_key(write_inventory: Any) -> None:
    with pytest.raises(InventoryError, match="found duplicate key 'r1'"):
        load_inventory(write_inventory("hosts:\n  r1: {}\n  r1: {}\n"))


def test_yaml_error_never_quotes_the_offending_line(write_inventory: Any) -> None:
    canary = "s3cr3t-canary-pw"
    text = f"allow_inline_secrets: true\ndefaults:\n  password: {canary}\n  user: [unclosed\n"
    with pytest.raises(InventoryError) as caught:
        load_inventory(write_inventory(text))
    assert canary not in str(caught.value)


def test_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(InventoryError, match=r"missing.yaml: cannot read the file: No such file"):
        load_inventory(missing)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00hosts")
    with pytest.raises(InventoryError, match="not UTF-8"):
        load_inventory(binary)
    with pytest.raises(InventoryError, match="cannot read"):
        load_inventory(tmp_path)  # a directory


def test_type_errors_show_the_value_but_never_a_password(tmp_path: Path) -> None:
    text = "hosts:\n  r1: {port: 'eight'}\ndefaults: {password: [pw-canary-123456]}\n"
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, tmp_path / "inv.yaml")
    message = str(caught.value)
    assert "hosts.r1.port: Input should be a valid integer" in message
    assert "(got 'eight')" in message
    assert "defaults.password:" in message
    assert "pw-canary-123456" not in message
