"""The tree as Junos-style JSON: lists of objects with "name", flags as ``[null]``."""

from __future__ import annotations

import json
from typing import Any

from qkd_macsec.sim.config.errors import ConfigSyntaxError, shown
from qkd_macsec.sim.config.paths import is_statement_word, lookup
from qkd_macsec.sim.config.render import runs
from qkd_macsec.sim.config.schema import Kind, Schema
from qkd_macsec.sim.config.tree import Node, add_value, ensure_container, ensure_entry, set_leaf

#: Junos JSON metadata of a deactivated statement (read-back only; loads ignore "@" keys).
INACTIVE = {"inactive": True}


def _schema_for(schema: Schema | None, name: str) -> Schema | None:
    if schema is not None and name == schema.hidden_list:
        return schema.children[name]
    return lookup(schema, name)


def to_json(root: Node, schema: Schema) -> str:
    return json.dumps({"configuration": _object(root, schema)}, indent=4)


def _object(node: Node, schema: Schema | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for run in runs(node.children):
        first = run[0]
        cs = _schema_for(schema, first.name)
        if first.key is not None:
            out[first.name] = [_entry(n, cs) for n in run]
        elif first.multi:
            out[first.name] = [n.value for n in run]
        elif first.value is not None:
            out[first.name] = first.value
        elif not first.children:
            out[first.name] = [None]
        else:
            out[first.name] = _object(first, cs)
            if first.inactive:
                out[first.name]["@"] = INACTIVE
            continue
        if first.inactive and first.key is None:
            out[f"@{first.name}"] = INACTIVE  # Junos JSON: a leaf's attributes beside it
    return out


def _entry(node: Node, cs: Schema | None) -> dict[str, Any]:
    key_name = cs.key_name if cs is not None else "name"
    obj: dict[str, Any] = {key_name: node.key}
    if cs is not None and cs.kind is Kind.MACRO:
        if node.children:
            obj["data"] = [
                {"name": d.name} if d.value is None else {"name": d.name, "value": d.value}
                for d in node.children
            ]
        return obj
    obj.update(_object(node, cs))
    if node.inactive:
        obj["@"] = INACTIVE
    return obj


def load_json_into(root: Node, schema: Schema, text: str) -> None:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigSyntaxError(f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(doc, dict):
        raise ConfigSyntaxError("JSON configuration must be an object")
    body = doc.get("configuration", doc)
    if not isinstance(body, dict):
        raise ConfigSyntaxError('"configuration" must be an object')
    _load_object(root, schema, body)


def _load_object(node: Node, schema: Schema | None, obj: dict[str, Any]) -> None:
    for name, value in obj.items():
        if name.startswith("@"):
            continue
        if not is_statement_word(name):
            raise ConfigSyntaxError(f"invalid statement name '{shown(name)}'")
        cs = _schema_for(schema, name)
        if cs is None and schema is not None and schema.closed:
            raise ConfigSyntaxError(f"syntax error: '{shown(name)}' is not valid here")
        kind = cs.kind if cs is not None else None
        if kind in (Kind.LIST, Kind.MACRO) or (
            kind is None and isinstance(value, list) and value and isinstance(value[0], dict)
        ):
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise ConfigSyntaxError(f"{name}: expected a list of objects")
            key_name = cs.key_name if cs is not None else "name"
            for item in value:
                key = item.get(key_name)
                if not isinstance(key, str) or not key:
                    raise ConfigSyntaxError(f"{name}: every entry needs a {key_name!r} string")
                entry = ensure_entry(node, name, key)
                rest = {k: v for k, v in item.items() if k != key_name}
                if kind is Kind.MACRO or (cs is None and name == "apply-macro"):
                    _load_macro(entry, rest.get("data", []))
                else:
                    _load_object(entry, cs, rest)
        elif value == [None]:
            set_leaf(node, name, None)
        elif isinstance(value, str):
            if cs is not None and cs.choices is not None and value not in cs.choices:
                raise ConfigSyntaxError(f"syntax error: invalid {name} '{shown(value)}'")
            set_leaf(node, name, value)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            for v in value:
                add_value(node, name, v)
        elif isinstance(value, dict):
            _load_object(ensure_container(node, name), cs, value)
        else:
            raise ConfigSyntaxError(f"{name}: unsupported JSON value")


def _load_macro(entry: Node, data: Any) -> None:
    if not isinstance(data, list):
        raise ConfigSyntaxError(f"apply-macro {entry.key}: data must be a list")
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ConfigSyntaxError(f"apply-macro {entry.key}: each data item needs a name")
        value = item.get("value")
        set_leaf(entry, item["name"], value if isinstance(value, str) else None)
