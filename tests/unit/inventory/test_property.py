"""Random damage to a good inventory: it loads or fails with InventoryError — nothing else —
and whatever loads carries only names that are safe to write into Junos configuration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from qkd_macsec.devices import junos_names
from qkd_macsec.inventory import Inventory, InventoryError, parse_inventory

SOURCE = Path("/nonexistent/dir/inventory.yaml")
INJECTIONS = [
    "; delete security",
    "}",
    "{",
    "\n",
    "\nset system root-authentication plain-text-password",
    '"',
    "'",
    " ",
    "#",
    "\t",
    "\x00",
    "\r",
    "|",
    "[",
]
VALID_NAMES = ["et-0/0/9", "CA_x", "KC_x", "mx304-11", "lldp", "abcd", "KME_A", "10m", "1.2.3.4"]
FORBIDDEN = set(";{}\"' #\n\r\t\x00|[")
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

plain_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
injected = st.builds(
    lambda name, inj, before: (inj + name) if before else (name + inj),
    st.sampled_from(VALID_NAMES),
    st.sampled_from(INJECTIONS),
    st.booleans(),
)
scalars = st.one_of(
    injected,
    st.sampled_from(INJECTIONS),
    st.sampled_from(VALID_NAMES),
    plain_text,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(plain_text, st.sampled_from(VALID_NAMES)), children, max_size=3),
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


def _mutate(doc: dict[str, Any], path: tuple[Any, ...], action: str, value: Any) -> None:
    parent: Any = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "set":
        parent[last] = value
    elif action == "delete":
        del parent[last]
    elif isinstance(parent[last], dict):
        parent[last]["extra_" + str(value)[:8]] = value  # an unknown key beside good ones


def _assert_config_safe(inventory: Inventory) -> None:
    def safe(text: str, validator: Callable[[str], object]) -> None:
        assert not FORBIDDEN & set(text), repr(text)
        validator(text)  # raises ConfigRenderError if unsafe

    for name, host in inventory.hosts.items():
        safe(name, junos_names.validate_hostname)
        safe(host.host, junos_names.validate_host)
        safe(host.sae_id, str)
        for mapped, address in inventory.static_host_mappings(name):
            safe(mapped, junos_names.validate_hostname)
            safe(address, junos_names.validate_ip_address)
    for link in inventory.links:
        safe(link.name, str)
        safe(link.connectivity_association, junos_names.validate_ca_name)
        if link.key_chain is not None:
            safe(link.key_chain, junos_names.validate_key_chain_name)
        junos_names.validate_ckn_prefix(link.ckn_prefix)
        for protocol in link.mka.exclude_protocols:
            safe(protocol, junos_names.validate_protocol)
        for host, end in inventory.link_ends(link):
            for interface in end.interfaces:
                safe(interface, junos_names.validate_interface_name)
            for macro, value in inventory.apply_macros(link, host.name):
                safe(macro, junos_names.validate_macro_name)
                safe(value, junos_names.validate_macro_value)


def _load(text: str) -> Inventory | None:
    try:
        inventory = parse_inventory(text, SOURCE)
    except InventoryError as exc:
        message = str(exc)
        assert message.startswith(str(SOURCE))
        return None
    _assert_config_safe(inventory)
    return inventory


def test_the_unmutated_document_loads(make_doc: Callable[[], dict[str, Any]]) -> None:
    assert _load(yaml.safe_dump(make_doc())) is not None


@SETTINGS
@given(data=st.data())
def test_structured_mutations(make_doc: Callable[[], dict[str, Any]], data: st.DataObject) -> None:
    doc = make_doc()
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(doc)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        action = data.draw(st.sampled_from(["set", "set", "set", "delete", "extra"]))
        _mutate(doc, path, action, data.draw(values))
    event("loaded" if _load(yaml.safe_dump(doc, allow_unicode=True)) else "refused")


@SETTINGS
@given(data=st.data())
def test_injected_names_are_never_accepted(
    make_doc: Callable[[], dict[str, Any]], data: st.DataObject
) -> None:
    """Every config-bound name, with an injection appended or prepended, is refused."""
    doc = make_doc()
    targets = [
        ("links", 0, "master", "interface"),
        ("links", 0, "slaves", 0, "interface"),
        ("links", 1, "master", "interfaces", 1),
        ("links", 0, "connectivity_association"),
        ("links", 0, "key_chain"),
        ("links", 0, "ckn_prefix"),
        ("links", 0, "mka", "exclude_protocols", 0),
        ("hosts", "mx304-11", "host"),
        ("kmes", "KME_B", "address"),
        ("links", 0, "name"),
        ("hosts", "mx304-12", "sae_id"),
    ]
    path = data.draw(st.sampled_from(targets))
    parent: Any = doc
    for part in path[:-1]:
        parent = parent[part]
    original = str(parent[path[-1]])
    injection = data.draw(st.sampled_from(INJECTIONS))
    parent[path[-1]] = data.draw(st.sampled_from([original + injection, injection + original]))
    assert _load(yaml.safe_dump(doc, allow_unicode=True)) is None


@SETTINGS
@given(data=st.data())
def test_text_level_damage(make_doc: Callable[[], dict[str, Any]], data: st.DataObject) -> None:
    text = yaml.safe_dump(make_doc())
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        at = data.draw(st.integers(min_value=0, max_value=len(text)))
        cut = data.draw(st.integers(min_value=0, max_value=5))
        insert = data.draw(
            st.one_of(
                st.sampled_from(
                    [*INJECTIONS, ":", "- ", "&a ", "*a", "!!python/object:os.system "]
                ),
                plain_text,
            )
        )
        text = text[:at] + insert + text[at + cut :]
    event("loaded" if _load(text) else "refused")
