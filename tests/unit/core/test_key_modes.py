"""The key-mode strategies and the phase rules: what each mode answers, and that the core stays
standard-library only (it is bundled into the on-box event script)."""

from __future__ import annotations

import ast
import itertools
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qkd_macsec.core import key_modes, phases
from qkd_macsec.core.key_modes import KEY_CHAIN, PRE_SHARED_KEY, KeyMode, strategy_for
from qkd_macsec.core.phases import TRANSITIONS, Phase, is_legal

T = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_key_chain_is_undoable_slotted_and_starts_at_activation() -> None:
    s = KeyMode.KEY_CHAIN.strategy
    assert s is KEY_CHAIN
    assert s.mode is KeyMode.KEY_CHAIN
    assert s.uses_key_chain
    assert s.can_undo
    assert s.starts_at_activation
    assert s.start_time(T) == T
    assert s.kept_slots(frozenset({1, 2})) == frozenset({1, 2})
    assert s.diverged(changed_some_ends=True) is False  # undone before T: never diverges
    assert s.key_chain_problem(has_key_chain=True) is None
    assert s.key_chain_problem(has_key_chain=False) == "required in key-chain mode"


def test_pre_shared_key_cannot_be_undone_so_a_partial_change_diverges() -> None:
    s = KeyMode.PRE_SHARED_KEY.strategy
    assert s is PRE_SHARED_KEY
    assert not s.uses_key_chain
    assert not s.can_undo
    assert not s.starts_at_activation
    assert s.start_time(T) is None
    assert s.kept_slots(frozenset({1, 2})) == frozenset()
    assert s.diverged(changed_some_ends=True) is True
    assert s.diverged(changed_some_ends=False) is False
    assert s.key_chain_problem(has_key_chain=False) is None
    assert s.key_chain_problem(has_key_chain=True) == (
        "only used in key-chain mode (mode is pre-shared-key)"
    )


@pytest.mark.parametrize("spelling", ["key-chain", "pre-shared-key"])
def test_modes_read_and_print_as_the_inventory_spells_them(spelling: str) -> None:
    mode = KeyMode(spelling)
    assert strategy_for(spelling) is mode.strategy
    assert str(mode) == spelling
    assert f"{mode}" == spelling
    assert mode == spelling
    with pytest.raises(ValueError, match="in-place"):
        strategy_for("in-place")


def test_phase_moves_follow_the_documented_graph() -> None:
    success = [Phase.PLANNED, Phase.KEYS, Phase.STAGING, Phase.STAGED, Phase.ACTIVE]
    assert all(is_legal(a, b) for a, b in itertools.pairwise(success))
    assert is_legal(Phase.STAGING, Phase.ABORTING)
    assert is_legal(Phase.ABORTING, Phase.ABORTED)
    assert is_legal(Phase.ABORTING, Phase.STAGED)  # a late end landed: peers re-staged
    assert not is_legal(Phase.PLANNED, Phase.STAGED)
    assert not is_legal(Phase.ACTIVE, Phase.ABORTED)
    assert not is_legal(Phase.ABORTED, Phase.ACTIVE)
    assert set(TRANSITIONS) == set(Phase)
    assert {p for p in Phase if not p.is_open} == {Phase.ACTIVE, Phase.ABORTED, Phase.FAILED}
    assert str(Phase.ACTIVE) == "ACTIVE"
    assert f"{Phase.KEYS}" == "KEYS"


def test_old_import_places_are_the_same_objects() -> None:
    from qkd_macsec.engine.journal import Phase as JournalPhase
    from qkd_macsec.engine.planner import KeyMode as PlannerKeyMode

    assert JournalPhase is Phase
    assert PlannerKeyMode is KeyMode


@pytest.mark.parametrize("module", [key_modes, phases])
def test_core_module_imports_only_the_standard_library(module: object) -> None:
    source = Path(module.__file__).read_text()  # type: ignore[attr-defined]
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
    assert "StrEnum" not in source.replace("predates StrEnum", "")  # 3.11-only
