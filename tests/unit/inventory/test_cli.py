"""`qkd-macsec inventory check | import-seed | example`: exit codes, messages, no tracebacks."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from qkd_macsec.cli import cli, main
from qkd_macsec.cli.errors import CliError
from qkd_macsec.cli.inventory import group
from qkd_macsec.inventory import load_inventory

SAMPLE = Path(__file__).parents[3] / "src/qkd_macsec/data/examples/seed_targets.json"
ENV = "QKD_TEST_ROUTER_PASSWORD"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


@pytest.fixture
def root_cli() -> Iterator[None]:
    """The real entry point with the inventory group registered (until the lead wires it)."""
    added = "inventory" not in cli.commands
    if added:
        cli.add_command(group)
    yield
    if added:
        cli.commands.pop("inventory")


def _run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


def _bad_input(result: Result) -> str:
    """The CliError a command raised (main() turns it into exit 2 + one line on stderr)."""
    assert isinstance(result.exception, CliError), result.output
    assert result.exception.exit_code == 2
    return str(result.exception)


def _complete_files(tmp_path: Path, doc: dict[str, Any]) -> None:
    """Create every file the base document refers to (private ones 0600)."""
    (tmp_path / "known_hosts").write_text("")
    (tmp_path / "certs").mkdir()
    for name in ("ca.pem", "ca-b.pem"):
        (tmp_path / "certs" / name).write_text("cert")
    for host in doc["hosts"].values():
        for key in ("cert", "key"):
            path = tmp_path / host["tls"][key]
            path.write_text("x")
            path.chmod(0o600)
    doc["hosts"]["mx304-12"]["tls"]["ca"] = "certs/ca.pem"


def test_check_good_inventory_prints_summary(
    runner: CliRunner,
    write_inventory: Any,
    doc: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _complete_files(tmp_path, doc)
    path = write_inventory(doc)
    monkeypatch.setenv(ENV, "whatever-pw-123")
    result = runner.invoke(group, ["check", str(path)])
    assert result.exit_code == 0, result.output
    for text in ("mx304-11", "192.0.2.12:2222", "core-11-12", "CA_group", "et-0/0/9", "1m30s"):
        assert text in result.stdout
    assert f"env {ENV}" in result.stdout
    assert "whatever-pw-123" not in result.output
    assert f"{path}: OK" in result.stderr


@pytest.mark.parametrize("columns", ["80", "120"])
def test_check_summary_fits_the_terminal(
    runner: CliRunner,
    write_inventory: Any,
    doc: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    columns: str,
) -> None:
    """Hosts and links tables: no line wider than the terminal, no header or cell cut."""
    _complete_files(tmp_path, doc)
    path = write_inventory(doc)
    monkeypatch.setenv(ENV, "whatever-pw-123")
    monkeypatch.setenv("COLUMNS", columns)
    result = runner.invoke(group, ["check", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= int(columns), result.stdout
    assert "…" not in result.stdout
    for header in ("host", "address", "SAE ID", "groups", "link", "CA / chain", "slaves"):
        assert any(header in line for line in lines), header
    for cell in ("192.0.2.12:2222", "core-11-12", f"env {ENV}"):
        assert any(cell in line for line in lines), cell


def test_check_reports_missing_files_unless_structure_only(
    runner: CliRunner, write_inventory: Any, doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    path = write_inventory(doc)
    message = _bad_input(runner.invoke(group, ["check", str(path)]))
    assert "known_hosts file" in message
    assert f"environment variable {ENV} is not set" in message
    assert runner.invoke(group, ["check", "--structure-only", str(path)]).exit_code == 0


def test_check_with_host_selection_notes_skipped_links(
    runner: CliRunner, write_inventory: Any, doc: dict[str, Any]
) -> None:
    path = write_inventory(doc)
    result = runner.invoke(
        group, ["check", "--structure-only", "-H", "mx304-11", "-H", "mx304-12", str(path)]
    )
    assert result.exit_code == 0
    assert "note: link group-a skipped" in result.stderr
    assert "core-11-12" in result.stdout
    bad = runner.invoke(group, ["check", "--structure-only", "-H", "ghost", str(path)])
    assert "unknown host(s): ghost" in _bad_input(bad)


def test_check_bad_inventory_through_main_exits_2_without_traceback(
    root_cli: None, write_inventory: Any, doc: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    doc["links"][0]["master"]["interface"] = "et-0/0/9;x"
    path = write_inventory(doc)
    code, out, err = _run_main(["inventory", "check", str(path)], capsys)
    assert code == 2
    assert (
        f"{path}: links[0].master.interface: 'et-0/0/9;x' is not a valid Junos interface name"
        in err
    )
    assert "Traceback" not in err + out
    assert out == ""


def test_check_missing_file_through_main(
    root_cli: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run_main(["inventory", "check", str(tmp_path / "none.yaml")], capsys)
    assert code == 2
    assert "cannot read the file" in err
    assert "Traceback" not in err


def test_import_seed_writes_a_loadable_inventory_and_notes_on_stderr(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "inventory.yaml"
    result = runner.invoke(group, ["import-seed", str(SAMPLE), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "note: passwords were NOT copied: export QKD_ROUTER_PASSWORD" in result.stderr
    assert "CHANGE-ME" not in out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) & 0o022 == 0
    inventory = load_inventory(out)
    assert inventory.links[0].master.host == "mx304-11"
    again = runner.invoke(group, ["import-seed", str(SAMPLE), "-o", str(out)])
    assert "already exists" in _bad_input(again)
    forced = runner.invoke(
        group, ["import-seed", str(SAMPLE), "-o", str(out), "--force", "--mode", "pre-shared-key"]
    )
    assert forced.exit_code == 0
    assert load_inventory(out).links[0].key_chain is None


def test_import_seed_to_stdout(runner: CliRunner) -> None:
    result = runner.invoke(group, ["import-seed", str(SAMPLE), "-o", "-"])
    assert result.exit_code == 0
    assert yaml.safe_load(result.stdout)["hosts"]["mx10008-24"]["host"] == "192.0.2.24"
    assert "note:" not in result.stdout


def test_import_seed_bad_targets_through_main(
    root_cli: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = tmp_path / "targets.json"
    targets.write_text('{"r1": {"role": "boss", "ip": "192.0.2.1"}}')
    code, _, err = _run_main(
        ["inventory", "import-seed", str(targets), "-o", str(tmp_path / "x.yaml")], capsys
    )
    assert code == 2
    assert f"{targets}:" in err
    assert "'boss' is not master" in err
    assert "Traceback" not in err
    assert not (tmp_path / "x.yaml").exists()


def test_example_writes_the_seed_lab(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(group, ["example", str(tmp_path / "lab")])
    assert result.exit_code == 0, result.output
    inventory = load_inventory(tmp_path / "lab" / "inventory.yaml")
    assert len(inventory.hosts) == 4
    assert inventory.policy.journal == tmp_path / "lab" / "state/journal.sqlite"
    assert "already exists" in _bad_input(runner.invoke(group, ["example", str(tmp_path / "lab")]))


def test_check_names_each_hosts_platform_and_refuses_what_one_cannot_do(
    runner: CliRunner,
    write_inventory: Any,
    doc: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _complete_files(tmp_path, doc)
    doc["hosts"]["mx304-12"]["platform"] = "iosxr"
    doc["links"] = doc["links"][:1]
    doc["links"][0]["slaves"] = [{"host": "mx304-12", "interface": "HundredGigE0/0/0/1"}]
    doc["links"][0]["mka"] = {"key_server_priority": 16}
    monkeypatch.setenv(ENV, "whatever-pw-123")
    result = runner.invoke(group, ["check", str(write_inventory(doc))])
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "│ iosxr " in rows["mx304-12"]
    assert "│ junos " in rows["mx304-11"]
    doc["links"][0]["mka"] = {"exclude_protocols": ["lldp"]}
    message = _bad_input(runner.invoke(group, ["check", str(write_inventory(doc))]))
    assert "links[0].mka.exclude_protocols[0]" in message
    assert "on host mx304-12, platform iosxr" in message
