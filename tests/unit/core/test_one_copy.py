"""One copy of each rotation rule: the on-box script bundles the core as it is, the artifact
defines none of the core's names, no function body appears twice in the bundle or between the
bundle and the off-box modules, and the off-box names are (or call) the core's own objects."""

from __future__ import annotations

import ast
import copy
from importlib import resources

import pytest

from qkd_macsec.core import derive, etsi014_wire, key_ids, private_files, schedule, slots
from qkd_macsec.devices import junos_names, junos_parse, junos_render, junos_setlines, junos_time
from qkd_macsec.engine import planner
from qkd_macsec.etsi014 import models, responses
from qkd_macsec.macsec import keys
from qkd_macsec.onbox import build
from qkd_macsec.onbox import config as onbox_config
from qkd_macsec.onbox.artifact import kme, runtime, settings, state
from qkd_macsec.pki import files

SHARED = [m for m in build.MODULE_ORDER if not m.startswith(build.ARTIFACT_PACKAGE + ".")]
ARTIFACT = [m for m in build.MODULE_ORDER if m.startswith(build.ARTIFACT_PACKAGE + ".")]
#: Off-box modules that used to hold a copy of a rule the core now owns.
OFF_BOX = [
    "qkd_macsec.engine.planner",
    "qkd_macsec.macsec.keys",
    "qkd_macsec.etsi014.models",
    "qkd_macsec.etsi014.responses",
    "qkd_macsec.pki.files",
    "qkd_macsec.devices.junos_names",
    "qkd_macsec.devices.junos_parse",
    "qkd_macsec.devices.junos_render",
    "qkd_macsec.onbox.config",
]


def _tree(module: str) -> ast.Module:
    package, leaf = module.rsplit(".", 1)
    return ast.parse(resources.files(package).joinpath(f"{leaf}.py").read_text(encoding="utf-8"))


class _Placeholders(ast.NodeTransformer):
    """Arguments renamed to their position, so a copy with renamed parameters still matches."""

    def __init__(self, names: list[str]) -> None:
        self.names = {name: f"_arg{i}" for i, name in enumerate(names)}

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name(self.names.get(node.id, node.id), node.ctx)


