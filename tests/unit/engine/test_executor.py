"""Executor logic against in-memory fakes: success, partial stage failure undone, recovery."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.devices.base import MacsecBinding
from qkd_macsec.engine.deadlines import LATENCY_META
from qkd_macsec.engine.events import ProgressStep
from qkd_macsec.engine.executor import ExecutorOptions, RotationExecutor
from qkd_macsec.engine.journal import Journal, Phase
from qkd_macsec.engine.observers import CrashPoints, on
from qkd_macsec.engine.recovery import recover
from qkd_macsec.engine.topology import EndSpec, LinkSpec
from support.engine_fakes import FakeKeys, FakeNetwork, make_link

FAST = ExecutorOptions(
    max_workers=4,
    min_activation_delay=0.3,
    clock_tolerance=0.0,
    verify_grace=0.05,
    verify_timeout=3.0,
    verify_interval=0.05,
    initial_session_estimate=0.05,
)


def binding(link: LinkSpec, end: EndSpec) -> list[MacsecBinding]:
    return [MacsecBinding(i, link.ca, link.suite, link.key_chain) for i in end.interfaces]


def make_executor(
    tmp_path: Path, net: FakeNetwork, keys: FakeKeys, **kw: object
) -> RotationExecutor:
    links = [
        make_link("l1", "r1", "r2"),
        make_link("l2", "r1", "r3", chain="KC2", interface="et-0/0/2"),
    ]
    return RotationExecutor(
        links,
        Journal(tmp_path / "j.sqlite"),
        keys,
        net.driver,
        binding_for=binding,
        options=FAST,
        **kw,  # type: ignore[arg-type]
    )


async def test_two_waves_rotate_and_prune(tmp_path: Path) -> None:
    net, keys = FakeNetwork(), FakeKeys()
    executor = make_executor(tmp_path, net, keys)
    first = await executor.run_wave(executor.plan())
    assert first.ok, first.failed_links
    assert net.routers["r1"].commits == 1  # both links of r1 in ONE commit
    assert {r.reason for r in first.rotations.values()} == {"bootstrap"}
    for wave in range(3):
        result = await executor.run_wave(executor.plan(force=["l1", "l2"]))
        assert result.ok, (wave, result.failed_links)
    assert net.routers["r1"].commits == 4
    # each wave prunes what is older than current + previous: new (3), current (2), previous (1)
    assert set(net.routers["r2"].chains["KC1"]) == {1, 2, 3}
    assert executor.journal.counts() == {"ACTIVE": 8}
    executor.close()


async def test_progress_reports_every_step(tmp_path: Path) -> None:
    net, keys = FakeNetwork(), FakeKeys()
    executor = make_executor(tmp_path, net, keys)
    events: list[tuple[str, int, int]] = []
    executor.events.subscribe(on(ProgressStep, lambda e: events.append((e.step, e.done, e.total))))
    assert (await executor.run_wave(executor.plan())).ok
    assert [e for e in events if e[0] == "keys"] == [("keys", 1, 2), ("keys", 2, 2)]
    assert [e[1:] for e in events if e[0] == "staged"] == [(1, 3), (2, 3), (3, 3)]
    assert events[-1] == ("verified", 2, 2)
    executor.close()


async def test_failed_end_is_undone_before_activation(tmp_path: Path) -> None:
    net, keys = FakeNetwork(), FakeKeys()
    executor = make_executor(tmp_path, net, keys)
    assert (await executor.run_wave(executor.plan())).ok
    before = {name: dict(r.chains) for name, r in net.routers.items()}
    net.router("r2").fail_next_commits = 1
    result = await executor.run_wave(executor.plan(force=["l1"]))
    assert result.failed_links == ["l1"]
    assert result.rotations["l1"].phase is Phase.ABORTED
    assert "injected commit failure" in (result.rotations["l1"].error or "")
    # r1 got the entry in its wave commit, then had it removed again: same chain as before
    assert net.routers["r1"].chains["KC1"] == before["r1"]["KC1"]
    assert net.active_ckn("r1", "et-0/0/1") == net.active_ckn("r2", "et-0/0/1")
    executor.close()


async def test_commit_that_may_have_landed_is_undone_too(tmp_path: Path) -> None:
    net, keys = FakeNetwork(), FakeKeys()
    executor = make_executor(tmp_path, net, keys)
    assert (await executor.run_wave(executor.plan())).ok
    before = {name: {c: dict(e) for c, e in r.chains.items()} for name, r in net.routers.items()}
    # r1 measured slow: giving r1 the entry back would take longer than undoing it on r2, so
    # the engine undoes (with both fakes at ~0 s the choice between the two was a coin toss)
    executor.journal.set_meta(LATENCY_META + "r1", {"session": [1.0], "commit": [0.5]})
    net.router("r2").lose_next_reply = 1  # r2 commits, but the controller never hears so
    result = await executor.run_wave(executor.plan(force=["l1"]))
    assert result.rotations["l1"].phase is Phase.ABORTED
    # the entry r2 did commit was removed as well: both ends exactly as before the wave
    assert net.routers["r2"].chains == before["r2"]
    assert net.routers["r1"].chains == before["r1"]
    executor.close()


async def test_key_fetch_failure_touches_no_device(tmp_path: Path) -> None:
    net, keys = FakeNetwork(), FakeKeys()
    keys.fail.add("l1")
    executor = make_executor(tmp_path, net, keys)
    result = await executor.run_wave(executor.plan())
    assert result.rotations["l1"].phase is Phase.ABORTED
    assert result.rotations["l2"].ok
    assert "KC1" not in net.router("r2").chains
    executor.close()


class Crash(BaseException):
    pass


@pytest.mark.parametrize("point", ["planned", "keys", "staging", "stage:r1", "stage:r2", "staged"])
async def test_crash_at_each_phase_is_recovered(tmp_path: Path, point: str) -> None:
    net, keys = FakeNetwork(), FakeKeys()
    executor = make_executor(tmp_path, net, keys)
    assert (await executor.run_wave(executor.plan())).ok
    executor.close()

    def crash(name: str) -> None:
        raise Crash(name)

    crashing = make_executor(tmp_path, net, keys, observers=[CrashPoints(point, crash)])
    with pytest.raises(Crash):
        await crashing.run_wave(crashing.plan(force=["l1", "l2"]))
    crashing._pool.shutdown(wait=True)

    restarted = make_executor(tmp_path, net, keys)
    outcome = await recover(restarted)
    assert outcome.still_open == {}
    assert restarted.journal.open_rotations() == []
    # every link ends on one key both ends share, and the next wave works
    for device, interface in (("r2", "et-0/0/1"), ("r3", "et-0/0/2")):
        assert net.active_ckn(device, interface) is not None
        assert net.active_ckn("r1", interface) == net.active_ckn(device, interface)
    result = await restarted.run_wave(restarted.plan(force=["l1", "l2"]))
    assert result.ok, result.failed_links
    restarted.close()


async def test_bootstrap_is_refused_over_a_chain_that_holds_entries(tmp_path: Path) -> None:
    """Even without reconciliation: the initial config never goes over keys already there."""
    from datetime import UTC, datetime, timedelta

    net, keys = FakeNetwork(), FakeKeys()
    theirs = ("ab" * 32, datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1))
    net.router("r2").chains["KC1"] = {7: theirs}  # someone else's key in force on one end
    executor = make_executor(tmp_path, net, keys)
    result = await executor.run_wave(executor.plan())
    assert result.rotations["l2"].ok
    l1 = result.rotations["l1"]
    assert l1.phase is Phase.ABORTED
    assert "BootstrapRefused" in (l1.error or "")
    assert net.routers["r2"].chains["KC1"] == {7: theirs}  # untouched
    assert "KC1" not in net.routers["r1"].chains or not net.routers["r1"].chains["KC1"]


# -- deadlines: the decision instant and late ends ------------------------------------------
def group_executor(tmp_path: Path, net: FakeNetwork, keys: FakeKeys) -> RotationExecutor:
    """One link r1 (master) -> r2, r3 on one key chain."""
    base = make_link("g", "r1", "r2")
    link = LinkSpec(
        name="g",
        master=base.master,
        slaves=(*base.slaves, EndSpec("r3", ("et-0/0/1",), "r3", "KME_B")),
        ca=base.ca,
        key_chain=base.key_chain,
        suite=base.suite,
        mode=base.mode,
        rotation_interval=base.rotation_interval,
        ckn_prefix=base.ckn_prefix,
        ckn_mode=base.ckn_mode,
    )
    return RotationExecutor(
        [link], Journal(tmp_path / "g.sqlite"), keys, net.driver, binding_for=binding, options=FAST
    )


async def release_after_decision(executor: RotationExecutor, gate: threading.Event) -> float:
    """Let the gated commit land just after the wave's decision instant (when the executor
    journals the link ABORTING); returns that instant."""
    decided = asyncio.Event()
    journal_phase = executor.journal.set_phase

    def spy(rid: int, phase: Phase, **kw: Any) -> None:
        journal_phase(rid, phase, **kw)
        if phase is Phase.ABORTING:
            decided.set()

    executor.journal.set_phase = spy  # type: ignore[method-assign]
    await decided.wait()
    at = time.time()
    await asyncio.sleep(0.05)  # "just after": r2's commit lands while r1's undo runs
    gate.set()
    return at


async def test_a_commit_still_running_at_the_decision_instant_is_undone_everywhere(
    tmp_path: Path,
) -> None:
    """r2's commit has not returned at D: r1 is undone then, without waiting for r2; r3's
    commit failed, so the entry r2 lands later cannot be given to every end: it is removed."""
    net, keys = FakeNetwork(), FakeKeys()
    executor = group_executor(tmp_path, net, keys)
    assert (await executor.run_wave(executor.plan())).ok
    before = {name: {c: dict(e) for c, e in r.chains.items()} for name, r in net.routers.items()}
    gate = threading.Event()
    net.router("r2").commit_gate = gate
    net.router("r3").fail_next_commits = 1
    wave = asyncio.ensure_future(executor.run_wave(executor.plan(force=["g"])))
    decided = await release_after_decision(executor, gate)
    result = await wave
    rotation = result.rotations["g"]
    assert rotation.activation is not None
    assert decided < rotation.activation.timestamp()
    assert rotation.phase is Phase.ABORTED, rotation.error
    assert "late commit on r2, removed" in (rotation.error or "")
    assert {name: r.chains for name, r in net.routers.items()} == before
    events = executor.journal.events(rotation.rotation_id)
    assert [d["device"] for _, kind, d in events if kind == "LATE"] == ["r2"]
    executor.close()


async def test_a_late_end_that_landed_before_t_is_joined_by_its_peer(tmp_path: Path) -> None:
    """r2's commit lands just after D; giving r1 the entry back is faster than undoing r2
    (whose commit just took longer than planned): both switch at T, and the result says so."""
    net, keys = FakeNetwork(), FakeKeys()
    executor = make_executor(tmp_path, net, keys)
    assert (await executor.run_wave(executor.plan())).ok
    gate = threading.Event()
    net.router("r2").commit_gate = gate
    wave = asyncio.ensure_future(executor.run_wave(executor.plan(force=["l1"])))
    await release_after_decision(executor, gate)
    result = await wave
    rotation = result.rotations["l1"]
    assert rotation.ok, rotation.error
    assert any(n.startswith("late commit on r2 landed") for n in rotation.notes), rotation.notes
    assert net.active_ckn("r1", "et-0/0/1") == net.active_ckn("r2", "et-0/0/1") == rotation.ckn
    kinds = [kind for _, kind, _ in executor.journal.events(rotation.rotation_id)]
    assert kinds[-3:] == ["RESTAGED", "STAGED", "ACTIVE"]
    executor.close()
