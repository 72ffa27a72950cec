"""Rendering the tree as Junos curly-brace text and as ``set`` lines."""

from __future__ import annotations

from collections.abc import Iterator

from qkd_macsec.sim.config.schema import Kind, Schema
from qkd_macsec.sim.config.tokens import quote
from qkd_macsec.sim.config.tree import Node, child_schema

MASK = "<masked>"
SECRET_NOTE = " ## SECRET-DATA"  # noqa: S105 - the marker Junos prints, not a secret
INDENT = "    "


def _value(value: str, schema: Schema | None, mask: bool) -> str:
    if schema is not None and schema.secret:
        return quote(MASK if mask else value, force=True)
    return quote(value, force=schema is not None and schema.quoted)


def _is_hidden_entry(node: Node, parent_schema: Schema | None) -> bool:
    return parent_schema is not None and node.name == parent_schema.hidden_list


def _is_positional(node: Node, parent_schema: Schema | None) -> bool:
    return parent_schema is not None and node.name == parent_schema.positional


def runs(children: list[Node]) -> Iterator[list[Node]]:
    """Consecutive siblings grouped by name."""
    run: list[Node] = []
    for child in children:
        if run and run[0].name != child.name:
            yield run
            run = []
        run.append(child)
    if run:
        yield run


# ---------------------------------------------------------------- set lines


def set_lines(root: Node, root_schema: Schema, *, mask: bool = False) -> list[str]:
    out: list[str] = []
    _set_children(root, root_schema, [], out, mask)
    return out


def path_words(node: Node, parent_schema: Schema | None) -> list[str]:
    """How ``node`` appears in a set line / ``[edit ...]`` path (values excluded)."""
    if node.key is not None:
        if _is_hidden_entry(node, parent_schema):
            return [quote(node.key)]
        return [node.name, quote(node.key)]
    return [node.name]


def _set_children(
    node: Node, schema: Schema | None, prefix: list[str], out: list[str], mask: bool
) -> None:
    for run in runs(node.children):
        first = run[0]
        cs = child_schema(schema, first.name)
        if first.multi and (cs is None or cs.kind is not Kind.LEAF_LIST):
            values = " ".join(_value(c.value or "", cs, mask) for c in run)
            out.append(" ".join(["set", *prefix, first.name, "[", values, "]"]))
            continue
        for child in run:
            _set_node(child, schema, cs, prefix, out, mask)


def _set_node(
    child: Node,
    parent_schema: Schema | None,
    cs: Schema | None,
    prefix: list[str],
    out: list[str],
    mask: bool,
) -> None:
    _set_statement(child, parent_schema, cs, prefix, out, mask)
    if child.inactive:
        # `display set` lists a deactivated statement, then `deactivate` for it.
        if _is_positional(child, parent_schema):
            out.append(" ".join(["deactivate", *prefix]))
        else:
            out.append(" ".join(["deactivate", *prefix, *path_words(child, parent_schema)]))


def _set_statement(
    child: Node,
    parent_schema: Schema | None,
    cs: Schema | None,
    prefix: list[str],
    out: list[str],
    mask: bool,
) -> None:
    if child.value is not None and child.key is None:
        if _is_positional(child, parent_schema):
            out.append(" ".join(["set", *prefix, quote(child.value)]))
        else:
            out.append(" ".join(["set", *prefix, child.name, _value(child.value, cs, mask)]))
        return
    words = [*prefix, *path_words(child, parent_schema)]
    if not child.children:
        out.append(" ".join(["set", *words]))
    elif cs is not None and cs.kind is Kind.MACRO:
        for data in child.children:
            tail = [] if data.value is None else [quote(data.value)]
            out.append(" ".join(["set", *words, quote(data.name), *tail]))
    else:
        _set_children(child, cs, words, out, mask)


# ---------------------------------------------------------------- curly-brace text


