"""Walking Junos XML replies and configuration by local element name (standard library only:
the on-box script bundles this module as it is; works on lxml and ElementTree elements alike).

Junos answers with or without namespaces depending on the RPC and release, so every lookup
compares the local name only; comments and processing instructions have no name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Element = Any  # an lxml or ElementTree element (lxml ships no stubs here)


def local_name(tag: object) -> str:
    """``{namespace}name`` or ``name`` → ``name``; "" for comments and processing instructions."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def child(element: Element | None, name: str) -> Element | None:
    """The first direct child called ``name``."""
    if element is None:
        return None
    for found in element:
        if local_name(found.tag) == name:
            return found
    return None


def children(element: Element | None, name: str) -> list[Element]:
    """Every direct child called ``name``, in document order."""
    if element is None:
        return []
    return [found for found in element if local_name(found.tag) == name]


def descendants(element: Element, name: str) -> Iterator[Element]:
    """Every element called ``name`` below (or at) ``element``."""
    for found in element.iter():
        if local_name(found.tag) == name:
            yield found


def child_text(element: Element | None, name: str) -> str | None:
    """The stripped text of the first child called ``name`` (None: no such child or no text)."""
    found = child(element, name)
    if found is None or found.text is None:
        return None
    return str(found.text).strip()


def path(element: Element | None, *names: str) -> Element | None:
    """The element reached by following ``names`` one child at a time."""
    for name in names:
        element = child(element, name)
        if element is None:
            return None
    return element
