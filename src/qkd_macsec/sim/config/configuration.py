"""The Junos configuration tree with its loaders, renderings, diff and commit checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qkd_macsec.sim.config import xmlform
from qkd_macsec.sim.config.checks import check_tree
from qkd_macsec.sim.config.diff import diff_trees
from qkd_macsec.sim.config.errors import CommitCheckError, ConfigSyntaxError
from qkd_macsec.sim.config.jsonform import load_json_into, to_json
from qkd_macsec.sim.config.present import decode_loaded, present
from qkd_macsec.sim.config.render import set_lines, text_lines
from qkd_macsec.sim.config.schema import ROOT, Schema
from qkd_macsec.sim.config.setform import load_set_into
from qkd_macsec.sim.config.textform import load_text_into
from qkd_macsec.sim.config.tree import Node, new_root
from qkd_macsec.sim.config.zone import zone_of

TEXT_ACTIONS = ("merge", "replace", "override", "update")


class Configuration:
    """An ordered Junos configuration tree that keeps statements it does not know.

    Loads are atomic: on ``ConfigSyntaxError`` the configuration is unchanged. Equality ignores
    sibling order. ``warnings`` holds the last load's warnings (e.g. "statement not found").
    """

    def __init__(self, root: Node | None = None, schema: Schema = ROOT) -> None:
        self.root = root if root is not None else new_root()
        self.schema = schema
        self.warnings: list[str] = []

    @classmethod
    def empty(cls) -> Configuration:
        return cls()

    @classmethod
    def from_set(cls, text: str) -> Configuration:
        cfg = cls()
        cfg.load_set(text)
        return cfg

    def copy(self) -> Configuration:
        return Configuration(self.root.copy(), self.schema)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Configuration):
            return NotImplemented
        return self.root.canonical() == other.root.canonical()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Configuration(<{sum(1 for _ in self.root.walk()) - 1} nodes>)"

    # ------------------------------------------------------------ loading

    def _load(self, apply: Callable[[Node], list[str] | None], *, fresh: bool = False) -> None:
        work = new_root() if fresh else self.root.copy()
        warnings = apply(work)
        try:
            decode_loaded(work, self.schema)
        except ValueError as exc:
            raise ConfigSyntaxError(f"syntax error: {exc}") from None
        self.root = work
        self.warnings = list(warnings or [])

    def load_set(self, text: str) -> None:
        """``set ...`` / ``delete ...`` lines, one per line."""
        self._load(lambda root: load_set_into(root, self.schema, text))

    def load_text(self, text: str, action: str = "merge") -> None:
        """Curly-brace text; ``merge``, ``replace`` (honours ``replace:`` tags), ``override``
        and ``update`` (both: the text becomes the whole configuration)."""
        if action not in TEXT_ACTIONS:
            raise ConfigSyntaxError(f"unsupported load action '{action}'")
        fresh = action in ("override", "update")
        honour = action == "replace"
        self._load(
            lambda root: load_text_into(root, self.schema, text, honour_replace=honour),
            fresh=fresh,
        )

    def load_xml(self, element: Any, action: str | None = None) -> None:
        """A ``<configuration>`` element; None/merge/replace merge (honouring ``operation`` /
        ``replace="replace"`` / ``delete="delete"`` attributes), override/update replace all."""
        if action not in (None, *TEXT_ACTIONS):
            raise ConfigSyntaxError(f"unsupported load action '{action}'")
        self._load(
            lambda root: xmlform.load_xml_into(root, self.schema, element),
            fresh=action in ("override", "update"),
        )

    def load_json(self, text: str, action: str | None = None) -> None:
        """Junos-style JSON (``{"configuration": {...}}``); override/update replace all."""
        if action not in (None, *TEXT_ACTIONS):
            raise ConfigSyntaxError(f"unsupported load action '{action}'")
        self._load(
            lambda root: load_json_into(root, self.schema, text),
            fresh=action in ("override", "update"),
        )

    # ------------------------------------------------------------ renderings

    def to_text(self, *, mask_secrets: bool = False) -> str:
        lines = text_lines(self.root.children, self.schema, mask=mask_secrets)
        return "\n".join(lines) + ("\n" if lines else "")

    def to_set(self, *, mask_secrets: bool = False) -> str:
        lines = set_lines(self.root, self.schema, mask=mask_secrets)
        return "\n".join(lines) + ("\n" if lines else "")

    def to_xml(self) -> Any:
        return xmlform.to_xml(self.root, self.schema)

    def to_json(self) -> str:
        return to_json(self.root, self.schema)

    def presented(self) -> Configuration:
        """A copy as Junos shows it: ``$9$`` secrets, start-times normalised with the zone
        offset (``sim.config.present``). Every read-back goes through this."""
        out = self.copy()
        present(out.root, self.schema, zone_of(self.effective_root()))
        return out

    def filtered(self, filter_xml: Any | None) -> Configuration:
        """The part selected by a subtree filter (``<configuration>`` or one top element)."""
        if filter_xml is None:
            return self.copy()
        picked = xmlform.filter_xml(self.to_xml(), filter_xml)
        out = Configuration(schema=self.schema)
        xmlform.load_xml_into(out.root, self.schema, picked)
        return out

    def diff(self, older: Configuration, *, mask_secrets: bool = True) -> str:
        """``show | compare`` against ``older``; empty when equal. Secrets masked by default,
        as Junos never shows them in clear."""
        return diff_trees(older.root, self.root, self.schema, mask=mask_secrets)

    def effective_root(self) -> Node:
        """The tree without deactivated statements: what the device acts on."""
        return self.root.without_inactive()

    def check(self) -> list[CommitCheckError]:
        """Commit checks over what takes effect (inactive statements are not checked)."""
        return check_tree(self.effective_root())
