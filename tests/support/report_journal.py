"""A journal with a few dozen rotations of mixed results, written through the Journal API the
way the executor writes it: for report tests and the README's screenshot."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from qkd_macsec.engine.journal import Journal, Phase

T0 = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
LINKS = {
    "p2p-ams-fra": [("ams-r1", "et-0/0/0"), ("fra-r1", "et-0/0/0")],
    "p2p-fra-par": [("fra-r1", "et-0/0/1"), ("par-r1", "et-0/0/0")],
    "p2p-lon-ams": [("lon-r1", "et-0/0/0"), ("ams-r1", "et-0/0/1")],
    "p2p-par-mad": [("par-r1", "et-0/0/1"), ("mad-r1", "et-0/0/0")],
    "ca-core": [("fra-r2", "et-0/1/0"), ("ams-r2", "et-0/1/0"), ("par-r2", "et-0/1/0")],
    "ca-edge": [("lon-r2", "xe-0/0/0"), ("mad-r2", "xe-0/0/0"), ("ams-r3", "xe-0/0/0")],
}


@dataclass(frozen=True)
class Written:
    """What was written, to check the report against: (rotation id, link, result, kcv, ckn)."""

    rotations: list[tuple[int, str, str, str | None, str | None]]


def fill(journal: Journal, hours: int = 8, seed: int = 16) -> Written:
    """Every link rotates every 40-70 minutes for ``hours``; p2p-par-mad's KME pool runs dry
    (aborted, no key), ca-edge is sometimes not confirmed live (unverified), p2p-lon-ams fails
    once, and the last ca-core rotation is still open."""
    rng = random.Random(seed)
    written: list[tuple[int, str, str, str | None, str | None]] = []
    waves: list[tuple[datetime, str]] = []
    for link in LINKS:
        at = T0 + timedelta(minutes=rng.uniform(0, 30))
        while at < T0 + timedelta(hours=hours):
            waves.append((at, link))
            at += timedelta(minutes=rng.uniform(40, 70))
    waves.sort()
    seen: dict[str, int] = {}
    for at, link in waves:
        index = seen[link] = seen.get(link, -1) + 1  # the link's n-th rotation
        result = "ok"
        if link == "p2p-par-mad" and index in (3, 4):
            result = "aborted"
        elif link == "ca-edge" and index in (2, 5, 9):
            result = "unverified"
        elif link == "p2p-lon-ams" and index == 3:
            result = "failed"
        if link == "ca-core" and at == max(a for a, n in waves if n == link):
            result = "open"
        slow = link == "p2p-fra-par" and index == 4  # a commit that took 25 s longer
        written.append(rotate(journal, link, at, result, rng, slow=slow))
    return Written(written)


def rotate(
    journal: Journal,
    link: str,
    at: datetime,
    result: str,
    rng: random.Random,
    *,
    slow: bool = False,
) -> tuple[int, str, str, str | None, str | None]:
    ends = LINKS[link]
    rid = journal.begin(link, f"w-{at:%H%M%S}", ends, reason="due", now=at)
    if result == "aborted":
        error = "key fetch: KeyPoolExhaustedError: no key material left on the QKD link"
        journal.set_phase(rid, Phase.ABORTED, error=error, now=at + timedelta(seconds=2.1))
        return rid, link, result, None, None
    fetched = at + timedelta(seconds=rng.uniform(0.05, 0.6 if link != "ca-edge" else 2.5))
    key_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    ckn = f"{rng.getrandbits(256):064x}"
    kcv = f"{rng.getrandbits(32):08x}"
    journal.record_keys(rid, key_id=key_id, ckn=ckn, kcv=kcv, now=fetched)
    delay = rng.uniform(9.5, 13.0) + (25.0 if slow else 0.0)
    start = (at + timedelta(seconds=delay)).replace(microsecond=0)
    staging = fetched + timedelta(seconds=0.01)
    journal.record_staging(rid, slot=rng.randrange(2), start_time=start, now=staging)
    if result == "open":
        return rid, link, result, kcv, ckn
    committed = staging + timedelta(seconds=rng.uniform(0.8, 3.0))
    for device, _interface in ends:
        journal.mark_end(rid, device, staged=True, now=committed)
    if result == "failed":
        error = "stage failed on lon-r1 (commit timed out); undo failed: lon-r1 unreachable"
        journal.set_phase(rid, Phase.ABORTING, error=error, now=committed)
        journal.set_phase(rid, Phase.FAILED, error=error, now=committed + timedelta(seconds=30))
        return rid, link, result, kcv, ckn
    journal.set_phase(rid, Phase.STAGED, now=committed)
    if result == "unverified":
        error = "verify: mad-r2 xe-0/0/0: not live on the new CKN"
        journal.set_phase(rid, Phase.ACTIVE, error=error, now=start + timedelta(seconds=30.5))
    else:
        live = start + timedelta(seconds=rng.uniform(0.6, 2.5))
        journal.set_phase(rid, Phase.ACTIVE, now=live)
    return rid, link, result, kcv, ckn
