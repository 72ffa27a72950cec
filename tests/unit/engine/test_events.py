"""The event stream: each transition emitted once, in order, to every observer; a broken
display or metrics observer changes nothing, a broken journal stops the wave."""

from __future__ import annotations

import itertools
import logging
import re
from collections import Counter
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

import pytest

from qkd_macsec.core.phases import Phase, is_legal
from qkd_macsec.devices.base import MacsecBinding
from qkd_macsec.engine.events import (
    DeviceStaged,
    DeviceStageFailed,
    EndMarked,
    Event,
    EventStream,
    KeysFetched,
    PhaseChanged,
    ProgressStep,
    RotationBegun,
    StagingBegun,
    Verified,
    WaveBegun,
    WaveDone,
    WaveStep,
)
from qkd_macsec.engine.executor import ExecutorOptions, RotationExecutor
from qkd_macsec.engine.journal import Journal
from qkd_macsec.engine.journal_sql import Db
from qkd_macsec.engine.observers import CrashPoints
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


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)


class Broken:
    def __init__(self) -> None:
        self.calls = 0

    def on_event(self, event: Event) -> None:
        self.calls += 1
        raise RuntimeError("display bug")


class Stop(BaseException):
    pass


def binding(link: LinkSpec, end: EndSpec) -> list[MacsecBinding]:
    return [MacsecBinding(i, link.ca, link.suite, link.key_chain) for i in end.interfaces]


def executor_for(
    tmp_path: Path, net: FakeNetwork, journal: Journal | None = None, **kw: object
) -> RotationExecutor:
    links = [
        make_link("l1", "r1", "r2"),
        make_link("l2", "r1", "r3", chain="KC2", interface="et-0/0/2"),
    ]
    return RotationExecutor(
        links,
        journal or Journal(tmp_path / "j.sqlite"),
        FakeKeys(),
        net.driver,
        binding_for=binding,
        options=FAST,
        **kw,  # type: ignore[arg-type]
    )


# -- the dispatcher ----------------------------------------------------------------------------
def test_every_observer_gets_each_event_once_in_order() -> None:
    stream, first, second = EventStream(), Recorder(), Recorder()
    stream.subscribe(first, critical=True)
    stream.subscribe(second)
    sent: list[Event] = [ProgressStep("keys", i, 3) for i in (1, 2, 3)]
    for event in sent:
        stream.emit(event)
    assert first.events == sent
    assert second.events == sent
    assert all(a is b for a, b in zip(first.events, sent, strict=True))


def test_a_failing_best_effort_observer_is_logged_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream, broken, after = EventStream(), Broken(), Recorder()
    stream.subscribe(broken)
    stream.subscribe(after)
    with caplog.at_level(logging.WARNING):
        stream.emit(ProgressStep("keys", 1, 1))
        stream.emit(ProgressStep("keys", 2, 2))
    assert broken.calls == 2
    assert len(after.events) == 2  # the observers after it still hear every event
    assert "observer Broken failed on ProgressStep" in caplog.text


def test_a_failing_critical_observer_stops_the_emitter() -> None:
    stream, after = EventStream(), Recorder()
    stream.subscribe(Broken(), critical=True)
    stream.subscribe(after)
    with pytest.raises(RuntimeError, match="display bug"):
        stream.emit(ProgressStep("keys", 1, 1))
    assert after.events == []


def test_a_base_exception_always_propagates_and_observing_unsubscribes() -> None:
    class Crashing:
        def on_event(self, event: Event) -> None:
            raise Stop

    stream = EventStream()
    with stream.observing(Crashing()), pytest.raises(Stop):  # best-effort, still propagates
        stream.emit(ProgressStep("keys", 1, 1))
    stream.emit(ProgressStep("keys", 1, 1))  # unsubscribed: nothing raises


# -- the executor's stream ------------------------------------------------------------------------
def _key(event: Event) -> tuple[object, ...]:
    """What identifies one transition: its kind and what it is about."""
    if isinstance(event, EndMarked):
        return (type(event).__name__, event.link, event.device, event.staged, event.removed)
    if isinstance(event, PhaseChanged):
        return (type(event).__name__, event.link, event.phase)
    if isinstance(event, DeviceStaged | DeviceStageFailed):
        return (type(event).__name__, event.device)
    if isinstance(event, ProgressStep):
        return (type(event).__name__, event.step, event.done)
    if isinstance(event, WaveStep):
        return (type(event).__name__, event.step)
    return (type(event).__name__, getattr(event, "link", None))


def _phases(events: list[Event], link: str) -> list[Phase]:
    out = []
    for e in events:
        if getattr(e, "link", None) != link:
            continue
        if isinstance(e, RotationBegun):
            out.append(Phase.PLANNED)
        elif isinstance(e, KeysFetched):
            out.append(Phase.KEYS)
        elif isinstance(e, StagingBegun):
            out.append(Phase.STAGING)
        elif isinstance(e, PhaseChanged):
            out.append(e.phase)
        elif isinstance(e, Verified):
            out.append(Phase.ACTIVE)
    return out


