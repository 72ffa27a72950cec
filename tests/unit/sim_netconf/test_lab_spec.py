"""Lab files: validation errors name what is wrong; secrets stay hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from qkd_macsec.sim.lab import Lab, LabError


def base(**device: object) -> dict[str, object]:
    return {"devices": [{"name": "r1", "password": "pw-123456", **device}]}


def test_valid_lab_and_password_hidden() -> None:
    lab = Lab.from_dict(
        {
            "preceding_hold_s": 1,
            "devices": [
                {"name": "r1", "password": "Sup3r-S3cret-xyz"},
                {"name": "r2", "password_env": "NOPE_UNSET"},
            ],
            "links": [{"a": "r1:et-0/0/9", "b": "r2:et-0/0/9"}],
        }
    )
    assert [d.name for d in lab.spec.devices] == ["r1", "r2"]
    assert "Sup3r-S3cret-xyz" not in repr(lab.spec)
    assert lab.spec.links[0].ends()[1].interface == "et-0/0/9"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (
            {"devices": [{"name": "r1", "password": "p"}, {"name": "r1", "password": "p"}]},
            "duplicate device names: r1",
        ),
        ({**base(), "links": [{"a": "r1:et-0/0/1", "b": "r9:et-0/0/1"}]}, "r9"),
        ({"devices": [{"name": "r1"}]}, "password"),
        (base(port=70000), "devices.0.port"),
        (base(name="bad name"), "devices.0.name"),
        (base(colour="red"), "colour"),
        ({"devices": "r1"}, "devices"),
        (base(time_zone="Mars/Olympus_Mons"), "unknown time zone 'Mars/Olympus_Mons'"),
    ],
)
def test_invalid_labs_name_the_problem(data: dict[str, object], needle: str) -> None:
    with pytest.raises(LabError, match="invalid lab") as excinfo:
        Lab.from_dict(data)
    assert needle in str(excinfo.value)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(LabError, match=r"missing\.yaml"):
        Lab.from_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("devices: [unclosed\n")
    with pytest.raises(LabError, match="not valid YAML"):
        Lab.from_file(bad)


async def test_unset_password_env_and_bad_initial_config_fail_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("QKD_SIM_TEST_PW", raising=False)
    lab = Lab.from_dict({"devices": [{"name": "r1", "password_env": "QKD_SIM_TEST_PW"}]})
    with pytest.raises(LabError, match="QKD_SIM_TEST_PW"):
        async with lab.serve():
            pass
    broken = Lab.from_dict(base(config="set system host-name"))
    with pytest.raises(LabError, match="initial config"):
        async with broken.serve():
            pass


def test_time_zone_becomes_system_time_zone_of_the_device() -> None:
    from qkd_macsec.sim.fabric import Fabric
    from qkd_macsec.sim.lab import build_device

    lab = Lab.from_dict(base(time_zone="Europe/Berlin", config="set system host-name r1"))
    device = build_device(lab.spec.devices[0], Fabric(), 60.0)
    assert "set system time-zone Europe/Berlin" in device.committed.to_set()
    assert str(device.time_zone) == "Europe/Berlin"
    assert device.local_time_text(1796110200.0) == "2026-12-01 08:30:00 CET"  # 07:30 UTC
