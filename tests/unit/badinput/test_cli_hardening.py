"""The real ``qkd-macsec`` process (issue 11, part 6): bad inventories end with exit 2, the file
and the field, and no traceback; core dumps are off; ``status --help`` explains exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.unit.inventory.conftest import base_doc

REPO = Path(__file__).parents[3]


def run(home: Path, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qkd_macsec", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": str(home)},
    )


def interface_twice(doc: dict[str, Any]) -> None:
    doc["links"][1]["master"] = {"host": "mx304-11", "interface": "et-0/0/9.0"}


def known_hosts_injection(doc: dict[str, Any]) -> None:
    doc["defaults"]["known_hosts"] = 'kh"\n  ProxyCommand touch pwned\n#'


def unicode_digit(doc: dict[str, Any]) -> None:
    doc["links"][0]["master"]["interface"] = "et-0/0/\u0669"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (interface_twice, "links[1].master.interface"),
        (known_hosts_injection, "defaults.known_hosts"),
        (unicode_digit, "links[0].master.interface"),
    ],
)
def test_bad_inventory_exits_2_naming_file_and_field_without_traceback(
    tmp_path: Path, change: Any, field: str
) -> None:
    doc = base_doc()
    change(doc)
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    result = run(tmp_path, "inventory", "check", "--structure-only", str(path))
    assert result.returncode == 2, result.stderr
    assert f"{path}: {field}: " in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "pwned").exists()


def test_core_dumps_are_disabled_when_the_cli_starts() -> None:
    probe = (
        "import resource\n"
        "from qkd_macsec.cli import main\n"
        "from qkd_macsec.cli.hardening import is_dumpable\n"
        "before = resource.getrlimit(resource.RLIMIT_CORE)\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(resource.getrlimit(resource.RLIMIT_CORE), is_dumpable())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    last = result.stdout.strip().splitlines()[-1]
    expected_dumpable = "False" if sys.platform == "linux" else "None"
    assert last == f"(0, 0) {expected_dumpable}"


def test_the_service_unit_forbids_core_dumps() -> None:
    unit = (REPO / "deploy/systemd/qkd-macsec.service").read_text(encoding="utf-8")
    assert "\nLimitCORE=0\n" in unit


def test_status_help_says_what_exit_1_means(tmp_path: Path) -> None:
    result = run(tmp_path, "status", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "Exit status:" in text
    assert "1 some link needs attention: a rotation is still open" in text
    assert "FAILED" in text