def _bodies(tree: ast.Module, where: str) -> list[tuple[str, str]]:
    """(where:function, normalised body) of every function with more than one statement."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]  # the docstring may differ; the logic is what must not repeat
            if len(body) > 1 or (body and not isinstance(body[0], ast.Return | ast.Raise)):
                args = [
                    a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)
                ]
                renamed = _Placeholders(args).visit(ast.Module(copy.deepcopy(body), []))
                found.append((f"{where}:{node.name}", ast.dump(renamed)))
    return found


@pytest.fixture(scope="module")
def bundle() -> ast.Module:
    return ast.parse(build.bundle_source())


def test_the_bundle_holds_every_shared_module_once(bundle: ast.Module) -> None:
    text = build.bundle_source()
    for module in SHARED:
        assert text.count(f"# ---- {module} ") == 1, module
    defined: list[str] = []
    for node in bundle.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            defined.append(node.name)
    for module in SHARED:
        for name in build.defined_names(_tree(module)):
            if not name.startswith("__"):
                assert name in defined or name in _assigned(bundle), (module, name)
    assert len(defined) == len(set(defined))
    for rule in ("next_free_slot", "link_due", "ckn_for", "cak_bytes_for", "canonical_key_id"):
        assert defined.count(rule) == 1
    for rule in ("write_atomic", "parse_start_time", "start_time_text", "key_entry_lines"):
        assert defined.count(rule) == 1


def _assigned(tree: ast.Module) -> set[str]:
    return {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


def test_artifact_sources_define_none_of_the_core_names() -> None:
    shared = set().union(*(build.defined_names(_tree(m)) for m in SHARED))
    for module in ARTIFACT:
        clash = build.defined_names(_tree(module)) & shared
        assert not clash, f"{module} defines {sorted(clash)} again"


def test_no_function_body_is_written_twice() -> None:
    """Across the bundled modules and the off-box modules that had copies: no two functions with
    the same logic (renamed copies included: only the bodies are compared)."""
    seen: dict[str, str] = {}
    twice = []
    for module in dict.fromkeys([*build.MODULE_ORDER, *OFF_BOX]):
        for where, body in _bodies(_tree(module), module):
            if body in seen:
                twice.append((seen[body], where))
            seen.setdefault(body, where)
    assert twice == []


def test_the_checker_sees_a_renamed_copy() -> None:
    source = (
        "def a(x):\n    y = x + 1\n    return y\n\n"
        'def b(z):\n    """Doc."""\n    y = z + 1\n    return y\n\n'
        "def c(x):\n    y = x + 2\n    return y\n"
    )
    (_, a), (_, b), (_, c) = _bodies(ast.parse(source), "m")
    assert a == b
    assert a != c


def test_off_box_names_are_the_core_objects() -> None:
    assert models.canonical_key_id is key_ids.canonical_key_id
    assert keys.validate_ckn_prefix is derive.checked_ckn_prefix
    assert keys.DEFAULT_CKN_PREFIX is derive.DEFAULT_CKN_PREFIX
    assert files.write_atomic is private_files.write_atomic
    assert responses.decode_key is etsi014_wire.decode_key
    assert responses.key_id_problem is etsi014_wire.key_id_problem
    assert junos_names.wall_clock_text is junos_time.wall_clock_text
    assert junos_parse.parse_start_time_epoch is junos_time.parse_start_time
    assert junos_render.key_entry_lines is junos_setlines.key_entry_lines
    # on-box config renders through the platform renderer, which uses the same set lines
    assert onbox_config.get_platform("junos").render is junos_render.render
    assert junos_render.ca_lines is junos_setlines.ca_lines
    assert junos_names.MAX_SLOT == junos_setlines.KEY_CHAIN_SLOTS - 1 == planner.SLOTS - 1
    # the wrappers that adapt a signature call the core rule
    assert planner.next_free_slot is slots.next_free_slot
    assert "next_free_slot" in planner.next_slot.__code__.co_names
    assert planner.backoff_delay is schedule.retry_delay
    assert "backoff_delay" in planner.plan_link.__code__.co_names
    assert keys.cak_bytes_for is derive.cak_bytes_for
    assert keys.ckn_for is derive.ckn_for


def test_the_artifact_runs_on_the_core_objects() -> None:
    assert runtime.link_due is schedule.link_due
    assert runtime.next_free_slot is slots.next_free_slot
    assert runtime.slots_to_prune is slots.slots_to_prune
    assert runtime.ckn_for is derive.ckn_for
    assert runtime.keyid_is_stale is key_ids.keyid_is_stale
    assert runtime.parse_start_time is junos_time.parse_start_time
    assert runtime.key_entry_lines is junos_setlines.key_entry_lines
    assert state.write_atomic is private_files.write_atomic
    assert kme.decode_key is etsi014_wire.decode_key
    assert settings.DEFAULT_CKN_PREFIX is derive.DEFAULT_CKN_PREFIX


NEWER_THAN_JUNOS = {("datetime", "UTC"), ("enum", "StrEnum"), ("typing", "Self")}
OLDEST_JUNOS_PYTHON = (3, 7)


@pytest.mark.parametrize("module", build.MODULE_ORDER)
def test_bundled_modules_run_on_an_older_python(module: str) -> None:
    """No syntax, names or keywords newer than the Python a router may run."""
    source = resources.files(module.rsplit(".", 1)[0]).joinpath(build._file(module)).read_text()
    tree = ast.parse(source, feature_version=OLDEST_JUNOS_PYTHON)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                assert (node.module, alias.name) not in NEWER_THAN_JUNOS, (module, alias.name)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in NEWER_THAN_JUNOS, (module, node.attr)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "zip":
            assert not node.keywords, f"{module}:{node.lineno}: zip(strict=) needs 3.10"


@pytest.mark.parametrize("module", SHARED)
def test_shared_modules_import_only_down(module: str) -> None:
    """Standard library (and, for the Junos modules, the core and each other) only."""
    tree = _tree(module)
    layer = "qkd_macsec.core." if module.startswith("qkd_macsec.core.") else "qkd_macsec."
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("qkd_macsec."):
            assert str(node.module).startswith(layer), f"{module} imports {node.module}"
            assert node.module in SHARED, f"{module} imports {node.module}"
    assert ast.get_docstring(tree), f"{module} says why it exists"
