"""The gatherer reads every step even when one fails, and always closes the session."""

from __future__ import annotations

from qkd_macsec.devices.base import DeviceReplyError, DeviceTimeoutError, NtpState
from qkd_macsec.preflight.checks import router_findings
from qkd_macsec.preflight.gather import gather_router
from qkd_macsec.preflight.model import Severity
from support.engine_fakes import FakeDriver, FakeNetwork, make_link

LINK = make_link("l1", "a", "b")


class Flaky(FakeDriver):
    closed = False

    def ntp_status(self) -> NtpState:
        raise DeviceReplyError(self.router.name, "ntp: unexpected reply")

    def commit_check(self) -> bool:
        raise DeviceTimeoutError(self.router.name, "commit: no reply within 30s")

    def close(self) -> None:
        self.closed = True


def test_a_failed_step_is_recorded_and_the_others_still_run() -> None:
    net = FakeNetwork()
    driver = Flaky(net, net.router("a"))
    facts = gather_router(driver, "a", [LINK])
    assert driver.closed
    assert facts.errors == {"ntp": "ntp: unexpected reply"}
    assert facts.facts is not None
    assert facts.clock is not None
    assert facts.interfaces["et-0/0/1"].exists
    found = {f.check: f.severity for f in router_findings(facts, [LINK], 5.0)}
    assert found["ntp"] is Severity.WARNING  # could not read: not proof of a problem
    assert found["commit"] is Severity.BLOCKER  # no answer to commit check: cannot commit
    assert found["interface"] is Severity.OK
