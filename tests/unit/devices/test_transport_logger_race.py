from __future__ import annotations

import logging
import threading

from qkd_macsec.devices.junos import quiet_transport_loggers

NEW_LOGGERS = 30_000


def test_quieting_loggers_while_other_threads_create_them() -> None:
    """Preflight opens routers in parallel threads; each driver quiets the transport loggers
    while other threads' libraries create theirs. Iterating the live logger table then failed
    with "dictionary changed size during iteration" (seen in a preflight run)."""

    def create() -> None:
        for n in range(NEW_LOGGERS):
            logging.getLogger(f"qkd-race-test.{n}")

    creator = threading.Thread(target=create, daemon=True)
    creator.start()
    calls = 0
    while creator.is_alive() or calls == 0:
        quiet_transport_loggers()
        calls += 1
    creator.join(30)
    assert calls >= 1
