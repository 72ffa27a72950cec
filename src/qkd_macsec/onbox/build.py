"""Bundle the on-box runtime (``onbox/artifact/``) into the single script a router runs.

Junos runs one ``.py`` file with its own Python 3: standard library, ``jnpr.junos``, ``lxml``,
``requests`` and ``jcs`` only. The bundler checks every import of every artifact module against
that list (so a stray ``import cryptography`` fails the build, not the router), strips the
intra-package imports, checks top-level names do not collide, and concatenates the modules in
dependency order under one ``from __future__`` line.
"""

from __future__ import annotations

import ast
import hashlib
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from qkd_macsec import __version__

SCRIPT_NAME = "qkd_onbox.py"
ARTIFACT_PACKAGE = "qkd_macsec.onbox.artifact"
MODULE_ORDER = (
    "derive",
    "rules",
    "settings",
    "state",
    "handoff",
    "kme",
    "junos_io",
    "runtime",
    "main",
)
ALLOWED_THIRD_PARTY = frozenset({"jnpr", "lxml", "requests", "jcs"})


class BuildError(Exception):
    """The artifact sources break a rule of the bundle (the message names module and line)."""


@dataclass(frozen=True)
class BuiltScript:
    path: Path
    sha256: str
    size: int


def allowed_module(name: str) -> bool:
    """May the artifact import ``name``? (standard library or what Junos ships)"""
    top = name.split(".", 1)[0]
    return top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY


def _source(module: str) -> str:
    return resources.files(ARTIFACT_PACKAGE).joinpath(f"{module}.py").read_text(encoding="utf-8")


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        return ["." * node.level + (node.module or "")]
    return [node.module or ""]


def _intra(name: str) -> bool:
    return name == ARTIFACT_PACKAGE or name.startswith(ARTIFACT_PACKAGE + ".")


def check_imports(module: str, tree: ast.Module) -> list[tuple[int, int]]:
    """Validate every import; return the (first, last) line ranges of top-level intra imports."""
    strip: list[tuple[int, int]] = []
    top_level = set(map(id, tree.body))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        for name in _imported(node):
            where = f"{module}.py:{node.lineno}"
            if name.startswith("."):
                raise BuildError(f"{where}: relative import {name!r} (use the full package path)")
            if name == "__future__":
                strip.append((node.lineno, node.end_lineno or node.lineno))
            elif _intra(name):
                if id(node) not in top_level:
                    raise BuildError(f"{where}: intra-artifact import must be at top level")
                strip.append((node.lineno, node.end_lineno or node.lineno))
            elif not allowed_module(name):
                raise BuildError(f"{where}: {name!r} is not available on Junos")
    return strip


def _defined_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def bundle_source() -> str:
    """The complete script text (deterministic for a given source tree)."""
    owner: dict[str, str] = {}
    parts = [
        f'"""qkd-macsec on-box runtime {__version__} (built by `qkd-macsec onbox build`; do not '
        'edit).\n\nRun by event-options on every timer event, and by peers as an op script.\n"""\n',
        "from __future__ import annotations\n",
    ]
    for module in MODULE_ORDER:
        text = _source(module)
        try:
            tree = ast.parse(text, filename=f"{module}.py")
        except SyntaxError as exc:
            raise BuildError(f"{module}.py:{exc.lineno}: {exc.msg}") from None
        strip = check_imports(module, tree)
        for name in _defined_names(tree):
            if name in owner:
                raise BuildError(
                    f"{module}.py: top-level name {name!r} also defined in {owner[name]}"
                )
            owner[name] = f"{module}.py"
        lines = text.splitlines()
        for first, last in strip:
            for index in range(first - 1, last):
                lines[index] = ""
        body = "\n".join(line for line in lines).strip("\n")
        parts.append(f"\n# ---- {module}.py " + "-" * max(0, 80 - len(module)) + "\n" + body + "\n")
    parts.append('\n\nif __name__ == "__main__":\n    sys.exit(main())\n')
    return "".join(parts)


def build_script(directory: Path) -> BuiltScript:
    """Write ``qkd_onbox.py`` (0644) and ``qkd_onbox.py.sha256`` into ``directory``."""
    text = bundle_source().encode()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SCRIPT_NAME
    path.write_bytes(text)
    path.chmod(0o644)
    digest = hashlib.sha256(text).hexdigest()
    (directory / f"{SCRIPT_NAME}.sha256").write_text(f"{digest}  {SCRIPT_NAME}\n")
    return BuiltScript(path, digest, len(text))
