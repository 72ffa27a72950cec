"""The Junos driver's sequencing and error translation, against small PyEZ fakes.

(The same paths run against the real PyEZ client and the simulator in tests/integration/devices.)
"""

from __future__ import annotations

import logging
import re
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jnpr.junos import exception as ez
from lxml import etree
from ncclient.transport.errors import SSHUnknownHostError

from qkd_macsec.devices.base import (
    ChangeSet,
    DeviceAuthError,
    DeviceClock,
    DeviceCommitError,
    DeviceCommitUncertainError,
    DeviceConnectError,
    DeviceDeadlineError,
    DeviceHostKeyError,
    DeviceLoadError,
    DeviceLockError,
    DeviceReplyError,
    DeviceTarget,
    DeviceTimeoutError,
    DeviceUnreachableError,
    KeyChainEntry,
)
from qkd_macsec.devices.junos import (
    IGNORED_COMMIT_WARNINGS,
    JunosDriver,
    quiet_transport_loggers,
)
from qkd_macsec.devices.junos_names import ConfigRenderError
from qkd_macsec.secret import Secret
from support.junos_evidence import fixture_reply

CANARY = bytes.fromhex("ca4a11" * 10 + "beef")
CANARY_HEX = CANARY.hex()
REPLIES = Path(__file__).parent / "replies"


def rpc_error(message: str, severity: str = "error") -> Any:
    return etree.fromstring(
        f"<rpc-error><error-severity>{severity}</error-severity>"
        f"<error-message>{message}</error-message></rpc-error>"
    )


class FakeRpc:
    def __init__(self) -> None:
        self.replies: dict[str, Any] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            value = self.replies[name]
            if isinstance(value, Exception):
                raise value
            return value

        return call


def openssh_public_key() -> str:
    key = Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()


class FakeDevice:
    instances: list[FakeDevice] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.connected = False
        self.hostname = kwargs["host"]
        self.timeout = 30
        self.rpc = FakeRpc()
        self.ssh_config_text = Path(kwargs["ssh_config"]).read_text()
        self.ssh_config_mode = Path(kwargs["ssh_config"]).stat().st_mode
        named = re.search(r'UserKnownHostsFile "([^"]+)"', self.ssh_config_text)
        self.known_hosts_path = Path(named.group(1)) if named else None
        self.known_hosts_text = self.known_hosts_path.read_text() if named else ""
        self.known_hosts_mode = self.known_hosts_path.stat().st_mode if named else 0
        self.open_error: Exception | None = None
        FakeDevice.instances.append(self)

    def open(self) -> FakeDevice:
        if self.open_error is not None:
            raise self.open_error
        self.connected = True
        return self

    def close(self) -> None:
        self.connected = False


class FakeConfig:
    """Records the calls; ``fail`` maps a method name to the exception it raises."""

    def __init__(self, dev: Any, fail: dict[str, Exception], diff: str | None) -> None:
        self.dev = dev
        self.fail = fail
        self.diff_text = diff
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def _record(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs))
        if name in self.fail:
            raise self.fail[name]

    def lock(self) -> bool:
        self._record("lock")
        return True

    def unlock(self) -> bool:
        self._record("unlock")
        return True

    def load(self, *args: Any, **kwargs: Any) -> None:
        self._record("load", *args, **kwargs)

    def diff(self) -> str | None:
        self._record("diff")
        return self.diff_text

    def commit(self, **kwargs: Any) -> bool:
        self._record("commit", **kwargs)
        return True

    def rollback(self, rb_id: int = 0) -> bool:
        self._record("rollback", rb_id)
        return True

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.known_hosts = tmp_path / "known_hosts"
        self.known_hosts.write_text(
            f"[127.0.0.1]:830 {openssh_public_key()}\n[192.0.2.9]:830 {openssh_public_key()}\n"
        )
        self.fail: dict[str, Exception] = {}
        self.diff: str | None = "\n[edit security]\n+   authentication-key-chains { ... }\n"
        self.configs: list[FakeConfig] = []

    def config(self, dev: Any) -> FakeConfig:
        cu = FakeConfig(dev, self.fail, self.diff)
        self.configs.append(cu)
        return cu

    def driver(self, **overrides: Any) -> JunosDriver:
        values: dict[str, Any] = {
            "name": "r1",
            "host": "127.0.0.1",
            "user": "netconf",
            "password": Secret(b"pw-canary-123"),
            "known_hosts": self.known_hosts,
        }
        values.update(overrides)
        return JunosDriver(
            DeviceTarget(**values), device_factory=FakeDevice, config_factory=self.config
        )


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    FakeDevice.instances.clear()
    return Harness(tmp_path)


def changes() -> ChangeSet:
    entry = KeyChainEntry("KC", 1, "ab" * 32, Secret(CANARY), datetime(2026, 11, 26, tzinfo=UTC))
    return ChangeSet(add_entries=[entry])


