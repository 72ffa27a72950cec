"""Applying one statement (a word sequence) to the tree: the core of set, delete and text loads.

A *cursor* is where a statement applies: a node, its schema, and optionally a list keyword
still waiting for its key (inside ``interfaces {`` of a grouped list). Words are interpreted
with the schema; unknown words get a generic shape: ``a`` → flag, ``a v`` → leaf, ``a [ v w ]``
→ leaf-list, ``a b ...`` → container ``a`` holding ``b ...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qkd_macsec.sim.config.errors import ConfigSyntaxError, shown
from qkd_macsec.sim.config.schema import Kind, Schema
from qkd_macsec.sim.config.tokens import Token, is_punct
from qkd_macsec.sim.config.tree import (
    Node,
    add_value,
    child_schema,
    ensure_container,
    ensure_entry,
    is_prunable,
    set_leaf,
)

_STATEMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def is_statement_word(word: str) -> bool:
    """Could ``word`` be a Junos keyword? (Otherwise it is a value or a list key.)"""
    return bool(_STATEMENT.match(word))


@dataclass(frozen=True)
class Cursor:
    node: Node
    schema: Schema | None
    pending: str | None = None


def lookup(schema: Schema | None, word: str) -> Schema | None:
    """Schema for keyword ``word`` (a hidden list's own keyword is not a keyword)."""
    if schema is not None and word == schema.hidden_list:
        return None
    return child_schema(schema, word)


def _word(words: list[Token], i: int, what: str, line: int | None) -> str:
    if i >= len(words) or is_punct(words[i]):
        raise ConfigSyntaxError(f"missing {what}", line=line)
    return words[i]


def _read_values(words: list[Token], i: int, name: str, line: int | None) -> tuple[list[str], int]:
    """Values at ``words[i]``: one word or ``[ a b ]``; returns them and the next index."""
    if i < len(words) and is_punct(words[i], "["):
        values: list[str] = []
        j = i + 1
        while j < len(words) and not is_punct(words[j], "]"):
            if is_punct(words[j]):
                raise ConfigSyntaxError(f"unexpected '{words[j]}' in values of {name}", line=line)
            values.append(words[j])
            j += 1
        if j >= len(words):
            raise ConfigSyntaxError(f"missing ']' after values of {name}", line=line)
        return values, j + 1
    return [_word(words, i, f"value for {name}", line)], i + 1


def _check_choice(schema: Schema, name: str, value: str, line: int | None) -> None:
    if schema.choices is not None and value not in schema.choices:
        raise ConfigSyntaxError(
            f"syntax error: invalid {name} '{shown(value)}' "
            f"(expected one of {', '.join(schema.choices)})",
            line=line,
        )


def _leaf_value(schema: Schema, name: str, value: str, line: int | None) -> str:
    _check_choice(schema, name, value, line)
    return value


def apply(cursor: Cursor, words: list[Token], *, line: int | None = None) -> None:
    """``set`` the statement ``words`` below ``cursor``."""
    _walk(cursor, words, enter=False, line=line)


def enter(cursor: Cursor, words: list[Token], *, line: int | None = None) -> Cursor:
    """Create the container/list entry named by ``words`` and return a cursor inside it."""
    return _walk(cursor, words, enter=True, line=line)


def _walk(cursor: Cursor, words: list[Token], *, enter: bool, line: int | None) -> Cursor:
    if cursor.pending is not None:
        words = [cursor.pending, *words]
    node, schema = cursor.node, cursor.schema
    i = 0
    while i < len(words):
        w = words[i]
        if is_punct(w):
            raise ConfigSyntaxError(f"syntax error: unexpected '{w}'", line=line)
        if schema is not None and schema.kind is Kind.MACRO:
            rest = words[i + 1 :]
            if enter or len(rest) > 1 or any(is_punct(r) for r in rest):
                raise ConfigSyntaxError(
                    f"apply-macro {node.key}: data '{shown(w)}' takes at most one value", line=line
                )
            set_leaf(node, w, rest[0] if rest else None)
            return Cursor(node, schema)
        cs = lookup(schema, w)
        if cs is None and schema is not None and schema.hidden_list:
            node = ensure_entry(node, schema.hidden_list, w)
            schema = schema.children[schema.hidden_list]
            i += 1
            continue
        if cs is None and schema is not None and schema.positional:
            set_leaf(node, schema.positional, w)
            i += 1
            continue
        if cs is None:
            if schema is not None and schema.closed:
                raise ConfigSyntaxError(f"syntax error: '{shown(w)}' is not valid here", line=line)
            if not is_statement_word(w):
                raise ConfigSyntaxError(f"syntax error: '{shown(w)}' is not a statement", line=line)
            rest = words[i + 1 :]
            if (
                rest
                and not is_punct(rest[0])
                and not is_statement_word(rest[0])
                and (enter or len(rest) >= 2)
            ):
                node, schema = ensure_entry(node, w, rest[0]), None
                i += 2
                continue
            if enter:
                node, schema = ensure_container(node, w), None
                i += 1
                continue
            if not rest:
                set_leaf(node, w, None)
            elif is_punct(rest[0], "["):
                values, j = _read_values(words, i + 1, w, line)
                if j != len(words):
                    raise ConfigSyntaxError(f"unexpected words after values of {w}", line=line)
                for value in values:
                    add_value(node, w, value)
            elif len(rest) == 1:
                set_leaf(node, w, _word(words, i + 1, f"value for {w}", line))
            else:
                node, schema = ensure_container(node, w), None
                i += 1
                continue
            return Cursor(node, schema)
        if cs.kind is Kind.CONTAINER:
            node, schema = ensure_container(node, w), cs
            i += 1
        elif cs.kind in (Kind.LIST, Kind.MACRO):
            if i + 1 >= len(words) and enter:
                return Cursor(node, schema, pending=w)
            key = _word(words, i + 1, f"name after '{w}'", line)
            node, schema = ensure_entry(node, w, key), cs
            i += 2
        elif enter:
            raise ConfigSyntaxError(f"syntax error: '{w}' is not a container", line=line)
        elif cs.kind is Kind.LEAF:
            value = _leaf_value(cs, w, _word(words, i + 1, f"value for {w}", line), line)
            set_leaf(node, w, value)
            i += 2
        elif cs.kind is Kind.FLAG:
            set_leaf(node, w, None)
            i += 1
        else:  # LEAF_LIST
            values, i = _read_values(words, i + 1, w, line)
            for value in values:
                add_value(node, w, value)
        # Only one-line entries (`host inet 1.2.3.4 alias x;`) chain statements.
        chained = i < len(words) and cs.kind in (Kind.LEAF, Kind.FLAG, Kind.LEAF_LIST)
        if chained and (schema is None or not schema.oneliner):
            raise ConfigSyntaxError(f"syntax error: unexpected '{shown(words[i])}'", line=line)
    return Cursor(node, schema)


def delete(cursor: Cursor, words: list[Token], *, line: int | None = None) -> bool:
    """``delete`` the statement ``words``; False when it does not exist. Prunes empty parents."""
    if cursor.pending is not None:
        words = [cursor.pending, *words]
    trail: list[tuple[Node, Schema | None]] = [(cursor.node, cursor.schema)]
    node, schema = cursor.node, cursor.schema
    i = 0
    found = False
    while True:
        if i >= len(words):
            if len(trail) == 1:
                found = bool(node.children)
                node.children = []
            else:
                trail[-2][0].remove(node)
                trail.pop()
                found = True
            break
        w = words[i]
        if is_punct(w):
            raise ConfigSyntaxError(f"syntax error: unexpected '{w}'", line=line)
        if schema is not None and schema.kind is Kind.MACRO:
            found = node.remove_name(w)
            break
        cs = lookup(schema, w)
        if cs is None and schema is not None and schema.hidden_list:
            entry = node.find(schema.hidden_list, w)
            if entry is None:
                break
            node, schema = entry, schema.children[schema.hidden_list]
            trail.append((node, schema))
            i += 1
            continue
        if cs is None and schema is not None and schema.positional:
            if node.leaf(schema.positional) == w:
                found = node.remove_name(schema.positional)
            break
        kind = cs.kind if cs is not None else None
        rest = words[i + 1 :]
        if kind is None and rest and not is_punct(rest[0]):
            unknown_entry = node.find(w, rest[0])
            if unknown_entry is not None:
                node, schema = unknown_entry, None
                trail.append((node, schema))
                i += 2
                continue
        if kind in (Kind.LIST, Kind.MACRO):
            if not rest:
                found = node.remove_name(w)
                break
            entry = node.find(w, rest[0])
            if entry is None:
                break
            node, schema = entry, cs
            trail.append((node, schema))
            i += 2
            continue
        if kind in (Kind.LEAF, Kind.FLAG):
            found = node.remove_name(w)
            break
        multi = [c for c in node.children if c.name == w and c.multi]
        if kind is Kind.LEAF_LIST or (kind is None and multi):
            values = {str(r) for r in rest if not is_punct(r)}
            doomed = [c for c in multi if not values or c.value in values]
            for c in doomed:
                node.remove(c)
            found = bool(doomed)
            break
        child = node.find(w)
        if child is None:
            break
        if child.value is not None or not rest:
            if kind is None and rest and (len(rest) != 1 or rest[0] != child.value):
                break
            node.remove(child)
            found = True
            break
        node, schema = child, cs
        trail.append((node, schema))
        i += 1
    if found:
        for k in range(len(trail) - 1, 0, -1):
            child_node, child_sch = trail[k]
            if not is_prunable(child_node, child_sch):
                break
            trail[k - 1][0].remove(child_node)
    return found


def locate(cursor: Cursor, words: list[Token]) -> Node | None:
    """The node a statement path names (``activate`` / ``deactivate`` / ``inactive:``), None
    when absent. Words after a leaf's name (its value) are ignored."""
    if cursor.pending is not None:
        words = [cursor.pending, *words]
    node, schema = cursor.node, cursor.schema
    i = 0
    while i < len(words):
        w = words[i]
        if is_punct(w):
            return None
        cs = lookup(schema, w)
        rest = words[i + 1 :]
        if cs is None and schema is not None and schema.hidden_list:
            entry = node.find(schema.hidden_list, w)
            if entry is None:
                return None
            node, schema = entry, schema.children[schema.hidden_list]
            i += 1
            continue
        kind = cs.kind if cs is not None else None
        if kind in (Kind.LIST, Kind.MACRO) or (
            kind is None and rest and not is_punct(rest[0]) and node.find(w, rest[0]) is not None
        ):
            if not rest:
                return None
            found = node.find(w, rest[0])
            if found is None:
                return None
            node, schema = found, cs
            i += 2
            continue
        child = node.find(w)
        if child is None:
            return None
        if child.value is not None or kind in (Kind.LEAF, Kind.FLAG):
            return child
        node, schema = child, cs
        i += 1
    return node if i else None
