"""``key_derivation: hybrid`` through the real CLI (rotate, -vv, log file, trace): neither S nor
the hybrid CAK appears in stdout, stderr, the log, the trace or the journal, and no router holds
a key the KMEs issued (the KMEs run in this process: every key they hand out is recorded)."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from qkd_macsec.kme.store import IssuedKey, KeyStore
from qkd_macsec.testbed.builder import Testbed, TestbedOptions, bundled_example, start_testbed

from .conftest import FAST_POLICY, RunCli, Scan

# In the CLI's own process: record each S as the key source draws it (the test's canary list).
SHARE_PRELUDE = """
import os
import qkd_macsec.engine.keysource as _keysource
_draw = _keysource.new_hybrid_share
def _recorded():
    share = _draw()
    with open(os.environ["SHARE_LOG"], "a") as handle:
        handle.write(share.hex() + "\\n")
    return share
_keysource.new_hybrid_share = _recorded
"""


@pytest.fixture
def hybrid_testbed(tmp_path: Path) -> Iterator[Testbed]:
    policy = {**FAST_POLICY, "key_derivation": "hybrid", "transport": {"ssh": "pq-required"}}
    with ExitStack() as stack:
        yield stack.enter_context(
            start_testbed(
                copy.deepcopy(bundled_example()),
                tmp_path / "testbed",
                TestbedOptions(policy=policy),
            )
        )


def forms(raw: bytes) -> set[bytes]:
    b64 = base64.b64encode(raw)
    return {raw, raw.hex().encode(), raw.hex().upper().encode(), b64, b64.rstrip(b"=")}


def test_hybrid_rotation_writes_and_prints_neither_s_nor_the_cak(
    hybrid_testbed: Testbed,
    run_cli: RunCli,
    scan: Scan,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    issued: list[bytes] = []
    hold = KeyStore.hold

    def recording(self: KeyStore, key: IssuedKey, **kwargs: object) -> None:
        issued.append(key.key.reveal())
        hold(self, key, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(KeyStore, "hold", recording)
    share_log = tmp_path / "shares.txt"
    monkeypatch.setenv("SHARE_LOG", str(share_log))
    log_file, trace = tmp_path / "out" / "tool.log", tmp_path / "out" / "trace.log"
    args = ["-i", str(hybrid_testbed.inventory_path), "-vv", "--log-file", str(log_file)]
    args += ["--trace", str(trace)]
    runs = [
        run_cli("rotate", *args, prelude=SHARE_PRELUDE),
        run_cli("rotate", "--force", *args, prelude=SHARE_PRELUDE),
    ]
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
    shares = [bytes.fromhex(line) for line in share_log.read_text().split()]
    assert len(shares) == 4  # 2 links x 2 runs
    assert len(set(shares)) == 4

    # the scans work: the CAKs are found on the routers, and so are the routers' own CAK lines
    committed = hybrid_testbed.lab.device("mx304-11").committed.to_set().encode()
    assert any(label.startswith("CAK") for label in scan(hybrid_testbed, committed))

    journal = Path(hybrid_testbed.inventory.policy.journal)
    written = [log_file, trace, journal]
    written += [p for p in journal.parent.iterdir() if p.name.startswith(journal.name + "-")]
    outputs = b"".join((r.stdout + r.stderr).encode() for r in runs)
    outputs += b"".join(path.read_bytes() for path in written)
    assert trace.stat().st_size > 0
    assert b"DEBUG" in log_file.read_bytes() or b"debug" in log_file.read_bytes().lower()
    assert scan(hybrid_testbed, outputs) == []  # no hybrid CAK (nor password, private key)
    leaked = [i for i, share in enumerate(shares) for form in forms(share) if form in outputs]
    assert leaked == []

    assert len(issued) == 4
    routers = b"".join(
        record.config.to_set().encode()
        for name in hybrid_testbed.inventory.hosts
        for record in hybrid_testbed.lab.device(name).history
    )
    assert [k for k in issued if k.hex().encode() in routers] == []  # CAK != the QKD key
    assert [k for k in issued if k[:16].hex().encode() in routers] == []  # nor its prefix
    assert not set(shares) & set(issued)
