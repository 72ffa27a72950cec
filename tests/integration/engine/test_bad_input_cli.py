"""A bad inventory stops the CLI with exit 2 and a message naming file and field — before any
router or KME is contacted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.testbed import StartTestbed, count_logins

MUTATIONS: list[tuple[str, Any]] = [
    ("interface", lambda d: d["links"][1]["master"].update(interface="et-0/0/10; delete")),
    ("connectivity_association", lambda d: d["links"][0].update(connectivity_association='C"x')),
    ("port", lambda d: d["hosts"]["mx304-11"].update(port="eight-thirty")),
    ("cipher_suite", lambda d: d["links"][1].update(cipher_suite="gcm-aes-512")),
    ("mx999", lambda d: d["links"][1]["slaves"][0].update(host="mx999")),
    ("key_chain", lambda d: d["links"][1].update(key_chain="KC\n}")),
]


def rotate(inventory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qkd_macsec", "rotate", "--force", "-i", str(inventory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_inventories_exit_2_and_contact_no_router(
    testbed_factory: StartTestbed, seed_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    testbed = testbed_factory(seed_doc)
    opened = count_logins(testbed, monkeypatch)
    good = rotate(testbed.inventory_path)
    assert good.returncode == 0, good.stderr
    assert set(opened) == set(testbed.inventory.hosts)  # the counter sees real logins
    opened.clear()

    for field, mutate in MUTATIONS:
        document = yaml.safe_load(testbed.inventory_path.read_text())
        mutate(document)
        bad = testbed.inventory_path.with_name("bad.yaml")
        bad.write_text(yaml.safe_dump(document))
        run = rotate(bad)
        assert run.returncode == 2, (field, run.stderr)
        assert "bad.yaml" in run.stderr, field
        assert field in run.stderr, (field, run.stderr)
        assert "Traceback" not in run.stderr + run.stdout
        assert opened == [], field