def assert_no_canary(err: BaseException) -> None:
    rendered = "".join(traceback.format_exception(err)) + repr(err) + str(err)
    assert CANARY_HEX not in rendered
    assert CANARY_HEX.upper() not in rendered


# ------------------------------------------------------------------------------------ opening
def test_open_verifies_host_keys_through_a_private_ssh_config(harness: Harness) -> None:
    driver = harness.driver()
    driver.open()
    (dev,) = FakeDevice.instances
    assert dev.kwargs["hostkey_verify"] is True
    assert dev.kwargs["look_for_keys"] is False
    assert dev.kwargs["allow_agent"] is False
    assert dev.kwargs["gather_facts"] is False
    assert dev.kwargs["port"] == 830
    assert "StrictHostKeyChecking yes" in dev.ssh_config_text
    assert dev.ssh_config_mode & 0o077 == 0
    assert not Path(dev.kwargs["ssh_config"]).exists()  # only needed while connecting
    # a private copy of just this target's entries (paramiko parses it on every connect)
    assert dev.known_hosts_path is not None
    assert dev.known_hosts_path != harness.known_hosts.resolve()
    shared = harness.known_hosts.read_text().splitlines()
    assert dev.known_hosts_text.splitlines() == [shared[0]]
    assert dev.known_hosts_mode & 0o077 == 0
    assert not dev.known_hosts_path.exists()
    assert driver.is_alive()
    driver.close()
    assert not driver.is_alive()


