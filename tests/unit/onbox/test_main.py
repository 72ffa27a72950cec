"""The script's entry point: argument handling and failure reporting without a router."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qkd_macsec.onbox.artifact import main as entry


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_accept_with_malformed_offer_answers_a_refusal(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert entry.main(["-action", "accept", "-message", '{"type": "offer"}']) == 0
    answer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert answer["type"] == "ack"
    assert answer["ok"] is False
    assert "field 'link'" in answer["reason"]


def test_corrupt_state_fails_the_run_with_a_clear_trace(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = home / "qkd" / "state" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text("{not json")
    assert entry.main([]) == 2
    assert "unreadable state" in capsys.readouterr().err


def test_unknown_arguments_are_ignored_and_action_defaults_to_timer() -> None:
    args = entry.parse_args(["-foo", "bar"])
    assert args.action == "timer"
    assert entry.parse_args(["-action", "withdraw", "-message", "{}"]).action == "withdraw"