async def test_a_wave_emits_each_transition_once_in_order(tmp_path: Path) -> None:
    net, seen = FakeNetwork(), Recorder()
    executor = executor_for(tmp_path, net, observers=[seen])
    try:
        result = await executor.run_wave(executor.plan())
    finally:
        executor.close()
    assert result.ok, result.failed_links
    events = seen.events
    assert isinstance(events[0], WaveBegun)
    assert events[0].result is result
    assert isinstance(events[-1], WaveDone)
    assert events[-1].result is result
    duplicates = [k for k, n in Counter(map(_key, events)).items() if n > 1]
    assert duplicates == []
    steps = [e.step for e in events if isinstance(e, WaveStep)]
    assert steps == ["planned", "keys", "staging", "staged"]
    for link in ("l1", "l2"):
        assert _phases(events, link) == [
            Phase.PLANNED,
            Phase.KEYS,
            Phase.STAGING,
            Phase.STAGED,
            Phase.ACTIVE,
        ]
        # both ends marked staged after STAGING was announced and before STAGED
        kinds = [_key(e) for e in events if getattr(e, "link", None) == link]
        staging = kinds.index(("StagingBegun", link))
        staged = kinds.index(("PhaseChanged", link, Phase.STAGED))
        ends = [i for i, k in enumerate(kinds) if k[0] == "EndMarked"]
        assert len(ends) == 2
        assert all(staging < i < staged for i in ends)
    # staging is announced for every link before any device commits
    first_commit = next(i for i, e in enumerate(events) if isinstance(e, DeviceStaged))
    assert events.index(WaveStep(result.wave, "staging")) < first_commit
    assert all(i < first_commit for i, e in enumerate(events) if isinstance(e, StagingBegun))
    # the result tree and the journal followed the same events
    assert all(r.phase is Phase.ACTIVE and r.verified for r in result.rotations.values())
    assert {r.phase for r in executor.journal.rotations()} == {Phase.ACTIVE}


async def test_a_failed_end_emits_its_abort_once_and_every_move_is_legal(tmp_path: Path) -> None:
    net, seen = FakeNetwork(), Recorder()
    executor = executor_for(tmp_path, net, observers=[seen])
    try:
        assert (await executor.run_wave(executor.plan())).ok
        net.router("r2").fail_next_commits = 1
        seen.events.clear()
        result = await executor.run_wave(executor.plan(force=["l1", "l2"]))
    finally:
        executor.close()
    assert result.failed_links == ["l1"]
    failed = [e for e in seen.events if isinstance(e, DeviceStageFailed)]
    assert [e.device for e in failed] == ["r2"]
    assert _phases(seen.events, "l1") == [
        Phase.PLANNED,
        Phase.KEYS,
        Phase.STAGING,
        Phase.ABORTING,
        Phase.ABORTED,
    ]
    for link in ("l1", "l2"):
        moves = _phases(seen.events, link)
        assert all(is_legal(a, b) for a, b in itertools.pairwise(moves)), moves
    removed = [e for e in seen.events if isinstance(e, EndMarked) and e.removed]
    assert [(e.link, e.device) for e in removed] == [("l1", "r1")]
    assert result.rotations["l1"].phase is Phase.ABORTED
    assert "injected commit failure" in (result.rotations["l1"].error or "")
    assert result.devices["r2"].ok is False


async def test_a_failing_display_observer_does_not_stop_a_wave(tmp_path: Path) -> None:
    net, broken = FakeNetwork(), Broken()
    executor = executor_for(tmp_path, net, observers=[broken])
    try:
        result = await executor.run_wave(executor.plan())
    finally:
        executor.close()
    assert result.ok, result.failed_links
    assert broken.calls > 10  # it was told every event, and failed on every one
    assert {r.phase for r in executor.journal.rotations()} == {Phase.ACTIVE}
    assert net.active_ckn("r1", "et-0/0/1") == net.active_ckn("r2", "et-0/0/1") is not None


class StagingFails(Journal):
    """A journal that cannot record STAGING (a full disk, say)."""

    def record_staging(
        self,
        rid: int,
        *,
        slot: int | None,
        start_time: datetime | None,
        now: datetime | None = None,
    ) -> None:
        raise OSError("disk full")


async def test_a_failing_journal_observer_stops_the_wave_before_any_device(
    tmp_path: Path,
) -> None:
    net, seen = FakeNetwork(), Recorder()
    journal = StagingFails(tmp_path / "j.sqlite")
    executor = executor_for(tmp_path, net, journal, observers=[seen])
    try:
        with pytest.raises(OSError, match="disk full"):
            await executor.run_wave(executor.plan())
    finally:
        executor.close()
    # the STAGING write announces the device action: it failed, so no device was touched,
    # and no observer after the journal heard of a staging that was never recorded
    assert all(r.commits == 0 for r in net.routers.values())
    assert not any(isinstance(e, StagingBegun | DeviceStaged) for e in seen.events)
    assert {r.phase for r in journal.rotations()} == {Phase.KEYS}


