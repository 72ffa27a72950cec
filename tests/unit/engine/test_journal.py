"""Journal: phases survive reopening, open rotations are found, files are private."""

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from qkd_macsec.engine.journal import Journal, Phase

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def test_rotation_lifecycle_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state" / "journal.sqlite"
    journal = Journal(path)
    rid = journal.begin("l1", "w1", [("r1", "et-0/0/1"), ("r2", "et-0/0/2")], reason="due", now=T0)
    journal.record_keys(rid, key_id="kid-1", ckn="ab" * 32, kcv="0011aabb", now=T0)
    start = T0 + timedelta(seconds=30)
    journal.record_staging(rid, slot=3, start_time=start, now=T0)
    journal.mark_end(rid, "r1", staged=True)
    journal.close()

    reopened = Journal(path)
    (record,) = reopened.open_rotations()
    assert record.phase is Phase.STAGING
    assert record.key_id == "kid-1"
    assert record.slot == 3
    assert record.start_time == start
    assert [(e.device, e.staged) for e in record.ends] == [("r1", True), ("r2", False)]
    reopened.mark_end(rid, "r2", staged=True)
    reopened.set_phase(rid, Phase.STAGED)
    reopened.set_phase(rid, Phase.ACTIVE)
    assert reopened.open_rotations() == []
    (active,) = reopened.active_keys("l1")
    assert active.key_id == "kid-1"
    assert active.activated == start
    assert reopened.counts() == {"ACTIVE": 1}
    kinds = [kind for _, kind, _ in reopened.events(rid)]
    assert kinds[:3] == ["PLANNED", "KEYS", "STAGING"]
    assert kinds[-1] == "ACTIVE"


def test_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path)
    journal.begin("l1", "w", [("r1", "et-0/0/1")])
    for candidate in tmp_path.iterdir():
        mode = stat.S_IMODE(os.stat(candidate).st_mode)
        assert mode & 0o077 == 0, f"{candidate.name} is {oct(mode)}"


def test_consecutive_failures_stop_at_success(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    ok = journal.begin("l1", "w1", [("r1", "x")])
    journal.set_phase(ok, Phase.ACTIVE)
    for wave in ("w2", "w3"):
        rid = journal.begin("l1", wave, [("r1", "x")])
        journal.set_phase(rid, Phase.ABORTED, error="boom")
    assert journal.consecutive_failures("l1") == 2
    assert journal.get(rid).error == "boom"


def test_meta_roundtrip(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    assert journal.get_meta("stage_seconds", 5.0) == 5.0
    journal.set_meta("stage_seconds", 1.25)
    journal.set_meta("stage_seconds", 2.5)
    assert journal.get_meta("stage_seconds") == 2.5