def test_insecure_host_keys_warns(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    driver = harness.driver(known_hosts=None, insecure_host_keys=True)
    with caplog.at_level(logging.WARNING, logger="qkd_macsec"):
        driver.open()
    assert FakeDevice.instances[0].kwargs["hostkey_verify"] is False
    assert "NOT verified" in caplog.text
    driver.close()


def test_missing_known_hosts_file_is_refused_before_connecting(harness: Harness) -> None:
    harness.known_hosts.unlink()
    with pytest.raises(DeviceHostKeyError, match="not found"):
        harness.driver().open()
    assert FakeDevice.instances == []


def _refused_after_unknown_host() -> Exception:
    try:
        try:
            raise SSHUnknownHostError("[127.0.0.1]:830", "aa:bb")
        except SSHUnknownHostError:
            raise ez.ConnectRefusedError(None) from None
    except ez.ConnectRefusedError as err:
        err.__suppress_context__ = False
        return err


@pytest.mark.parametrize(
    ("make_error", "expected", "message"),
    [
        (lambda: ez.ConnectAuthError(None), DeviceAuthError, "authentication as 'netconf'"),
        (_refused_after_unknown_host, DeviceHostKeyError, "CHANGED"),
        (lambda: ez.ConnectRefusedError(None), DeviceUnreachableError, "refused"),
        (lambda: ez.ConnectTimeoutError(None), DeviceUnreachableError, "timed out"),
        (lambda: ez.ConnectUnknownHostError(None), DeviceUnreachableError, "resolve"),
        (lambda: ez.ConnectError(None, f"boom {CANARY_HEX}"), DeviceConnectError, "boom"),
    ],
)
def test_connect_errors_are_translated(
    harness: Harness,
    monkeypatch: pytest.MonkeyPatch,
    make_error: Callable[[], Exception],
    expected: type[Exception],
    message: str,
) -> None:
    from qkd_macsec.obs.logging import SECRETS

    SECRETS.add(CANARY)
    monkeypatch.setattr(FakeDevice, "open", lambda self: (_ for _ in ()).throw(make_error()))
    driver = harness.driver()
    with pytest.raises(expected, match=message) as info:
        driver.open()
    assert info.value.device == "r1"  # type: ignore[attr-defined]
    assert_no_canary(info.value)
    assert "pw-canary-123" not in str(info.value)
    assert not Path(FakeDevice.instances[0].kwargs["ssh_config"]).exists()


# ------------------------------------------------------------------------------------- apply
def test_apply_locks_loads_diffs_commits_unlocks(harness: Harness) -> None:
    driver = harness.driver()
    driver.open()
    result = driver.apply(changes(), comment="qkd rotate", confirm_minutes=5)
    (cu,) = harness.configs
    assert cu.names() == ["lock", "load", "diff", "commit", "unlock"]
    _, load_args, load_kwargs = cu.calls[1]
    assert load_kwargs["format"] == "set"
    assert isinstance(load_args[0], str)
    assert CANARY_HEX in load_args[0]
    assert cu.calls[3][2] == {
        "comment": "qkd rotate",
        "confirm": 5,
        "ignore_warning": IGNORED_COMMIT_WARNINGS,
    }
    assert result.changed is True
    assert result.diff_lines == 1
    assert result.device == "r1"


def test_empty_diff_is_not_committed(harness: Harness) -> None:
    harness.diff = None
    driver = harness.driver()
    driver.open()
    result = driver.apply(changes(), comment="x")
    assert harness.configs[0].names() == ["lock", "load", "diff", "unlock"]
    assert result.changed is False
    assert result.diff_lines == 0


def test_empty_change_set_touches_nothing(harness: Harness) -> None:
    driver = harness.driver()
    driver.open()
    assert driver.apply(ChangeSet(), comment="x").changed is False
    assert harness.configs == []


def test_bad_input_is_refused_before_any_rpc(harness: Harness) -> None:
    driver = harness.driver()
    driver.open()
    bad = ChangeSet(remove_entries=[("KC; delete security", 1)])
    with pytest.raises(ConfigRenderError):
        driver.apply(bad, comment="x")
    assert harness.configs == []
    with pytest.raises(ValueError, match="confirm_minutes"):
        driver.apply(changes(), comment="x", confirm_minutes=0)


@pytest.mark.parametrize(
    ("phase", "error", "expected"),
    [
        (
            "load",
            ez.ConfigLoadError(rpc_error(f"syntax error: secret {CANARY_HEX}")),
            DeviceLoadError,
        ),
        ("commit", ez.CommitError(rpc_error(f"bad key {CANARY_HEX.upper()}")), DeviceCommitError),
        (  # an unknown warning: Junos committed; the engine must not take it for "not committed"
            "commit",
            ez.CommitError(rpc_error(f"mgd: odd warning {CANARY_HEX}", severity="warning")),
            DeviceCommitUncertainError,
        ),
        ("diff", ez.RpcError(rsp=rpc_error("diff failed")), DeviceReplyError),
        (
            "commit",
            ez.RpcTimeoutError(FakeDevice(host="h", ssh_config="/dev/null"), "commit", 1),
            DeviceTimeoutError,
        ),
        (
            "load",
            ez.ConnectClosedError(FakeDevice(host="h", ssh_config="/dev/null")),
            DeviceConnectError,
        ),
    ],
)
def test_failures_discard_the_candidate_and_always_unlock(
    harness: Harness, phase: str, error: Exception, expected: type[Exception]
) -> None:
    harness.fail[phase] = error
    driver = harness.driver()
    driver.open()
    with pytest.raises(expected) as info:
        driver.apply(changes(), comment="x")
    names = harness.configs[0].names()
    assert names[-2:] == ["rollback", "unlock"]
    assert "commit" not in names[: names.index(phase)]
    assert_no_canary(info.value)


def test_lock_refused_loads_nothing(harness: Harness) -> None:
    harness.fail["lock"] = ez.LockError(rpc_error("configuration database locked by: alice"))
    driver = harness.driver()
    driver.open()
    with pytest.raises(DeviceLockError, match="locked by: alice"):
        driver.apply(changes(), comment="x")
    assert harness.configs[0].names() == ["lock"]


def test_unlock_failure_after_commit_is_only_logged(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.fail["unlock"] = ez.UnlockError(rpc_error("not locked"))
    driver = harness.driver()
    driver.open()
    with caplog.at_level(logging.WARNING, logger="qkd_macsec"):
        assert driver.apply(changes(), comment="x").changed
    assert "could not unlock" in caplog.text


def test_discard_failure_does_not_hide_the_original_error(harness: Harness) -> None:
    harness.fail["commit"] = ez.CommitError(rpc_error("commit check failed"))
    harness.fail["rollback"] = ez.RpcError(rsp=rpc_error("rollback failed"))
    driver = harness.driver()
    driver.open()
    with pytest.raises(DeviceCommitError, match="commit check failed"):
        driver.apply(changes(), comment="x")
    assert harness.configs[0].names()[-1] == "unlock"


def test_apply_on_closed_driver(harness: Harness) -> None:
    with pytest.raises(DeviceConnectError, match="not open"):
        harness.driver().apply(changes(), comment="x")


def test_confirm_commit(harness: Harness) -> None:
    driver = harness.driver()
    driver.open()
    driver.confirm_commit(comment="confirm")
    assert harness.configs[0].names() == ["lock", "commit", "unlock"]


# -------------------------------------------------------------------------------------- reads
def _reply(name: str) -> Any:
    return etree.fromstring((REPLIES / name).read_bytes())


def test_reads_parse_replies(harness: Harness) -> None:
    driver = harness.driver()
    driver.open()
    rpc = FakeDevice.instances[0].rpc
    rpc.replies["get_system_uptime_information"] = _reply("uptime.xml")
    rpc.replies["get_mka_session_information"] = _reply("mka_sessions.xml")
    rpc.replies["get_config"] = _reply("key_chain.xml")
    assert driver.device_time() == DeviceClock(
        datetime(2026, 11, 26, 10, 15, tzinfo=UTC), resolution_s=1.0
    )
    assert {s.interface for s in driver.mka_sessions(["et-0/0/10"])} == {"et-0/0/10"}
    assert len(driver.mka_sessions()) == 3
    assert [e.slot for e in driver.key_chain("KC_core")] == [3, 4]
    rpc.replies["get_config"] = _reply("macsec_interfaces.xml")
    assert driver.macsec_bindings() == {"et-0/0/9": "CA_core", "ae0": "CA_ae"}


def test_mka_reads_the_real_detail_form(harness: Harness) -> None:
    driver = harness.driver()
    driver.open()
    rpc = FakeDevice.instances[0].rpc
    rpc.replies["get_mka_session_information"] = fixture_reply("mka_detail.xml")
    sessions = driver.mka_sessions(["et-2/0/2"])
    assert rpc.calls[-1] == ("get_mka_session_information", {"detail": True})
    assert [(s.cak_name[:8], s.live) for s in sessions] == [("3f5af4e5", True), ("328df9e4", False)]
    rpc.replies["get_mka_session_information"] = True  # PyEZ: <rpc-reply> without children
    assert driver.mka_sessions() == []
    rpc.replies["get_mka_session_information"] = etree.fromstring(
        "<mka-session-information><mka-peer/></mka-session-information>"
    )
    with pytest.raises(DeviceReplyError, match=r"r1: mka: .*<mka-peer>"):
        driver.mka_sessions()


def test_malformed_reads_raise_reply_errors(harness: Harness) -> None:
    driver = harness.driver()
    driver.open()
    rpc = FakeDevice.instances[0].rpc
    rpc.replies["get_mka_session_information"] = _reply("mka_sessions_no_cak_name.xml")
    rpc.replies["get_system_uptime_information"] = ez.RpcTimeoutError(
        FakeDevice(host="h", ssh_config="/dev/null"), "uptime", 1
    )
    with pytest.raises(DeviceReplyError, match="cak-name"):
        driver.mka_sessions()
    with pytest.raises(DeviceTimeoutError):
        driver.device_time()
    with pytest.raises(ConfigRenderError):
        driver.key_chain("KC }")
    with pytest.raises(ConfigRenderError):
        driver.mka_sessions(["et-0/0/9\n"])


# ------------------------------------------------------------------------------------ logging
def test_transport_debug_logs_never_carry_the_cak(caplog: pytest.LogCaptureFixture) -> None:
    from qkd_macsec.obs.logging import SECRETS

    SECRETS.add(CANARY)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("ncclient").setLevel(logging.DEBUG)
        quiet_transport_loggers()
        logging.getLogger("ncclient.operations.rpc").debug("Sending: secret %s", CANARY_HEX)
        logging.getLogger("ncclient.transport.ssh").warning("echo %s", CANARY_HEX)
    assert "Sending" not in caplog.text
    assert "echo" in caplog.text
    assert CANARY_HEX not in caplog.text
    assert logging.getLogger("ncclient").level == logging.WARNING


# ---------------------------------------------------------------------------------- deadlines
class FakeConn:
    """ncclient's Manager: a float RPC timeout (PyEZ's own setter would truncate it)."""

    timeout: float = 30.0


def test_deadline_caps_every_rpc_timeout(harness: Harness) -> None:
    driver = harness.driver(timeout=60.0)
    driver.set_deadline(time.time() + 2.5)
    driver.open()
    (dev,) = FakeDevice.instances
    assert dev.kwargs["conn_open_timeout"] <= 3
    dev._conn = FakeConn()
    seen: list[float] = []
    harness.fail = {}
    original = FakeConfig._record

    def record(cu: FakeConfig, name: str, *args: Any, **kwargs: Any) -> None:
        seen.append(dev._conn.timeout)
        original(cu, name, *args, **kwargs)

    FakeConfig._record = record  # type: ignore[method-assign]
    try:
        driver.apply(changes(), comment="wave")
    finally:
        FakeConfig._record = original  # type: ignore[method-assign]
    assert seen
    assert all(0 < t <= 2.5 for t in seen)  # the time left, not the target's 60 s
    driver.close()


def test_nothing_is_sent_once_the_deadline_has_passed(harness: Harness) -> None:
    driver = harness.driver()
    driver.open()
    driver.set_deadline(time.time() - 0.01)
    with pytest.raises(DeviceDeadlineError) as caught:
        driver.apply(changes(), comment="wave")
    assert isinstance(caught.value, DeviceTimeoutError)  # a kind of timeout, but nothing sent
    assert harness.configs == [] or "commit" not in harness.configs[-1].names()
    with pytest.raises(DeviceDeadlineError):
        driver.key_chain("KC")
    driver.close()
    with pytest.raises(DeviceDeadlineError):
        driver.open()  # not even a connection attempt
