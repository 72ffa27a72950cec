"""The configuration tree: ordered nodes, each a container, list entry, leaf or flag.

A node's shape says what it is: ``key`` set → list entry; ``value`` set → leaf (``multi`` when it
is one value of a leaf-list); neither → container, or a flag when it has no children (Junos
renders both as ``name;``). Siblings with the same name are kept contiguous, as Junos shows them,
so the grouped text forms (``name [ a b ];``, ``interfaces { x {...} y {...} }``) round-trip.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from qkd_macsec.sim.config.schema import MACRO, Kind, Schema

Identity = tuple[str, str | None, str | None]


@dataclass(eq=False)
class Node:
    name: str
    key: str | None = None
    value: str | None = field(default=None, repr=False)  # may be a CAK: never in repr
    children: list[Node] = field(default_factory=list)
    multi: bool = False
    #: ``deactivate``d: kept and shown (``inactive:``), but without effect (Junos semantics).
    inactive: bool = False

    @property
    def identity(self) -> Identity:
        """What makes a node distinct among its siblings (a leaf's value only if multi)."""
        return (self.name, self.key, self.value if self.multi else None)

    def copy(self) -> Node:
        return Node(
            self.name,
            self.key,
            self.value,
            [c.copy() for c in self.children],
            self.multi,
            self.inactive,
        )

    def without_inactive(self) -> Node:
        """A copy without deactivated statements: what takes effect."""
        return Node(
            self.name,
            self.key,
            self.value,
            [c.without_inactive() for c in self.children if not c.inactive],
            self.multi,
        )

    def find(self, name: str, key: str | None = None) -> Node | None:
        for child in self.children:
            if child.name == name and child.key == key and not child.multi:
                return child
        return None

    def find_all(self, name: str) -> list[Node]:
        return [c for c in self.children if c.name == name]

    def get(self, *path: str) -> Node | None:
        """Walk plain (non-list) names: ``root.get("security", "macsec")``."""
        node: Node | None = self
        for name in path:
            node = node.find(name) if node is not None else None
        return node

    def leaf(self, name: str) -> str | None:
        child = self.find(name)
        return child.value if child is not None else None

    def insert(self, child: Node) -> Node:
        """Add ``child`` after the last sibling of the same name (or at the end)."""
        last = -1
        for i, sibling in enumerate(self.children):
            if sibling.name == child.name:
                last = i
        if last < 0:
            self.children.append(child)
        else:
            self.children.insert(last + 1, child)
        return child

    def remove(self, child: Node) -> None:
        self.children = [c for c in self.children if c is not child]

    def remove_name(self, name: str) -> bool:
        before = len(self.children)
        self.children = [c for c in self.children if c.name != name]
        return len(self.children) != before

    def canonical(self) -> tuple[object, ...]:
        """Order-insensitive structural form used for equality."""
        return (
            self.name,
            self.key is None,
            self.key or "",
            self.value is None,
            self.value or "",
            self.inactive,
            tuple(sorted((c.canonical() for c in self.children), key=repr)),
        )

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()


def new_root() -> Node:
    return Node("configuration")


def child_schema(schema: Schema | None, name: str) -> Schema | None:
    """Schema of child statement ``name`` (hidden-list entries included), None when unknown."""
    if schema is None:
        return MACRO if name == "apply-macro" else None
    return schema.child(name)


def ensure_container(parent: Node, name: str) -> Node:
    """The (non-list) child ``name``, turning a same-named leaf or flag into a container."""
    existing = parent.find(name)
    if existing is not None:
        existing.value = None
        return existing
    parent.remove_name(name)
    return parent.insert(Node(name))


def ensure_entry(parent: Node, name: str, key: str) -> Node:
    existing = parent.find(name, key)
    if existing is not None:
        return existing
    return parent.insert(Node(name, key=key))


def set_leaf(parent: Node, name: str, value: str | None) -> Node:
    """Set a single-valued leaf (``value`` None = flag), replacing any same-named non-entry."""
    existing = parent.find(name)
    if existing is not None:
        existing.value = value
        existing.children = []
        return existing
    for sibling in [c for c in parent.children if c.name == name and c.key is None]:
        parent.remove(sibling)
    return parent.insert(Node(name, value=value))


def add_value(parent: Node, name: str, value: str) -> Node:
    """Add one value of a leaf-list (no duplicates)."""
    for child in parent.children:
        if child.name == name and child.multi and child.value == value:
            return child
    for sibling in [c for c in parent.children if c.name == name and not c.multi]:
        parent.remove(sibling)
    return parent.insert(Node(name, value=value, multi=True))


def is_prunable(node: Node, schema: Schema | None) -> bool:
    """A known non-presence container left empty (Junos drops it after a delete)."""
    return (
        schema is not None
        and schema.kind is Kind.CONTAINER
        and node.key is None
        and node.value is None
        and not node.children
        and node.name not in _PRESENCE
    )


#: Containers meaningful when empty (a flag-like presence).
_PRESENCE = frozenset({"replay-protect", "iso", "inet", "inet6", "ssh", "netconf", "mka"})
