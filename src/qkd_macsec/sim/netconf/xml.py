"""XML in and out of the simulator, following the wire rules in JUNOS.md.

Requests are parsed from bytes with a hardened parser and their namespaces dropped, so handlers
dispatch and read on local names. Replies carry the NETCONF base namespace as the default
namespace on ``<rpc-reply>`` (ncclient ignores ``<rpc-error>`` otherwise), echo the request's
attributes (``message-id`` first of all), and have no XML declaration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from xml.sax.saxutils import quoteattr

from lxml import etree

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
JUNOS_NS = "http://xml.juniper.net/junos/{version}/junos"
BASE_10 = "urn:ietf:params:netconf:base:1.0"
BASE_11 = "urn:ietf:params:netconf:base:1.1"

Element = Any  # lxml.etree._Element (lxml ships no type information here)


class XmlInputError(ValueError):
    """A request that is not well-formed XML (or not an ``<rpc>``)."""


def _parser() -> Any:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        remove_blank_text=True,
        load_dtd=False,
    )


def parse(data: bytes) -> Element:
    """Parse one message (bytes: the client sends an XML declaration) with namespaces removed."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise XmlInputError(f"malformed XML: {exc.msg}") from None
    if root is None:
        raise XmlInputError("empty message")
    return strip_namespaces(root)


def strip_namespaces(root: Element) -> Element:
    """Rename every element and attribute to its local name (in place) and return the root."""
    for element in root.iter():
        if not isinstance(element.tag, str):  # comments, processing instructions
            continue
        element.tag = etree.QName(element).localname
        for name in list(element.attrib):
            if name.startswith("{"):
                value = element.attrib.pop(name)
                element.attrib[etree.QName(name).localname] = value
    etree.cleanup_namespaces(root)
    return root


def local_name(element: Element) -> str:
    return str(etree.QName(element).localname)


def sub(parent: Element, tag: str, text: str | None = None, **attrib: str) -> Element:
    """Append a child element (attribute names with ``_`` become ``-``)."""
    child = etree.SubElement(parent, tag, {k.replace("_", "-"): v for k, v in attrib.items()})
    if text is not None:
        child.text = text
    return child


def element(tag: str, text: str | None = None, **attrib: str) -> Element:
    node = etree.Element(tag, {k.replace("_", "-"): v for k, v in attrib.items()})
    if text is not None:
        node.text = text
    return node


def to_bytes(node: Element) -> bytes:
    return bytes(etree.tostring(node, encoding="utf-8", xml_declaration=False))


def rpc_reply(
    body: Iterable[Element | bytes] | None,
    attributes: Mapping[str, str],
    *,
    junos_version: str,
    ok: bool = False,
    text: str | None = None,
) -> bytes:
    """Render ``<rpc-reply>`` around un-namespaced body elements (they inherit the default ns).

    ``text`` puts character data directly in the reply (the way Junos returns JSON).
    """
    attrs = "".join(
        f" {name}={quoteattr(value)}"
        for name, value in attributes.items()
        if not name.startswith("xmlns")
    )
    junos_ns = quoteattr(JUNOS_NS.format(version=junos_version))
    parts = [f'<rpc-reply xmlns="{NC_NS}" xmlns:junos={junos_ns}{attrs}>'.encode()]
    if text is not None:
        parts.append(_escape_text(text))
    for item in body or ():
        parts.append(item if isinstance(item, bytes) else to_bytes(item))
    if ok:
        parts.append(b"<ok/>")
    parts.append(b"</rpc-reply>")
    return b"".join(parts)


def _escape_text(text: str) -> bytes:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()


def hello(capabilities: Iterable[str], session_id: int) -> bytes:
    """The server's ``<hello>``."""
    root = etree.Element(f"{{{NC_NS}}}hello", nsmap={None: NC_NS})
    caps = etree.SubElement(root, f"{{{NC_NS}}}capabilities")
    for capability in capabilities:
        etree.SubElement(caps, f"{{{NC_NS}}}capability").text = capability
    etree.SubElement(root, f"{{{NC_NS}}}session-id").text = str(session_id)
    return to_bytes(root)
