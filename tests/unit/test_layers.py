"""Imports only point down: every module of ``qkd_macsec`` imports its own layer or below, no two
packages import each other, and the shipped package never imports test tooling.

Read from the source with ``ast`` (nothing is imported), so every import counts: module level,
inside functions, under ``TYPE_CHECKING`` (a type from a higher layer is a dependency on it all
the same), relative ones, and lazy ones named by a string (``"qkd_macsec.devices.junos:Driver"``).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = "qkd_macsec"

#: Bottom (0) to top (6). A module belongs to the longest entry that is it or a package above it;
#: the package root ``qkd_macsec`` (its ``__version__``) matches itself only, so a new package
#: has to be placed here before its first test run.
LAYERS: dict[str, int] = {
    ROOT: 0,
    f"{ROOT}.secret": 0,
    f"{ROOT}.core": 0,
    f"{ROOT}.obs": 0,
    f"{ROOT}.posture": 0,
    f"{ROOT}.macsec": 1,
    f"{ROOT}.pki": 1,
    f"{ROOT}.etsi014": 1,
    f"{ROOT}.transport": 1,
    f"{ROOT}.hybrid_tls": 1,
    f"{ROOT}.devices": 2,
    f"{ROOT}.kme": 2,
    f"{ROOT}.sim": 2,
    f"{ROOT}.inventory": 3,
    f"{ROOT}.engine": 4,
    f"{ROOT}.onbox": 4,
    f"{ROOT}.preflight": 4,
    f"{ROOT}.certs": 4,
    f"{ROOT}.report": 5,
    f"{ROOT}.testbed": 5,
    f"{ROOT}.cli": 6,
    f"{ROOT}.__main__": 6,
}

#: Importable in the repository, never shipped: the runtime must not depend on them.
NOT_SHIPPED = ("testkit", "tests", "bench", "support")

_LAZY = re.compile(rf"^{ROOT}(\.\w+)+(:\w+)?$")


@dataclass(frozen=True)
class Import:
    importer: str
    line: int
    imported: str

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.imported}"


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules(src: Path = SRC) -> dict[str, Path]:
    return {module_name(p, src): p for p in sorted((src / ROOT).rglob("*.py"))}


def layer_of(module: str) -> int | None:
    if module == ROOT:
        return LAYERS[ROOT]
    best = max(
        (k for k in LAYERS if k != ROOT and (module == k or module.startswith(k + "."))),
        key=len,
        default=None,
    )
    return None if best is None else LAYERS[best]


def _absolute(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(importer: str, source: str, known: set[str], is_package: bool) -> Iterator[Import]:
    """Every module ``source`` imports (``from pkg import mod`` names ``pkg.mod``)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(importer, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(importer, is_package, node)
            for alias in node.names:
                child = f"{module}.{alias.name}"
                yield Import(importer, node.lineno, child if child in known else module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = node.value.partition(":")[0]
            if _LAZY.match(node.value) and name in known:
                yield Import(importer, node.lineno, name)


def all_imports(src: Path = SRC) -> list[Import]:
    modules = package_modules(src)
    known = set(modules)
    found: list[Import] = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        found += imports_of(name, path.read_text(encoding="utf-8"), known, is_package)
    return found


def upward(imports: list[Import]) -> list[str]:
    problems: list[str] = []
    for imp in imports:
        if imp.imported != ROOT and not imp.imported.startswith(ROOT + "."):
            continue
        low, high = layer_of(imp.importer), layer_of(imp.imported)
        if low is None or high is None:
            continue  # reported by the test that every module has a layer
        problem = f"{imp} (layer {low} imports layer {high})"
        if high > low and problem not in problems:
            problems.append(problem)
    return problems


def package_of(module: str) -> str:
    """The table entry a module belongs to: the node of the package graph."""
    if module == ROOT:
        return ROOT
    return max(
        (k for k in LAYERS if k != ROOT and (module == k or module.startswith(k + "."))),
        key=len,
        default=module,
    )


def cycles(imports: list[Import]) -> list[list[str]]:
    """Loops between packages: for each import ``a -> b`` that ``b`` leads back from, the
    shortest way round (each loop once)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in imports:
        if imp.imported == ROOT or imp.imported.startswith(ROOT + "."):
            a, b = package_of(imp.importer), package_of(imp.imported)
            if a != b:
                graph[a].add(b)

    def way(start: str, goal: str) -> list[str] | None:
        paths, seen = deque([[start]]), {start}
        while paths:
            path = paths.popleft()
            if path[-1] == goal:
                return path
            for nxt in sorted(graph[path[-1]] - seen):
                seen.add(nxt)
                paths.append([*path, nxt])
        return None

    found: dict[frozenset[str], list[str]] = {}
    for a in sorted(graph):
        for b in sorted(graph[a]):
            back = way(b, a)
            if back is not None:
                found.setdefault(frozenset(back), [a, *back])
    return list(found.values())


# ------------------------------------------------------------------------------ the tree
def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in package_modules() if layer_of(m) is None]
    assert not unplaced, f"not in the layer table of {__name__}: {unplaced}"


def test_imports_point_down() -> None:
    problems = upward(all_imports())
    assert not problems, "imports pointing up:\n" + "\n".join(problems)


def test_no_two_packages_import_each_other() -> None:
    loops = cycles(all_imports())
    assert not loops, "import loops between packages:\n" + "\n".join(" -> ".join(c) for c in loops)


def test_the_package_never_imports_test_tooling() -> None:
    bad = [str(imp) for imp in all_imports() if imp.imported.split(".")[0] in NOT_SHIPPED]
    assert not bad, "the shipped package imports test tooling:\n" + "\n".join(bad)


def test_test_tooling_is_not_inside_the_package() -> None:
    assert not (SRC / ROOT / "testbed" / "chaos").exists()
    assert not (SRC / ROOT / "onbox" / "harness.py").exists()


# ------------------------------------------------------------------------------ the checker
def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """A source tree of ``files`` under ``qkd_macsec/``; each directory is a package."""
    for name, text in files.items():
        path = tmp_path / ROOT / name
        for directory in [*reversed(path.parents[: len(Path(name).parts)])]:
            directory.mkdir(exist_ok=True)
            (directory / "__init__.py").touch()
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("from qkd_macsec.engine.journal import Journal\n", 1),
        ("import qkd_macsec.engine.journal\n", 1),
        ("def later() -> None:\n    from qkd_macsec.engine import journal\n", 2),
        (
            "from typing import TYPE_CHECKING\n\n"
            "if TYPE_CHECKING:\n    from ..engine import journal\n",
            4,
        ),
        ('LAZY = "qkd_macsec.engine.journal:Journal"\n', 1),
    ],
)
def test_the_checker_names_module_line_and_target_of_an_upward_import(
    tmp_path: Path, source: str, line: int
) -> None:
    src = _tree(
        tmp_path,
        {"obs/leaf.py": source, "engine/journal.py": ""},
    )
    assert upward(all_imports(src)) == [
        f"qkd_macsec.obs.leaf:{line} imports qkd_macsec.engine.journal (layer 0 imports layer 4)"
    ]


def test_the_checker_allows_same_layer_and_downward_imports(tmp_path: Path) -> None:
    src = _tree(
        tmp_path,
        {
            "secret.py": "",
            "engine/a.py": "from . import b\nfrom qkd_macsec import secret\n",
            "engine/b.py": "from qkd_macsec.onbox import deploy\n",
            "onbox/deploy.py": "",
        },
    )
    assert upward(all_imports(src)) == []


def test_the_checker_finds_a_loop_between_packages(tmp_path: Path) -> None:
    src = _tree(
        tmp_path,
        {
            "engine/__init__.py": "from qkd_macsec.onbox import deploy\n",
            "onbox/deploy.py": "def f():\n    import qkd_macsec.engine\n",
        },
    )
    assert cycles(all_imports(src)) == [
        ["qkd_macsec.engine", "qkd_macsec.onbox", "qkd_macsec.engine"]
    ]
