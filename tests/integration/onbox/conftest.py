"""Fixtures: a testbed with an on-box runtime on every simulated router (no controller)."""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from qkd_macsec.onbox.config import OnboxOptions
from qkd_macsec.sim.config.macsec_view import macsec_interfaces
from qkd_macsec.testbed.builder import Testbed, TestbedOptions, bundled_example, start_testbed
from testkit.onbox_harness import OnboxHarness


def seed_doc(only_links: list[str] | None = None) -> dict[str, Any]:
    """The bundled seed lab, optionally cut down to some links and the routers they use."""
    doc = copy.deepcopy(bundled_example())
    if only_links is not None:
        doc["links"] = [link for link in doc["links"] if link["name"] in only_links]
        used = {link["master"]["host"] for link in doc["links"]} | {
            s["host"] for link in doc["links"] for s in link["slaves"]
        }
        doc["hosts"] = {n: h for n, h in doc["hosts"].items() if n in used}
    return doc


OnboxFactory = Callable[..., tuple[Testbed, OnboxHarness]]


@pytest.fixture
def onbox_factory(tmp_path: Path) -> Iterator[OnboxFactory]:
    """Start a testbed and an on-box harness on it; both are stopped at the end of the test."""
    with ExitStack() as stack:

        def start(
            only_links: list[str] | None = None,
            *,
            delay_s: float = 3.0,
            interval_s: float = 0.5,
            transport: str = "push",
            testbed: dict[str, Any] | None = None,
            serve_files: bool = False,
            configure: bool = True,
        ) -> tuple[Testbed, OnboxHarness]:
            directory = tmp_path / f"tb{len(stack._exit_callbacks)}"
            bed = stack.enter_context(
                start_testbed(
                    seed_doc(only_links),
                    directory,
                    TestbedOptions(preceding_hold_s=30.0, **(testbed or {})),
                )
            )
            options = OnboxOptions(
                activation_delay_s=delay_s,
                rotation_interval_s=interval_s,
                transport=transport,
                script_user=bed.inventory.hosts[next(iter(bed.inventory.hosts))].user,
            )
            harness = OnboxHarness(bed, directory / "onbox", options, serve_files=serve_files)
            stack.callback(harness.close)
            if configure:
                harness.configure()
            return bed, harness

        yield start


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until true or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def state_of(harness: OnboxHarness, router: str) -> dict[str, Any]:
    path = harness.routers[router].home / "qkd" / "state" / "state.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def current_key_id(harness: OnboxHarness, router: str, link: str) -> str | None:
    try:
        current = state_of(harness, router)["links"][link]["current"]
    except (FileNotFoundError, KeyError):
        return None
    return None if current is None else str(current["key_id"])


def chain_slots(bed: Testbed, router: str, interface: str) -> dict[int, str]:
    """Key-chain slot -> CKN committed on a router's interface (read from the simulator)."""
    view = macsec_interfaces(bed.lab.device(router).committed)[interface]
    return {key.key_id: key.ckn for key in view.chain}


def all_caks(bed: Testbed) -> set[str]:
    """Every CAK committed on any simulated router so far, as hex (for leak scans)."""
    caks: set[str] = set()
    for name in bed.inventory.hosts:
        for record in bed.lab.device(name).history:
            for view in macsec_interfaces(record.config).values():
                caks.update(key.cak.hex() for key in view.chain)
    return caks


def assert_no_key_material(bed: Testbed, harness: OnboxHarness, extra_text: str = "") -> None:
    caks = all_caks(bed)
    assert caks, "no CAK was ever committed: the scan would prove nothing"
    texts = [extra_text] + [p.read_text(errors="replace") for p in harness.files()]
    for cak in caks:
        b64 = base64.b64encode(bytes.fromhex(cak)).decode()
        for text in texts:
            assert cak not in text.lower()
            assert b64 not in text


def wait_until_due(harness: OnboxHarness, master: str, link: str) -> None:
    """Wait until the link's next rotation is due (its current key started an interval ago)."""
    start = state_of(harness, master)["links"][link]["current"]["start"]
    interval = harness.options.rotation_interval_s or 0.0
    wait_for(lambda: time.time() >= start + interval, interval + 5, f"{link} due again")


def write_inventory(bed: Testbed, harness: OnboxHarness, path: Path) -> Path:
    """The testbed's inventory file, pointing at the harness's (file-serving) router ports."""
    doc = yaml.safe_load(bed.inventory_path.read_text())
    for name, host in harness.inventory.hosts.items():
        doc["hosts"][name]["port"] = host.port
    base = bed.inventory_path.parent
    for spec in doc["hosts"].values():  # keep relative paths working from the new location
        for key in ("cert", "key"):
            spec["tls"][key] = str((base / spec["tls"][key]).resolve())
    for spec in doc["kmes"].values():
        spec["ca"] = str((base / spec["ca"]).resolve())
    for key in ("known_hosts",):
        doc["defaults"][key] = str((base / doc["defaults"][key]).resolve())
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
    return path


class OnboxKit:
    """The helpers above, handed to tests as a fixture (test modules cannot import conftest)."""

    wait_for = staticmethod(wait_for)
    wait_until_due = staticmethod(wait_until_due)
    write_inventory = staticmethod(write_inventory)
    state_of = staticmethod(state_of)
    current_key_id = staticmethod(current_key_id)
    chain_slots = staticmethod(chain_slots)
    all_caks = staticmethod(all_caks)
    assert_no_key_material = staticmethod(assert_no_key_material)


@pytest.fixture
def kit() -> OnboxKit:
    return OnboxKit()


#: On-box modules -> xdist group. Two groups, balanced by their measured wall time (~half each),
#: so at most two on-box tests run at once; one group (all on one worker) was the suite's floor.
ONBOX_GROUPS = {
    "test_onbox_network": "onbox-rotation",
    "test_onbox_same_rules": "onbox-rotation",
    "test_onbox_failures": "onbox-faults",
    "test_certificates": "onbox-faults",
    "test_scp_pull": "onbox-faults",
    "test_deploy": "onbox-faults",
    "test_sim_file_store": "onbox-faults",
    "test_onbox_hybrid": "onbox-modes",
    "test_onbox_time_zones": "onbox-modes",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """On-box runs are real processes racing real start-times: each test runs on a worker that
    runs no other on-box test of its group meanwhile (``--dist loadgroup``), so no more than
    three of them race each other for the CPU. Each test has its own testbed, routers and state
    directory."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            group = ONBOX_GROUPS.get(item.path.stem, "onbox-faults")
            item.add_marker(pytest.mark.xdist_group(group))
