"""RFC 5424 syslog: addresses, frames, severities, structured data, redaction, transports.

Each transport is tested against a real socket the test opens (UDP, TCP with RFC 6587 octet
counting, a unix datagram socket standing in for /dev/log).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from qkd_macsec.obs.logging import LOGGER_NAME, NOTICE, SECRETS, configure_logging, get_logger
from qkd_macsec.obs.syslog import (
    FACILITIES,
    SD_ID,
    SyslogAddress,
    SyslogAddressError,
    parse_syslog_address,
)
from support.syslog_receiver import SyslogReceiver, parse_frame

CANARY = "c0ffee11" * 8  # a CAK-shaped hex value registered as a secret


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[dict[str, SyslogReceiver]]:
    made = {
        "udp": SyslogReceiver("udp"),
        "tcp": SyslogReceiver("tcp"),
        "unix": SyslogReceiver("unix", path=tmp_path / "log.sock"),
    }
    yield made
    for receiver in made.values():
        receiver.close()
    configure_logging(console=False)  # drop the syslog handler (and its socket)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, SyslogAddress("unix", path="/dev/log")),
        ("", SyslogAddress("unix", path="/dev/log")),
        ("/run/systemd/journal/syslog", SyslogAddress("unix", path="/run/systemd/journal/syslog")),
        ("unix:///dev/log", SyslogAddress("unix", path="/dev/log")),
        ("loghost", SyslogAddress("udp", host="loghost", port=514)),
        ("loghost:5514", SyslogAddress("udp", host="loghost", port=5514)),
        ("udp://10.0.0.1:1514", SyslogAddress("udp", host="10.0.0.1", port=1514)),
        ("tcp://[::1]:601", SyslogAddress("tcp", host="::1", port=601)),
    ],
)
def test_addresses(text: str | None, expected: SyslogAddress) -> None:
    assert parse_syslog_address(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("http://loghost", "transport must be udp, tcp or unix"),
        ("udp://loghost:99999", "bad port"),
        ("unix://", "names no socket path"),
        ("tcp://:514", r"is not transport://host"),
        ("udp://loghost/path", r"is not transport://host"),
    ],
)
def test_bad_addresses_are_named(text: str, reason: str) -> None:
    with pytest.raises(SyslogAddressError, match=reason):
        parse_syslog_address(text)


def test_unreachable_socket_is_a_clear_error(tmp_path: Path) -> None:
    missing = parse_syslog_address(str(tmp_path / "no-such.sock"))
    with pytest.raises(SyslogAddressError, match=r"cannot open syslog unix://.*no socket"):
        configure_logging(console=False, syslog=missing)


@pytest.mark.parametrize("transport", ["udp", "tcp", "unix"])
def test_frames_carry_severity_structured_data_and_no_secret(
    transport: str, receivers: dict[str, SyslogReceiver]
) -> None:
    receiver = receivers[transport]
    SECRETS.add(CANARY)
    configure_logging(
        console=False, syslog=parse_syslog_address(receiver.address), syslog_facility="local3"
    )
    log = get_logger("engine")
    extra = {"link": "dc1-dc2", "key_id": "569d1f1a-a79c", "phase": "ACTIVE", "device": "mx]1"}
    log.log(NOTICE, "dc1-dc2: live on key %s (cak %s)", "569d1f1a-a79c", CANARY, extra=extra)
    log.warning("mx304-12: staging failed:\nlock refused")
    log.info("below the default level: not sent")
    frames = receiver.wait_for(2)
    assert len(frames) == 2, frames
    live, warning = frames
    assert live.facility == FACILITIES["local3"]
    assert live.severity == 5  # notice
    assert warning.severity == 4  # warning
    assert (live.app, live.msgid, live.sd_id) == ("qkd-macsec", "ACTIVE", SD_ID)
    assert live.params == {**extra, "logger": f"{LOGGER_NAME}.engine"}
    assert datetime.fromisoformat(live.timestamp.replace("Z", "+00:00")).tzinfo is not None
    assert "live on key 569d1f1a-a79c" in live.message
    assert warning.msgid == "-"
    assert "\n" not in warning.message
    raw = b"".join(receiver.frames)
    assert CANARY.encode() not in raw
    assert CANARY.upper().encode() not in raw
    assert b"<redacted>" in raw


def test_verbose_sends_info_and_a_lost_receiver_complains_once(
    receivers: dict[str, SyslogReceiver], capsys: pytest.CaptureFixture[str]
) -> None:
    receiver = receivers["unix"]
    configure_logging(console=False, verbosity=1, syslog=parse_syslog_address(receiver.address))
    log = get_logger("engine")
    log.info("one")
    assert [f.message for f in receiver.wait_for(1)] == ["one"]
    receiver.close()
    assert receiver.path is not None
    receiver.path.unlink()
    for _ in range(3):
        log.info("nobody listens")
    err = capsys.readouterr().err
    assert err.count("cannot send to syslog") == 1
    assert "Traceback" not in err


def test_parse_frame_rejects_bsd_lines() -> None:
    with pytest.raises(AssertionError):
        parse_frame(b"<13>Dec  1 08:00:00 host app: hello")


def test_root_logger_untouched() -> None:
    assert not any(type(h).__name__ == "Rfc5424SyslogHandler" for h in logging.getLogger().handlers)
