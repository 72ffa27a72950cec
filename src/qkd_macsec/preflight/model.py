"""Preflight results: one :class:`Finding` per check per subject, and the overall verdict.

Severities, and what they do to the exit code (``qkd-macsec preflight``):

* ``ok`` — the check passed;
* ``warning`` — worth a look, does not stop a first run (exit stays 0);
* ``blocker`` — a first run would fail or do harm (exit 1);
* ``unreachable`` — the router or KME could not be reached, nothing else about it is known
  (exit 3 when every problem is of this kind, like ``rotate``; 1 when there are blockers too);
* ``n/a`` — the check does not apply to this router's platform (its driver cannot answer it,
  see ``Platform.preflight_not_checked``): said, with the reason, never failed (exit stays 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    OK = "ok"
    WARNING = "warning"
    BLOCKER = "blocker"
    UNREACHABLE = "unreachable"
    NOT_APPLICABLE = "n/a"


class Subject(StrEnum):
    ROUTER = "router"
    KME = "kme"


@dataclass(frozen=True, order=True)
class Finding:
    """The outcome of one check. ``detail`` is safe to print: never a key, CAK or password."""

    kind: Subject
    subject: str  # router name, or "SAE -> peer @ KME"
    check: str  # short stable name, e.g. "ntp", "commit", "key-size"
    severity: Severity
    detail: str = ""
    platform: str = ""  # a router's platform (its inventory name); "" for KME findings


EXIT_OK = 0
EXIT_BLOCKER = 1
EXIT_UNREACHABLE = 3


@dataclass(frozen=True)
class PreflightReport:
    findings: tuple[Finding, ...]

    def of(self, severity: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity is severity]

    @property
    def blockers(self) -> list[Finding]:
        return self.of(Severity.BLOCKER)

    @property
    def exit_code(self) -> int:
        """0 all green (warnings allowed), 1 a blocker, 3 only unreachable subjects."""
        if self.blockers:
            return EXIT_BLOCKER
        if self.of(Severity.UNREACHABLE):
            return EXIT_UNREACHABLE
        return EXIT_OK

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.exit_code == EXIT_OK,
            "exit_code": self.exit_code,
            "counts": {s.value: len(self.of(s)) for s in Severity},
            "findings": [_finding_json(f) for f in self.findings],
        }


def _finding_json(finding: Finding) -> dict[str, object]:
    out: dict[str, object] = {
        "kind": finding.kind.value,
        "subject": finding.subject,
        "check": finding.check,
        "severity": finding.severity.value,
        "detail": finding.detail,
    }
    if finding.platform:
        out["platform"] = finding.platform
    return out
