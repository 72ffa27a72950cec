"""Bundle the on-box runtime into the single script a router runs.

Junos runs one ``.py`` file with its own Python 3: standard library, ``jnpr.junos``, ``lxml``,
``requests`` and ``jcs`` only. The script is the rotation core (``qkd_macsec.core``), the
standard-library Junos modules (``devices.junos_time``, ``.junos_setlines``, ``.junos_xml``) and the
on-box runtime (``onbox/artifact/``), each copied as it is: the engine and the router run the
same rule code. The bundler checks every import of every bundled module against that list (so a
stray ``import cryptography`` fails the build, not the router), strips the imports between
bundled modules (only ``from <bundled module> import name`` at top level, unaliased, from a
module earlier in the order, of a name that module defines), checks top-level names do not
collide, and concatenates the modules in dependency order under one ``from __future__`` line.
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
#: Every bundled module, in dependency order (a module imports only from modules above it).
MODULE_ORDER = (
    "qkd_macsec.core.key_ids",
    "qkd_macsec.core.derive",
    "qkd_macsec.core.slots",
    "qkd_macsec.core.schedule",
    "qkd_macsec.core.private_files",
    "qkd_macsec.core.etsi014_wire",
    "qkd_macsec.devices.junos_xml",
    "qkd_macsec.devices.junos_time",
    "qkd_macsec.devices.junos_setlines",
    f"{ARTIFACT_PACKAGE}.settings",
    f"{ARTIFACT_PACKAGE}.state",
    f"{ARTIFACT_PACKAGE}.share_file",
    f"{ARTIFACT_PACKAGE}.handoff",
    f"{ARTIFACT_PACKAGE}.kme",
    f"{ARTIFACT_PACKAGE}.junos_io",
    f"{ARTIFACT_PACKAGE}.runtime",
    f"{ARTIFACT_PACKAGE}.main",
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
    package, leaf = module.rsplit(".", 1)
    return resources.files(package).joinpath(f"{leaf}.py").read_text(encoding="utf-8")


def _file(module: str) -> str:
    return module.rsplit(".", 1)[-1] + ".py"


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        return ["." * node.level + (node.module or "")]
    return [node.module or ""]


def check_imports(
    module: str, tree: ast.Module, before: tuple[str, ...] = MODULE_ORDER
) -> list[tuple[int, int]]:
    """Validate every import; return the (first, last) line ranges of the imports to strip.

    ``before``: the bundled modules ``module`` may import from (those earlier in the order).
    """
    strip: list[tuple[int, int]] = []
    top_level = set(map(id, tree.body))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        for name in _imported(node):
            where = f"{module}:{node.lineno}"
            lines = (node.lineno, node.end_lineno or node.lineno)
            if name.startswith("."):
                raise BuildError(f"{where}: relative import {name!r} (use the full package path)")
            if name == "__future__":
                strip.append(lines)
            elif name in MODULE_ORDER:
                _check_bundled_import(where, name, node, id(node) in top_level, before)
                strip.append(lines)
            elif not allowed_module(name):
                raise BuildError(f"{where}: {name!r} is not available on Junos")
    return strip


def _check_bundled_import(
    where: str,
    name: str,
    node: ast.Import | ast.ImportFrom,
    top_level: bool,
    before: tuple[str, ...],
) -> None:
    """An import between bundled modules must still mean the same once it is stripped."""
    if not top_level:
        raise BuildError(f"{where}: import of bundled module {name} must be at top level")
    if isinstance(node, ast.Import):
        raise BuildError(f"{where}: 'import {name}' (write 'from {name} import ...')")
    aliased = [a.name for a in node.names if a.asname is not None and a.asname != a.name]
    if aliased or any(a.name == "*" for a in node.names):
        raise BuildError(
            f"{where}: aliased or star import from {name} ({', '.join(aliased) or '*'}) would "
            "break once the bundle strips it"
        )
    if name not in before:
        raise BuildError(f"{where}: {name} comes later in the bundle (see MODULE_ORDER)")


def defined_names(tree: ast.Module) -> set[str]:
    """The names a module defines at top level (functions, classes, assignments)."""
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
    for index, module in enumerate(MODULE_ORDER):
        text = _source(module)
        try:
            tree = ast.parse(text, filename=_file(module))
        except SyntaxError as exc:
            raise BuildError(f"{module}:{exc.lineno}: {exc.msg}") from None
        strip = check_imports(module, tree, MODULE_ORDER[:index])
        _check_imported_names(module, tree, owner)
        for name in defined_names(tree):
            if name in owner:
                raise BuildError(f"{module}: top-level name {name!r} also defined in {owner[name]}")
            owner[name] = module
        lines = text.splitlines()
        for first, last in strip:
            for line in range(first - 1, last):
                lines[line] = ""
        body = "\n".join(lines).strip("\n")
        label = _file(module) if module.startswith(ARTIFACT_PACKAGE + ".") else module
        parts.append(f"\n# ---- {label} " + "-" * max(0, 80 - len(label)) + "\n" + body + "\n")
    parts.append('\n\nif __name__ == "__main__":\n    sys.exit(main())\n')
    return "".join(parts)


def _check_imported_names(module: str, tree: ast.Module, owner: dict[str, str]) -> None:
    """Each name imported from a bundled module is one that module defines at top level."""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module in MODULE_ORDER:
            for alias in node.names:
                if owner.get(alias.name) != node.module:
                    raise BuildError(
                        f"{module}:{node.lineno}: {node.module} defines no top-level {alias.name!r}"
                    )


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
