"""The tree as Junos XML (``<configuration>``), XML loads with operation attributes, filters.

Elements the schema does not know get their shape from the XML itself: child elements →
container, or a list entry when the first child is a text-only ``<name>`` (and there are more
children, or the name is not keyword-like); text only → leaf (leaf-list when repeated); empty →
flag. Known limit: an unknown container whose first child is a leaf called ``name`` reads back
as a list entry.
"""

from __future__ import annotations

import copy
from typing import Any

from lxml import etree

from qkd_macsec.sim.config.errors import ConfigSyntaxError, shown
from qkd_macsec.sim.config.paths import is_statement_word, lookup
from qkd_macsec.sim.config.schema import Kind, Schema
from qkd_macsec.sim.config.tree import Node, add_value, ensure_container, ensure_entry, set_leaf

Element = Any  # lxml.etree._Element (lxml ships no type information here)

_DELETE = "delete"
_REPLACE = "replace"


def local(tag: object) -> str:
    """Element name without namespace."""
    return etree.QName(tag).localname if isinstance(tag, str) else ""


# ---------------------------------------------------------------- rendering


def to_xml(root: Node, schema: Schema) -> Element:
    top = etree.Element("configuration")
    _children_to_xml(top, root.children, schema)
    return top


def _children_to_xml(parent: Element, children: list[Node], schema: Schema | None) -> None:
    for child in children:
        cs = lookup(schema, child.name) if child.name != _hidden(schema) else _entry(schema)
        el = etree.SubElement(parent, child.name)
        if child.inactive:
            el.set("inactive", "inactive")  # Junos XML for a deactivated statement
        if child.key is not None:
            etree.SubElement(el, cs.key_name if cs is not None else "name").text = child.key
            if cs is not None and cs.kind is Kind.MACRO:
                for data in child.children:
                    d = etree.SubElement(el, "data")
                    etree.SubElement(d, "name").text = data.name
                    if data.value is not None:
                        etree.SubElement(d, "value").text = data.value
                continue
        elif child.value is not None:
            el.text = child.value
            continue
        _children_to_xml(el, child.children, cs)


def _hidden(schema: Schema | None) -> str | None:
    return schema.hidden_list if schema is not None else None


def _entry(schema: Schema | None) -> Schema | None:
    if schema is None or schema.hidden_list is None:
        return None
    return schema.children[schema.hidden_list]


# ---------------------------------------------------------------- loading


def configuration_element(element: Element) -> Element:
    """Accept ``<configuration>`` itself or any wrapper holding one."""
    if local(element.tag) == "configuration":
        return element
    for el in element.iter():
        if local(el.tag) == "configuration":
            return el
    raise ConfigSyntaxError(f"expected <configuration>, got <{local(element.tag)}>")


def load_xml_into(root: Node, schema: Schema, element: Element) -> list[str]:
    warnings: list[str] = []
    _load_children(root, schema, configuration_element(element), warnings)
    return warnings


def _operation(el: Element) -> str | None:
    op: str | None = el.get("operation")
    if op is None:
        for name in (_DELETE, _REPLACE):
            if el.get(name) == name:
                op = name
    if op not in (None, _DELETE, _REPLACE, "merge", "create"):
        raise ConfigSyntaxError(f"unsupported operation '{op}' on <{local(el.tag)}>")
    return op


def _text(el: Element) -> str:
    """Stripped text: for keys, selectors and deciding an element's shape."""
    return (el.text or "").strip()


def _raw(el: Element) -> str:
    """A leaf's value exactly as sent (leading/trailing blanks are part of it)."""
    return el.text or ""


def _elements(el: Element) -> list[Element]:
    return [c for c in el if isinstance(c.tag, str)]


def _key_of(el: Element, key_name: str) -> str:
    for c in _elements(el):
        if local(c.tag) == key_name:
            key = _text(c)
            if key:
                return key
    raise ConfigSyntaxError(f"<{local(el.tag)}> needs a <{key_name}> child")


def _unknown_entry(el: Element) -> bool:
    kids = _elements(el)
    if not kids or local(kids[0].tag) != "name" or _elements(kids[0]) or not _text(kids[0]):
        return False
    return len(kids) > 1 or not is_statement_word(_text(kids[0]))