def text_lines(
    children: list[Node], schema: Schema | None, depth: int = 0, *, mask: bool = False
) -> list[str]:
    out: list[str] = []
    pad = INDENT * depth
    for run in runs(children):
        first = run[0]
        cs = child_schema(schema, first.name)
        if first.multi:
            values = [_value(c.value or "", cs, mask) for c in run]
            known_list = cs is not None and cs.kind is Kind.LEAF_LIST
            shown = values[0] if known_list and len(values) == 1 else f"[ {' '.join(values)} ]"
            out.append(f"{pad}{first.name} {shown};")
            continue
        if (
            first.key is not None
            and cs is not None
            and cs.kind is Kind.LIST
            and cs.grouped
            and not _is_hidden_entry(first, schema)
        ):
            out.append(f"{pad}{first.name} {{")
            for entry in run:
                lines = _entry_text(entry, quote(entry.key or ""), cs, depth + 1, mask)
                out.extend(_inactive(lines, entry, depth + 1))
            out.append(f"{pad}}}")
            continue
        for child in run:
            out.extend(_node_text(child, schema, cs, depth, mask))
    return out


def _inactive(lines: list[str], node: Node, depth: int) -> list[str]:
    """``inactive: `` before a deactivated statement's first line, as Junos shows it."""
    if not node.inactive or not lines:
        return lines
    pad = INDENT * depth
    return [pad + "inactive: " + lines[0][len(pad) :], *lines[1:]]


def _node_text(
    node: Node, parent_schema: Schema | None, cs: Schema | None, depth: int, mask: bool
) -> list[str]:
    return _inactive(_node_text_plain(node, parent_schema, cs, depth, mask), node, depth)


def _node_text_plain(
    node: Node, parent_schema: Schema | None, cs: Schema | None, depth: int, mask: bool
) -> list[str]:
    pad = INDENT * depth
    if node.value is not None and node.key is None:
        note = SECRET_NOTE if cs is not None and cs.secret else ""
        shown = _value(node.value, cs, mask)
        if _is_positional(node, parent_schema):
            return [f"{pad}{shown};"]
        return [f"{pad}{node.name} {shown};{note}"]
    head = " ".join(path_words(node, parent_schema))
    if cs is not None and cs.kind is Kind.MACRO and node.children:
        lines = [f"{pad}{head} {{"]
        for data in node.children:
            tail = "" if data.value is None else f" {quote(data.value)}"
            lines.append(f"{pad}{INDENT}{quote(data.name)}{tail};")
        return [*lines, f"{pad}}}"]
    return _entry_text(node, head, cs, depth, mask)


def _entry_text(node: Node, head: str, cs: Schema | None, depth: int, mask: bool) -> list[str]:
    pad = INDENT * depth
    if not node.children:
        return [f"{pad}{head};"]
    inline = _oneliner_words(node, cs, mask)
    if inline is not None:
        return [f"{pad}{head} {inline};"]
    body = text_lines(node.children, cs, depth + 1, mask=mask)
    return [f"{pad}{head} {{", *body, f"{pad}}}"]


def _oneliner_words(node: Node, cs: Schema | None, mask: bool) -> str | None:
    """``inet 10.0.0.1`` for a one-line entry, or None when it needs braces."""
    if cs is None or not cs.oneliner:
        return None
    parts: list[str] = []
    for run in runs(node.children):
        first = run[0]
        sub = cs.children.get(first.name)
        if sub is None or first.key is not None or first.children or sub.secret:
            return None
        if sub.kind is Kind.LEAF_LIST:
            values = [quote(c.value or "") for c in run]
            parts.append(
                f"{first.name} {values[0]}"
                if len(values) == 1
                else f"{first.name} [ {' '.join(values)} ]"
            )
        elif sub.kind is Kind.LEAF and first.value is not None:
            if first.name == cs.positional:
                parts.append(quote(first.value))
            else:
                parts.append(f"{first.name} {_value(first.value, sub, mask)}")
        elif sub.kind is Kind.FLAG and first.value is None:
            parts.append(first.name)
        else:
            return None
    return " ".join(parts)
