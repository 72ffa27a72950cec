"""The whole demo at debug level: no key, CAK or password in any output or file it writes."""

from __future__ import annotations

import base64
import logging
import os
import re
import stat
from pathlib import Path

import pytest

from qkd_macsec.cli import main
from qkd_macsec.engine.controller import Controller
from qkd_macsec.testbed import demo as demo_module
from qkd_macsec.testbed.builder import PASSWORD_ENV, Testbed

SECRET_LINE = re.compile(r"\b(?:secret|cak)\s+\"?([0-9a-fA-F]{32,64})\"?")


def canary_forms(raw: bytes) -> set[str]:
    b64 = base64.b64encode(raw).decode()
    return {raw.hex(), raw.hex().upper(), b64, b64.rstrip("=")}


def test_demo_at_debug_level_leaks_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    workdir = tmp_path / "demo"
    trace = tmp_path / "trace.log"
    everything = tmp_path / "root-debug.log"
    # Catch third-party loggers too (ncclient, paramiko, asyncssh, httpx), at DEBUG.
    root_handler = logging.FileHandler(everything)
    root_handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(root_handler)
    old_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)

    installed: set[bytes] = set()
    original = demo_module.link_reports

    def spy(testbed: Testbed, controller: Controller) -> list[demo_module.LinkReport]:
        for name in testbed.inventory.hosts:
            for record in testbed.lab.device(name).history:
                for match in SECRET_LINE.finditer(record.config.to_set()):
                    installed.add(bytes.fromhex(match.group(1)))
        return original(testbed, controller)

    monkeypatch.setattr(demo_module, "link_reports", spy)
    try:
        main(["demo", "-n", "3", "--dir", str(workdir), "-vv", "-tr", str(trace)])
    finally:
        logging.getLogger().removeHandler(root_handler)
        root_handler.close()
        logging.getLogger().setLevel(old_level)
    out, err = capfd.readouterr()
    assert "PASS" in out

    assert len(installed) >= 6  # 2 links x 3 rotations, every CAK the routers ever got
    canaries = set().union(*(canary_forms(cak) for cak in installed))
    canaries.add(os.environ[PASSWORD_ENV])

    texts = {"stdout": out, "stderr": err}
    for path in [trace, everything, *workdir.rglob("*")]:
        if path.is_file() and "sim" not in path.relative_to(tmp_path).parts:
            texts[str(path)] = path.read_bytes().decode("latin-1")
    assert trace.stat().st_size > 0
    assert any("DEBUG" in text for text in texts.values())
    leaks = [(where, c[:6]) for where, text in texts.items() for c in canaries if c in text]
    assert leaks == []

    for path in [
        trace,
        *workdir.rglob("*.sqlite*"),
        *workdir.rglob("*.key"),
        workdir / "inventory.yaml",
    ]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
