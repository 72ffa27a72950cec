"""The real-Junos fixtures (tests/unit/devices/fixtures/junos/) and the shape checks that hold
both the fixtures and the simulator to them (one definition, so they cannot drift apart)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "devices" / "fixtures" / "junos"

#: What evidence §3 says every per-interface element carries, directly.
REQUIRED_FLAT_CHILDREN = frozenset(
    {"interface-name", "interface-state", "member-identifier", "cak-name"}
)
_HEX_UPPER = re.compile(r"[0-9A-F]+")
_MEMBER_ID = re.compile(r"[0-9A-F]{24}")
_TEXT_LABEL = re.compile(r"(?:\d+\.\s+)?([A-Za-z][A-Za-z -]*?):")
_SPLIT = re.compile(r"\s{2,}")


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def fixture_reply(name: str) -> Any:
    """The fixture's ``<rpc-reply>`` as PyEZ hands it over: its *first child* (PyEZ returns
    ``rpc-reply[0]``; the siblings stay reachable through ``getparent()``)."""
    root = etree.fromstring((FIXTURES / name).read_bytes())
    return root[0] if etree.QName(root).localname == "rpc-reply" else root


def _local(node: Any) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _style(node: Any) -> str | None:
    for name, value in node.attrib.items():
        if etree.QName(name).localname == "style":
            return str(value)
    return None


@dataclass(frozen=True)
class FlatInfo:
    """The shape of one ``<mka-session-information>`` (names only, values where checked)."""

    style: str | None
    children: frozenset[str]
    live_children: frozenset[str]
    cak_children: frozenset[str]
    cak_names: tuple[str, ...]
    member_id: str
    state: str


def flat_infos(first_child: Any) -> list[FlatInfo]:
    """Every per-interface element of a reply (given as PyEZ's first child)."""
    parent = first_child.getparent()
    root = parent if parent is not None else first_child
    infos = [n for n in root.iter() if _local(n) == "mka-session-information"]
    out = []
    for info in infos:
        lives = [c for c in info if _local(c) == "session-live"]
        caks = [c for c in info if _local(c) == "session-cak"]
        out.append(
            FlatInfo(
                style=_style(info),
                children=frozenset(_local(c) for c in info if _local(c)),
                live_children=frozenset(_local(c) for n in lives for c in n if _local(c)),
                cak_children=frozenset(_local(c) for n in caks for c in n if _local(c)),
                cak_names=tuple(
                    (n.findtext("{*}cak-name") or "").strip()
                    for n in [info, *lives, *caks]
                    if n.find("{*}cak-name") is not None
                ),
                member_id=(info.findtext("{*}member-identifier") or "").strip(),
                state=(info.findtext("{*}interface-state") or "").strip(),
            )
        )
    return out


def assert_real_layout(reply: Any, *, detail: bool) -> None:
    """What the evidence (§3) says of a real reply: flat, one element per interface, no
    ``<mka-session>`` wrapper, ``junos:style``, upper-case CKNs and member identifiers."""
    infos = flat_infos(reply)
    assert infos, "no <mka-session-information>"
    for info in infos:
        assert "mka-session" not in info.children
        assert info.style == "brief", info.style
        assert info.children >= REQUIRED_FLAT_CHILDREN, info.children
        assert all(_HEX_UPPER.fullmatch(name) for name in info.cak_names), info.cak_names
        assert _MEMBER_ID.fullmatch(info.member_id), info.member_id
        assert ("session-cak" in info.children) is detail
        if detail and info.state.startswith("Secured"):
            assert "session-live" in info.children


def assert_same_shape(sim: Any, fixture: Any) -> None:
    """The simulator's reply carries at least every element the fixture does, at each level
    (``session-live`` only where a CAK is live: the fixtures' interfaces all are)."""
    sim_infos, fixture_infos = flat_infos(sim), flat_infos(fixture)
    want = frozenset().union(*(i.children for i in fixture_infos)) - {"session-live"}
    want_live = frozenset().union(*(i.live_children for i in fixture_infos))
    want_cak = frozenset().union(*(i.cak_children for i in fixture_infos))
    for info in sim_infos:
        assert info.children >= want, sorted(want - info.children)
        if "session-live" in info.children:
            assert info.live_children >= want_live, sorted(want_live - info.live_children)
        if "session-cak" in info.children:
            assert info.cak_children >= want_cak, sorted(want_cak - info.cak_children)


#: Labels of a live peer's lines: absent where no peer is live.
PEER_LABELS = frozenset({"hold time", "lowest acceptable pn", "sci", "uptime"})


def text_labels(text: str) -> list[set[str]]:
    """Per "Interface name:" block, the set of labels printed (lower-case)."""
    blocks: list[set[str]] = []
    for line in text.splitlines():
        for part in _SPLIT.split(line.strip()):
            match = _TEXT_LABEL.match(part)
            if match is None:
                continue
            label = match.group(1).strip().lower()
            if label == "interface name":
                blocks.append(set())
            if blocks:
                blocks[-1].add(label)
    return blocks