def _load_children(node: Node, schema: Schema | None, parent_el: Element, warns: list[str]) -> None:
    elements = _elements(parent_el)
    for el in elements:
        name = local(el.tag)
        op = _operation(el)
        if schema is not None and name == schema.hidden_list:
            cs: Schema | None = schema.children[name]
        else:
            cs = lookup(schema, name)
        if cs is None and schema is not None and schema.closed:
            raise ConfigSyntaxError(f"syntax error: <{shown(name)}> is not valid here")
        kind = cs.kind if cs is not None else _guess_kind(el, elements)
        if kind in (Kind.LIST, Kind.MACRO):
            key = _key_of(el, cs.key_name if cs is not None else "name")
            existing = node.find(name, key)
            if op in (_DELETE, _REPLACE) and existing is not None:
                node.remove(existing)
            elif op == _DELETE:
                warns.append(f"statement not found: {name} {key}")
            if op == _DELETE:
                continue
            entry = ensure_entry(node, name, key)
            _mark(entry, el)
            if kind is Kind.MACRO:
                _load_macro(entry, el)
            else:
                _load_children(entry, cs, _without_key(el, cs), warns)
        elif kind is Kind.LEAF_LIST:
            value = _raw(el)
            doomed = [c for c in node.children if c.name == name and c.multi]
            if op == _DELETE:
                for c in doomed:
                    if not value or c.value == value:
                        node.remove(c)
                continue
            if not value:
                raise ConfigSyntaxError(f"<{name}> needs a value")
            add_value(node, name, value)
        elif kind in (Kind.LEAF, Kind.FLAG):
            if op == _DELETE:
                if not node.remove_name(name):
                    warns.append(f"statement not found: {name}")
                continue
            leaf_value: str | None = _raw(el) if kind is Kind.LEAF else None
            if cs is not None and cs.choices is not None and leaf_value not in cs.choices:
                raise ConfigSyntaxError(
                    f"syntax error: invalid {name} '{shown(leaf_value or '')}' "
                    f"(expected one of {', '.join(cs.choices)})"
                )
            _mark(set_leaf(node, name, leaf_value), el)
        else:
            existing = node.find(name)
            if op == _DELETE:
                if existing is None:
                    warns.append(f"statement not found: {name}")
                else:
                    node.remove(existing)
                continue
            if op == _REPLACE and existing is not None:
                node.remove(existing)
            container = ensure_container(node, name)
            _mark(container, el)
            _load_children(container, cs, el, warns)


def _mark(node: Node, el: Element) -> None:
    """``inactive="inactive"`` deactivates, ``active="active"`` activates (Junos XML)."""
    if el.get("inactive") == "inactive":
        node.inactive = True
    elif el.get("active") == "active":
        node.inactive = False


def _guess_kind(el: Element, siblings: list[Element]) -> Kind:
    """Shape of an element the schema does not know (mirrors the set-line heuristic)."""
    if local(el.tag) == "apply-macro":
        return Kind.MACRO
    if _elements(el):
        return Kind.LIST if _unknown_entry(el) else Kind.CONTAINER
    if not _text(el):
        return Kind.FLAG
    same = [s for s in siblings if s.tag == el.tag and not _elements(s)]
    return Kind.LEAF_LIST if len(same) > 1 else Kind.LEAF


def _without_key(el: Element, cs: Schema | None) -> Element:
    key_name = cs.key_name if cs is not None else "name"
    shallow = etree.Element(el.tag)
    skipped = False
    for c in _elements(el):
        if not skipped and local(c.tag) == key_name:
            skipped = True
            continue
        shallow.append(copy.deepcopy(c))
    return shallow


def _load_macro(entry: Node, el: Element) -> None:
    for data in _elements(el):
        if local(data.tag) != "data":
            continue
        fields = {local(c.tag): _raw(c) for c in _elements(data)}
        fields["name"] = fields.get("name", "").strip()
        if not fields.get("name"):
            raise ConfigSyntaxError(f"apply-macro {entry.key}: <data> needs a <name>")
        if _operation(data) == _DELETE:
            entry.remove_name(fields["name"])
            continue
        set_leaf(entry, fields["name"], fields.get("value"))


# ---------------------------------------------------------------- subtree filters


def filter_xml(data: Element, filter_el: Element | None) -> Element:
    """Apply a NETCONF/Junos subtree filter (the ``<configuration>`` PyEZ sends) to ``data``."""
    result = etree.Element("configuration")
    if filter_el is None:
        for c in _elements(data):
            result.append(copy.deepcopy(c))
        return result
    selectors = _elements(filter_el) if local(filter_el.tag) == "configuration" else [filter_el]
    if not selectors:
        for c in _elements(data):
            result.append(copy.deepcopy(c))
        return result
    for sel in selectors:
        for c in _elements(data):
            if local(c.tag) == local(sel.tag):
                picked = _select(c, sel)
                if picked is not None:
                    result.append(picked)
    return result


def _select(data: Element, sel: Element) -> Element | None:
    sel_children = _elements(sel)
    if not sel_children:
        if _text(sel) and _text(data) != _text(sel):
            return None
        return copy.deepcopy(data)
    matches = [s for s in sel_children if not _elements(s) and _text(s)]
    for m in matches:
        if not any(local(d.tag) == local(m.tag) and _text(d) == _text(m) for d in _elements(data)):
            return None
    selectors = [s for s in sel_children if s not in matches]
    if not selectors:
        return copy.deepcopy(data)
    out = etree.Element(data.tag)
    match_tags = {local(m.tag) for m in matches}
    picked_any = False
    for d in _elements(data):
        if local(d.tag) in match_tags:
            out.append(copy.deepcopy(d))
            continue
        for s in selectors:
            if local(s.tag) == local(d.tag):
                got = _select(d, s)
                if got is not None:
                    out.append(got)
                    picked_any = True
                break
    return out if picked_any else None
