"""Driver details that follow real Junos output: ``$9$`` secrets scrubbed from messages, and
exactly the named harmless warnings ignored."""

from __future__ import annotations

import re

from qkd_macsec.devices.junos import IGNORED_COMMIT_WARNINGS, IGNORED_LOAD_WARNINGS, _Scrubber
from qkd_macsec.sim.config.checks import CKN_LENGTH_WARNING


def test_dollar9_secrets_never_reach_a_message() -> None:
    shown = _Scrubber()('commit failed: secret "$9$AFf0IH1OWBQnPYey"; key 3')
    assert "AFf0IH1OWBQnPYey" not in shown
    assert '"$9$<masked>"; key 3' in shown


def matches(patterns: list[str], message: str) -> bool:
    """PyEZ's ignore_warning rule: a case-insensitive re.search of any pattern."""
    return any(re.search(p, message, re.I) for p in patterns)


def test_only_the_named_warnings_are_ignored() -> None:
    assert matches(IGNORED_LOAD_WARNINGS, "line 3: statement not found")
    assert matches(IGNORED_COMMIT_WARNINGS, CKN_LENGTH_WARNING)
    for other in ("mgd: configuration database modified", "interface does not exist"):
        assert not matches(IGNORED_LOAD_WARNINGS, other)
        assert not matches(IGNORED_COMMIT_WARNINGS, other)
    assert not matches(IGNORED_COMMIT_WARNINGS, "line 3: statement not found")
