"""NAPALM-style conformance: every registered driver implements the Driver protocol exactly."""

from __future__ import annotations

import inspect
import pickle
from pathlib import Path

import pytest

from qkd_macsec.devices.base import (
    DeviceCommitError,
    DeviceError,
    DeviceTarget,
    Driver,
    DriverRegistry,
    InvalidTargetError,
    UnknownPlatformError,
)
from qkd_macsec.devices.platform import DRIVERS
from qkd_macsec.secret import Secret

CONTRACT_METHODS = sorted(
    name for name, member in vars(Driver).items() if callable(member) and not name.startswith("_")
)


def target(**overrides: object) -> DeviceTarget:
    values: dict[str, object] = {
        "name": "r1",
        "host": "127.0.0.1",
        "user": "netconf",
        "password": Secret(b"pw"),
        "known_hosts": Path("/nonexistent/known_hosts"),
    }
    values.update(overrides)
    return DeviceTarget(**values)  # type: ignore[arg-type]


def test_contract_lists_the_engine_verbs() -> None:
    assert CONTRACT_METHODS == [
        "apply",
        "close",
        "commit_check",
        "confirm_commit",
        "device_time",
        "facts",
        "interfaces",
        "is_alive",
        "key_chain",
        "macsec_bindings",
        "macsec_capable",
        "macsec_config",
        "mka_sessions",
        "ntp_status",
        "open",
        "preview",
        "render",
        "set_deadline",
    ]


@pytest.mark.parametrize("platform", DRIVERS.platforms())
@pytest.mark.parametrize("method", CONTRACT_METHODS)
def test_driver_signatures_match_the_contract(platform: str, method: str) -> None:
    driver_class = DRIVERS.get(platform)
    assert inspect.isclass(driver_class)
    implemented = getattr(driver_class, method, None)
    assert implemented is not None, f"{platform} driver lacks {method}"
    expected = inspect.signature(getattr(Driver, method))
    actual = inspect.signature(implemented)
    assert list(actual.parameters.values()) == list(expected.parameters.values())
    assert actual.return_annotation == expected.return_annotation


@pytest.mark.parametrize("platform", DRIVERS.platforms())
def test_driver_instances_satisfy_the_protocol_without_io(platform: str) -> None:
    driver = DRIVERS.create(target(), platform)
    assert isinstance(driver, Driver)
    assert driver.is_alive() is False
    driver.close()  # closing an unopened driver is a no-op


def test_junos_is_registered_lazily() -> None:
    assert "junos" in DRIVERS.platforms()


def test_registry_refuses_unknown_platforms_and_registries_are_separate() -> None:
    registry = DriverRegistry()
    with pytest.raises(UnknownPlatformError, match="no driver for platform 'eos'"):
        registry.get("eos")
    registry.register("fake", DRIVERS.get("junos"))
    assert registry.platforms() == ["fake"]
    assert "fake" not in DRIVERS.platforms()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"known_hosts": None}, "known_hosts is required"),
        ({"password": None}, "password or an ssh_key"),
        ({"port": 0}, "port"),
        ({"host": ""}, "host"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_invalid_targets(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidTargetError, match=message):
        target(**overrides)


def test_target_repr_hides_the_password() -> None:
    assert "pw" not in repr(target(password=Secret(b"hunter2-canary")))
    assert "hunter2" not in repr(target(password=Secret(b"hunter2-canary")))
    assert target(known_hosts=None, insecure_host_keys=True).insecure_host_keys


def test_device_errors_keep_the_device_and_survive_pickling() -> None:
    err = DeviceCommitError("r1", "commit failed: boom")
    assert isinstance(err, DeviceError)
    assert str(err) == "r1: commit failed: boom"
    copy = pickle.loads(pickle.dumps(err))  # noqa: S301  (our own bytes)
    assert type(copy) is DeviceCommitError
    assert (copy.device, copy.message) == ("r1", "commit failed: boom")
