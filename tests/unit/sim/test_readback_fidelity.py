"""Read-back as real Junos gives it (field evidence §1): normalised start-times with the zone
offset, ``$9$`` secrets everywhere, and what a time zone does to a key-chain start-time."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from lxml import etree

from qkd_macsec.sim.config import Configuration, macsec_interfaces
from qkd_macsec.sim.config.checks import CKN_LENGTH_WARNING, commit_warnings
from qkd_macsec.sim.config.present import decode_secret, encode_secret
from qkd_macsec.sim.config.zone import normalised_start_time, resolve_zone

CAK = "5e" * 16 + "a7" * 16  # 64 hex digits
CKN = "c0ffee" + "12" * 29  # 64 hex digits
KC = "set security authentication-key-chains key-chain KC key 1"
LINES = [
    "set security macsec connectivity-association CA cipher-suite gcm-aes-xpn-256",
    "set security macsec connectivity-association CA pre-shared-key-chain KC",
    "set security macsec interfaces et-0/0/9 connectivity-association CA",
    f"{KC} key-name {CKN}",
    f"{KC} secret {CAK}",
    f"{KC} start-time 2026-07-05.16:45",
]


def config(zone: str | None = None, *extra: str) -> Configuration:
    lines = [*LINES, *extra]
    if zone is not None:
        lines.append(f"set system time-zone {zone}")
    return Configuration.from_set("\n".join(lines))


def every_readback(cfg: Configuration) -> dict[str, str]:
    shown = cfg.presented()
    return {
        "xml": etree.tostring(shown.to_xml(), encoding="unicode"),
        "text": shown.to_text(),
        "set": shown.to_set(),
        "json": shown.to_json(),
    }


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        (None, "2026-7-5.16:45:00 +0000"),  # Junos' default zone is UTC
        ("UTC", "2026-7-5.16:45:00 +0000"),
        ("Europe/Berlin", "2026-7-5.16:45:00 +0200"),  # CEST in July
        ("America/St_Johns", "2026-7-5.16:45:00 -0230"),
    ],
)
def test_start_time_reads_back_normalised_with_the_zone_offset(
    zone: str | None, expected: str
) -> None:
    shown = every_readback(config(zone))
    assert f"<start-time>{expected}</start-time>" in shown["xml"]
    assert f'start-time "{expected}";' in shown["text"]
    assert f'{KC} start-time "{expected}"' in shown["set"]
    assert (
        json.loads(shown["json"])["configuration"]["security"]["authentication-key-chains"][
            "key-chain"
        ][0]["key"][0]["start-time"]
        == expected
    )


def test_offset_is_the_one_in_force_at_the_start_time() -> None:
    berlin = resolve_zone("Europe/Berlin")
    assert berlin is not None
    assert (
        normalised_start_time(datetime(2026, 12, 1, 9, 5, 7), berlin) == "2026-12-1.09:05:07 +0100"
    )
    assert normalised_start_time(datetime(2027, 3, 28, 3, 0), berlin) == "2027-3-28.03:00:00 +0200"


def test_secrets_read_back_as_dollar9_in_every_format_and_never_in_clear() -> None:
    cfg = config(
        None, f"set security macsec connectivity-association CB pre-shared-key ckn {CKN} cak {CAK}"
    )
    for form, text in every_readback(cfg).items():
        assert CAK not in text.lower(), form
        assert "$9$" in text, form
    assert cfg.to_set().count(CAK) == 2  # the stored configuration keeps the clear value


def test_compare_shows_dollar9_not_clear() -> None:
    old = config()
    new = config(None, f"{KC} secret {'11' * 32}")
    diff = new.presented().diff(old.presented(), mask_secrets=False)
    assert CAK not in diff
    assert "11" * 32 not in diff
    assert re.search(r'^-\s+secret "\$9\$[^"]+"; ## SECRET-DATA$', diff, re.M)
    assert re.search(r'^\+\s+secret "\$9\$[^"]+"; ## SECRET-DATA$', diff, re.M)


def test_dollar9_is_reversible_and_readback_loads_back_to_the_same_configuration() -> None:
    assert decode_secret(encode_secret(CAK)) == CAK
    assert encode_secret(CAK) != encode_secret("11" * 32)
    with pytest.raises(ValueError, match=r"\$9\$"):
        decode_secret("$9$!!")
    original = config("Europe/Berlin")
    for loader in ("set", "text"):
        again = Configuration()
        shown = original.presented()
        if loader == "set":
            again.load_set(shown.to_set())
        else:
            again.load_text(shown.to_text())
        assert again == original, loader


def test_start_time_is_read_in_the_device_zone() -> None:
    utc = macsec_interfaces(config())["et-0/0/9"].chain[0].start
    berlin = macsec_interfaces(config("Europe/Berlin"))["et-0/0/9"].chain[0].start
    assert utc == datetime(2026, 7, 5, 16, 45)
    assert berlin == datetime(2026, 7, 5, 14, 45)  # 16:45 CEST is 14:45 UTC
    assert berlin.replace(tzinfo=UTC) < utc.replace(tzinfo=UTC)


def test_unknown_time_zone_fails_commit_check() -> None:
    problems = config("Mars/Olympus_Mons").check()
    assert any("time-zone 'Mars/Olympus_Mons'" in str(p) for p in problems)
    assert config("GMT").check() == []


def test_short_ckn_commits_with_the_length_warning() -> None:
    assert commit_warnings(config().root) == []
    short = config(
        None,
        "set security authentication-key-chains key-chain KC key 2 key-name badc0ffe01",
        f"set security authentication-key-chains key-chain KC key 2 secret {CAK}",
        "set security authentication-key-chains key-chain KC key 2 start-time 2026-07-06.16:45",
    )
    (warning,) = commit_warnings(short.root)
    assert warning.message == CKN_LENGTH_WARNING
    assert "connectivity-association CA" in warning.path
    assert short.check() == []  # a warning, not an error


def test_pre_shared_key_ckn_and_cak_on_one_set_line() -> None:
    one = Configuration.from_set(
        f"set security macsec connectivity-association CB pre-shared-key ckn {CKN} cak {CAK}"
    )
    two = Configuration.from_set(
        f"set security macsec connectivity-association CB pre-shared-key ckn {CKN}\n"
        f"set security macsec connectivity-association CB pre-shared-key cak {CAK}"
    )
    assert one == two


def test_deleting_an_absent_statement_warns() -> None:
    cfg = config()
    cfg.load_set("delete security authentication-key-chains key-chain KC key 9")
    assert cfg.warnings == ["line 1: statement not found"]


def chain_with_two_keys(*extra: str) -> Configuration:
    return config(
        None,
        "set security authentication-key-chains key-chain KC key 2 key-name " + "dd" * 32,
        f"set security authentication-key-chains key-chain KC key 2 secret {CAK}",
        "set security authentication-key-chains key-chain KC key 2 start-time 2026-07-06.16:45",
        *extra,
    )


def test_deactivated_key_reads_back_inactive_and_takes_no_effect() -> None:
    path = "security authentication-key-chains key-chain KC key 2"
    cfg = chain_with_two_keys(f"deactivate {path}")
    assert [k.ckn for k in macsec_interfaces(cfg)["et-0/0/9"].chain] == [CKN]
    shown = every_readback(cfg)
    assert re.search(r"^\s+inactive: key 2 \{$", shown["text"], re.M)
    assert f"\ndeactivate {path}\n" in shown["set"]
    assert '<key inactive="inactive"><name>2</name>' in shown["xml"]
    keys = json.loads(shown["json"])["configuration"]["security"]["authentication-key-chains"]
    assert keys["key-chain"][0]["key"][1]["@"] == {"inactive": True}
    for loader in ("load_set", "load_text", "load_xml"):  # the read-back loads back the same
        again = Configuration()
        source = {"load_set": shown["set"], "load_text": shown["text"]}.get(loader)
        getattr(again, loader)(source if source is not None else cfg.presented().to_xml())
        assert again == cfg, loader
    cfg.load_set(f"activate {path}")
    assert [k.ckn for k in macsec_interfaces(cfg)["et-0/0/9"].chain] == [CKN, "dd" * 32]


def test_deactivated_time_zone_falls_back_to_utc_and_unknown_paths_warn() -> None:
    cfg = config(None, "set system time-zone Europe/Berlin", "deactivate system time-zone")
    assert '"2026-7-5.16:45:00 +0000"' in cfg.presented().to_set()
    assert "inactive: time-zone Europe/Berlin;" in cfg.presented().to_text()
    cfg.load_set("deactivate security macsec connectivity-association NOPE")
    assert cfg.warnings == ["line 1: statement not found"]


def test_inactive_statement_is_not_commit_checked() -> None:
    bad = "set security authentication-key-chains key-chain KC key 2 start-time 2026-07-05.16:45"
    assert chain_with_two_keys(bad).check()  # two keys with the same start-time
    path = "security authentication-key-chains key-chain KC key 2"
    assert chain_with_two_keys(bad, f"deactivate {path}").check() == []
