"""Credentials by reference: env and 0600 files resolve lazily; nothing ever echoes the value."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.inventory import (
    CredentialError,
    InventoryError,
    check_local_files,
    load_inventory,
)
from qkd_macsec.obs.logging import redact
from qkd_macsec.secret import Secret

CANARY = "canary-pw-7f3a9c2e"
ENV = "QKD_TEST_ROUTER_PASSWORD"


def _load_with_password(write_inventory: Any, doc: dict[str, Any], password: Any) -> Any:
    doc["defaults"]["password"] = password
    return load_inventory(write_inventory(doc))


def test_env_reference_resolves_at_call_time(
    write_inventory: Any, doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    inventory = load_inventory(write_inventory(doc))  # loading needs no secret
    host = inventory.hosts["mx304-11"]
    monkeypatch.setenv(ENV, CANARY)
    secret = host.resolve_password()
    assert isinstance(secret, Secret)
    assert secret.reveal_text() == CANARY
    assert CANARY not in repr(host)
    assert CANARY not in repr(secret)
    assert redact(f"login with {CANARY}") == "login with <redacted>"


def test_env_reference_with_explicit_environ(write_inventory: Any, doc: dict[str, Any]) -> None:
    host = load_inventory(write_inventory(doc)).hosts["mx304-12"]
    secret = host.resolve_password({ENV: CANARY})
    assert secret is not None
    assert secret.reveal_text() == CANARY


@pytest.mark.parametrize(("environ", "fragment"), [({}, "is not set"), ({ENV: ""}, "is empty")])
def test_env_problems_name_field_and_variable(
    write_inventory: Any, doc: dict[str, Any], environ: dict[str, str], fragment: str
) -> None:
    path = write_inventory(doc)
    host = load_inventory(path).hosts["mx304-11"]
    with pytest.raises(CredentialError) as caught:
        host.resolve_password(environ)
    assert str(caught.value) == (
        f"{path}: defaults.password: environment variable {ENV} {fragment}"
    )


def test_file_reference_0600_resolves_relative_to_the_inventory(
    write_inventory: Any, doc: dict[str, Any], tmp_path: Path
) -> None:
    secret_file = tmp_path / "secrets" / "router.pw"
    secret_file.parent.mkdir()
    secret_file.write_text(CANARY + "\n")
    secret_file.chmod(0o600)
    inventory = _load_with_password(write_inventory, doc, {"file": "secrets/router.pw"})
    secret = inventory.hosts["mx304-11"].resolve_password()
    assert secret is not None
    assert secret.reveal_text() == CANARY  # trailing newline stripped
    assert not any("password" in p for p in check_local_files(inventory))


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_file_reference_readable_by_others_is_refused(
    write_inventory: Any, doc: dict[str, Any], tmp_path: Path, mode: int
) -> None:
    secret_file = tmp_path / "router.pw"
    secret_file.write_text(CANARY)
    secret_file.chmod(mode)
    inventory = _load_with_password(write_inventory, doc, {"file": "router.pw"})
    with pytest.raises(CredentialError) as caught:
        inventory.hosts["mx304-11"].resolve_password()
    message = str(caught.value)
    assert "defaults.password:" in message
    assert f"(mode {mode:04o})" in message
    assert "chmod 600" in message
    assert str(secret_file) in message
    assert CANARY not in message


def test_missing_and_empty_secret_files(
    write_inventory: Any, doc: dict[str, Any], tmp_path: Path
) -> None:
    inventory = _load_with_password(write_inventory, doc, {"file": "nope.pw"})
    with pytest.raises(CredentialError, match=r"defaults.password: secret file .*nope.pw does not"):
        inventory.hosts["mx304-11"].resolve_password()
    empty = tmp_path / "empty.pw"
    empty.write_text("\n")
    empty.chmod(0o600)
    inventory = _load_with_password(write_inventory, doc, {"file": "empty.pw"})
    with pytest.raises(CredentialError, match="is empty"):
        inventory.hosts["mx304-11"].resolve_password()


def test_host_level_reference_overrides_and_is_named_in_errors(
    write_inventory: Any, doc: dict[str, Any]
) -> None:
    doc["groups"]["edge"]["password"] = {"env": "QKD_EDGE_PW"}
    inventory = load_inventory(write_inventory(doc))
    with pytest.raises(
        CredentialError, match=r"groups.edge.password: environment variable QKD_EDGE"
    ):
        inventory.hosts["mx304-12"].resolve_password({})
    assert inventory.hosts["mx10008-23"].password is not None
    assert inventory.hosts["mx10008-23"].password.env == ENV


def test_inline_password_refused_without_echo_then_allowed_on_request(
    write_inventory: Any, doc: dict[str, Any]
) -> None:
    with pytest.raises(InventoryError) as caught:
        _load_with_password(write_inventory, doc, CANARY)
    assert "defaults.password: inline passwords are refused" in str(caught.value)
    assert CANARY not in str(caught.value)
    doc["allow_inline_secrets"] = True
    inventory = _load_with_password(write_inventory, doc, CANARY)
    host = inventory.hosts["mx304-11"]
    assert CANARY not in repr(host)
    assert CANARY not in repr(inventory.hosts)
    assert host.auth_summary == "password (inline)"
    secret = host.resolve_password()
    assert secret is not None
    assert secret.reveal_text() == CANARY


def test_canary_never_reaches_logs(
    write_inventory: Any,
    doc: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV, CANARY)
    with caplog.at_level(logging.DEBUG):
        inventory = load_inventory(write_inventory(doc))
        inventory.hosts["mx304-11"].resolve_password()
        check_local_files(inventory)
    assert CANARY not in caplog.text


def test_check_local_files_reports_missing_and_public_keys(
    write_inventory: Any, doc: dict[str, Any], tmp_path: Path
) -> None:
    doc["defaults"]["ssh_key"] = "id_ed25519"
    path = write_inventory(doc)
    (tmp_path / "known_hosts").write_text("")
    key = tmp_path / "id_ed25519"
    key.write_text("not really a key")
    key.chmod(0o644)
    inventory = load_inventory(path)
    problems = check_local_files(inventory, environ={ENV: CANARY})
    assert any(
        p.startswith("hosts.mx304-11.ssh_key: SSH private key") and "mode 0644" in p
        for p in problems
    )
    assert any(p.startswith("hosts.mx304-11.tls.cert: certificate") for p in problems)
    assert any(p.startswith("kmes.KME_A.ca: CA bundle") for p in problems)
    assert not any("known_hosts" in p for p in problems)
    assert not any("password" in p for p in problems)
    unset = check_local_files(inventory, environ={})
    assert f"defaults.password: environment variable {ENV} is not set" in unset
