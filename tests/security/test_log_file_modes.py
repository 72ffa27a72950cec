"""Log files are private from the first line to the last rollover."""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from qkd_macsec.obs.logging import LOGGER_NAME, PrivateRotatingFileHandler, configure_logging


@pytest.fixture
def restore_tool_logger() -> Iterator[None]:
    logger = logging.getLogger(LOGGER_NAME)
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    for handler in handlers:
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.mark.usefixtures("restore_tool_logger")
def test_rotating_log_files_stay_0600_after_rollover(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "qkd-macsec.log"
    configure_logging(log_file=log_file, trace_file=tmp_path / "trace.log", console=False)
    rotating = [
        h
        for h in logging.getLogger(LOGGER_NAME).handlers
        if isinstance(h, PrivateRotatingFileHandler)
    ]
    assert len(rotating) == 1
    logging.getLogger(f"{LOGGER_NAME}.test").warning("before the rollover")
    rotating[0].doRollover()  # what happens every 10 MiB
    logging.getLogger(f"{LOGGER_NAME}.test").warning("after the rollover")

    files = sorted(log_file.parent.iterdir())
    assert [p.name for p in files] == ["qkd-macsec.log", "qkd-macsec.log.1"]
    for path in [*files, tmp_path / "trace.log"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert "after the rollover" in log_file.read_text()
