from __future__ import annotations

import logging
import threading

from qkd_macsec.devices.junos import quiet_transport_loggers


def test_quieting_loggers_while_other_threads_create_them() -> None:
    """Preflight opens routers in parallel threads; each driver quiets the transport loggers
    while other threads' libraries create theirs. Iterating the live logger table then failed
    with "dictionary changed size during iteration" (seen in a preflight run)."""
    stop = threading.Event()

    def create() -> None:
        n = 0
        while not stop.is_set():
            logging.getLogger(f"qkd-race-test.{n}")
            n += 1

    creator = threading.Thread(target=create, daemon=True)
    creator.start()
    try:
        for _ in range(300):
            quiet_transport_loggers()
    finally:
        stop.set()
        creator.join(10)