# -- one place for each rule ----------------------------------------------------------------------
SRC = Path(__file__).resolve().parents[3] / "src" / "qkd_macsec"
JOURNAL_WRITES = re.compile(
    r"\.journal\.(record_keys|record_staging|mark_end|set_phase|note|set_meta|set_meta_many)\("
)


def test_the_executor_writes_the_journal_and_results_only_through_its_events() -> None:
    source = (SRC / "engine" / "executor.py").read_text()
    assert JOURNAL_WRITES.findall(source) == []
    assert JOURNAL_WRITES.findall((SRC / "engine" / "recovery.py").read_text()) == []
    assert re.findall(r"\b(?:rr|dr)\.(?:phase|error|verified|unreachable)\s*=", source) == []
    assert "crash_hook" not in source
    assert "progress(" not in source


def test_no_caller_branches_on_the_key_mode_itself() -> None:
    """Every difference between the modes is asked of the mode's strategy (core/key_modes)."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if "core" in path.parts or "artifact" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"mode (?:is|is not|==|!=) (?:KeyMode|RotationMode)\.", line):
                offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert offenders == []


def _journalled(journal: Journal, link: str) -> list[tuple[str, object]]:
    """The newest rotation of ``link`` as journal events: kind, and the END's device/flags."""
    (record,) = journal.rotations(link, limit=1)
    out: list[tuple[str, object]] = []
    for _, kind, detail in journal.events(record.id):
        if kind == "END":
            out.append((kind, (detail["device"], detail["staged"], detail["removed"])))
        else:
            out.append((kind, None))
    return out


async def test_journal_writes_keep_their_order(tmp_path: Path) -> None:
    """The order recovery relies on: STAGING before any device, each end marked as it commits,
    the abort announced before the undo, the removal recorded before ABORTED."""
    net = FakeNetwork()
    executor = executor_for(tmp_path, net)
    try:
        assert (await executor.run_wave(executor.plan())).ok
        staged = _journalled(executor.journal, "l1")
        assert [k for k, _ in staged] == [
            "PLANNED",
            "KEYS",
            "STAGING",
            "END",
            "END",
            "STAGED",
            "ACTIVE",
        ]
        assert {e for k, e in staged if k == "END"} == {("r1", True, None), ("r2", True, None)}

        net.router("r2").fail_next_commits = 1
        await executor.run_wave(executor.plan(force=["l1"]))
        assert _journalled(executor.journal, "l1") == [
            ("PLANNED", None),
            ("KEYS", None),
            ("STAGING", None),
            ("END", ("r1", True, None)),
            ("ABORTING", None),
            ("END", ("r1", True, None)),  # the undo found it there...
            ("END", ("r1", None, True)),  # ... and removed it
            ("ABORTED", None),
        ]
    finally:
        executor.close()


async def test_recovery_journals_through_the_same_observers(tmp_path: Path) -> None:
    net = FakeNetwork()
    executor = executor_for(tmp_path, net)
    assert (await executor.run_wave(executor.plan())).ok

    def crash(point: str) -> None:
        raise Stop(point)

    executor.events.subscribe(CrashPoints("stage:r1", crash))
    with pytest.raises(Stop):
        await executor.run_wave(executor.plan(force=["l1", "l2"]))
    executor.close()

    seen = Recorder()
    restarted = executor_for(tmp_path, net, observers=[seen])
    try:
        outcome = await recover(restarted)
    finally:
        restarted.close()
    assert outcome.still_open == {}
    assert restarted.journal.open_rotations() == []
    closing = {
        (e.link, e.phase)
        for e in seen.events
        if isinstance(e, PhaseChanged) and e.phase in (Phase.ABORTED, Phase.ACTIVE)
    } | {(e.link, Phase.ACTIVE) for e in seen.events if isinstance(e, Verified)}
    assert {link for link, _ in closing} == {"l1", "l2"}  # every open rotation, told once each
    newest = {r.link: r.phase for r in restarted.journal.rotations(limit=2)}
    assert {(link, phase) for link, phase in newest.items()} <= closing


class CountingJournal(Journal):
    """Counts the journal's write transactions (each one a sync to disk)."""

    transactions = 0

    def _tx(self) -> AbstractContextManager[Db]:
        self.transactions += 1
        return super()._tx()


async def test_a_waves_per_link_writes_of_one_step_share_one_transaction(
    tmp_path: Path,
) -> None:
    net = FakeNetwork()
    links = [
        make_link(f"l{i}", "r1", "r2", chain=f"KC{i}", interface=f"et-0/0/{i}") for i in range(8)
    ]
    journal = CountingJournal(tmp_path / "j.sqlite")
    executor = RotationExecutor(
        links, journal, FakeKeys(), net.driver, binding_for=binding, options=FAST
    )
    try:
        result = await executor.run_wave(executor.plan())
    finally:
        executor.close()
    assert result.ok, result.failed_links
    events = journal.events()
    # open, keys, start-times, both routers' ends, the decision, verification, latencies: a
    # fixed number of steps, not five or more writes per link (8 links: 50+ events)
    assert len(events) >= 8 * 5
    assert journal.transactions <= 12
    assert {r.phase for r in journal.rotations()} == {Phase.ACTIVE}
