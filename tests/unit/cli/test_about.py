"""``--version`` names the build and both OpenSSL libraries; completion scripts complete."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys

import pytest
from click.testing import CliRunner

from qkd_macsec import __version__
from qkd_macsec.cli import cli


def test_version_names_python_and_both_openssl_builds() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    first, second = result.output.splitlines()
    assert first == f"qkd-macsec {__version__}"
    assert ssl.OPENSSL_VERSION in second
    assert "cryptography bundles OpenSSL" in second


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_names_the_command(shell: str) -> None:
    result = CliRunner().invoke(cli, ["completion", shell])
    assert result.exit_code == 0
    assert "_QKD_MACSEC_COMPLETE" in result.output


def test_completion_completes_commands_and_options() -> None:
    """What bash asks for when the operator types ``qkd-macsec sta<TAB>`` and ``status --l``."""

    def complete(words: str) -> list[str]:
        env = {**os.environ, "_QKD_MACSEC_COMPLETE": "bash_complete", "COMP_WORDS": words}
        env["COMP_CWORD"] = str(len(words.split()) - 1)
        code = "from qkd_macsec.cli import main; main()"
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        return [line.split(",", 1)[1] for line in done.stdout.splitlines() if "," in line]

    assert complete("qkd-macsec sta") == ["status"]
    assert "--live" in complete("qkd-macsec status --l")
