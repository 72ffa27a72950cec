"""``show | compare``: the difference between two trees, Junos style."""

from __future__ import annotations

from qkd_macsec.sim.config.paths import lookup
from qkd_macsec.sim.config.render import path_words, text_lines
from qkd_macsec.sim.config.schema import Schema
from qkd_macsec.sim.config.tree import Node


def _schema_for(schema: Schema | None, node: Node) -> Schema | None:
    if schema is not None and node.name == schema.hidden_list:
        return schema.children[node.name]
    return lookup(schema, node.name)


def diff_trees(old: Node, new: Node, schema: Schema, *, mask: bool) -> str:
    """Lines under ``[edit path]`` headers, ``-`` for removed and ``+`` for added statements."""
    out: list[str] = []
    last_header: list[str | None] = [None]

    def emit(path: list[str], sign: str, node: Node, parent_schema: Schema | None) -> None:
        header = f"[edit {' '.join(path)}]" if path else "[edit]"
        if header != last_header[0]:
            out.append(header)
            last_header[0] = header
        for line in text_lines([node], parent_schema, mask=mask):
            out.append(f"{sign}   {line}")

    def walk(a: Node, b: Node, sch: Schema | None, path: list[str]) -> None:
        b_ids = {c.identity for c in b.children}
        a_by = {c.identity: c for c in a.children}
        for child in a.children:
            if child.identity not in b_ids:
                emit(path, "-", child, sch)
        for child in b.children:
            before = a_by.get(child.identity)
            if before is None:
                emit(path, "+", child, sch)
            elif _is_leafish(before) or _is_leafish(child):
                if before.canonical() != child.canonical():
                    emit(path, "-", before, sch)
                    emit(path, "+", child, sch)
            elif before.canonical() != child.canonical():
                walk(before, child, _schema_for(sch, child), [*path, *path_words(child, sch)])

    walk(old, new, schema, [])
    return "\n".join(out) + ("\n" if out else "")


def _is_leafish(node: Node) -> bool:
    return node.value is not None
