"""Serving a lab from Python: passwords from the environment, device lookup."""

from __future__ import annotations

import pytest

from qkd_macsec.sim.lab import Lab, LabError


async def test_password_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QKD_SIM_TEST_PW", "from-env-123")
    lab = Lab.from_dict({"devices": [{"name": "r1", "password_env": "QKD_SIM_TEST_PW"}]})
    async with lab.serve() as running:
        device = running.device("r1")
        assert device.check_password("lab", "from-env-123")
        assert not device.check_password("lab", "other")
        assert running.port("r1") > 0
        with pytest.raises(LabError, match="no device named"):
            running.device("r9")


async def test_faults_from_the_lab_file() -> None:
    lab = Lab.from_dict(
        {
            "devices": [
                {
                    "name": "r1",
                    "password": "pw-123456",
                    "commit_latency_s": 0.25,
                    "faults": {"failing_commits": 2, "hang_rpcs": ["get-software-information"]},
                },
                {"name": "r2", "password": "pw-123456", "faults": {"refuse_connections": True}},
            ]
        }
    )
    async with lab.serve() as running:
        faults = running.device("r1").faults
        assert faults.failing_commits == 2
        assert faults.hang_rpcs == {"get-software-information"}
        assert faults.commit_latency_s == 0.25
        assert running.port("r2") > 0
        assert not running.endpoints["r2"].listening
        await running.refuse_connections("r2", False)
        assert running.endpoints["r2"].listening
    with pytest.raises(LabError, match="faults"):
        Lab.from_dict({"devices": [{"name": "r1", "password": "p", "faults": {"oops": 1}}]})
