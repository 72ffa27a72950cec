"""CLI command parsing for the <command> RPC."""

from __future__ import annotations

import pytest

from qkd_macsec.sim.netconf.errors import RpcFailure
from qkd_macsec.sim.netconf.handlers.commands import match_command, parse_command, path_filter


def test_parse_splits_words_and_pipes() -> None:
    words, pipes = parse_command("show security mka sessions |  display   xml rpc")
    assert words == ["show", "security", "mka", "sessions"]
    assert pipes == ["display xml rpc"]


def test_parse_rejects_unbalanced_quotes() -> None:
    with pytest.raises(RpcFailure):
        parse_command('show configuration "oops')


@pytest.mark.parametrize(
    ("line", "rpc", "interface"),
    [
        ("show security mka sessions", "get-mka-session-information", None),
        ("show security mka sessions summary", "get-mka-session-information", None),
        (
            "show security mka sessions interface et-0/0/9",
            "get-mka-session-information",
            "et-0/0/9",
        ),
        ("show security macsec connections", "get-macsec-connection-information", None),
        ("show system uptime", "get-system-uptime-information", None),
        ("show version invoke-on all-routing-engines", "get-software-information", None),
        ("show log messages", "get-log", None),
    ],
)
def test_known_commands(line: str, rpc: str, interface: str | None) -> None:
    found = match_command(parse_command(line)[0])
    assert found is not None
    assert found[0].rpc_name == rpc
    assert found[1] == interface


@pytest.mark.parametrize("line", ["show bogus", "show system uptime extra words", "request reboot"])
def test_unknown_commands(line: str) -> None:
    assert match_command(parse_command(line)[0]) is None


def test_path_filter_turns_entry_names_into_name_children() -> None:
    selector = path_filter(["security", "macsec", "connectivity-association", "CA1"])
    assert selector.findtext("security/macsec/connectivity-association/name") == "CA1"
    interfaces = path_filter(["interfaces", "et-0/0/9"])
    assert interfaces.findtext("interfaces/interface/name") == "et-0/0/9"
