"""The built script runs on Junos's Python alone and derives exactly what off-box derives."""

from __future__ import annotations

import base64
import random
import uuid
from typing import Any

import pytest

from qkd_macsec.engine.planner import next_slot
from qkd_macsec.macsec import CipherSuite, CknMode, KeyLengthError, derive_macsec_key
from qkd_macsec.onbox.build import (
    MODULE_ORDER,
    BuildError,
    BuiltScript,
    bundle_source,
    check_imports,
)
from qkd_macsec.secret import Secret

SEED_KEY = base64.b64decode(
    "nK45tzFFjDA42/1Ko5B6Hz2wi35gr72VsiHyVbMD9X9qxRbH0Ke8D4NpHUy1nX96JeVF4x0p0q0iDLH9ldIb4Q=="
)
SEED_KEY_ID = "d9b6fa63-dd88-47d2-8afe-94fcecf40d19"


def _cases() -> list[dict[str, Any]]:
    rng = random.Random(20261126)
    cases = [
        {
            "key": SEED_KEY.hex(),
            "key_id": SEED_KEY_ID,
            "suite": "gcm-aes-xpn-256",
            "prefix": "abcd1234abcd5678abcd1234abcd5678",
            "mode": "prefix-uuid",
        },
        {
            "key": "01" * 16,
            "key_id": SEED_KEY_ID,
            "suite": "gcm-aes-256",
            "prefix": "abcd1234abcd5678abcd1234abcd5678",
            "mode": "prefix-uuid",
        },
    ]
    for _ in range(150):
        suite = rng.choice([s.value for s in CipherSuite])
        key = rng.randbytes(rng.choice([16, 24, 32, 48, 64]))
        key_id = rng.choice(
            [str(uuid.UUID(int=rng.getrandbits(128))), f"id-{rng.getrandbits(40)}", "x" * 7]
        )
        prefix = rng.randbytes(rng.randrange(0, 17)).hex()
        mode = rng.choice([m.value for m in CknMode])
        cases.append(
            {"key": key.hex(), "key_id": key_id, "suite": suite, "prefix": prefix, "mode": mode}
        )
    return cases


def _off_box(case: dict[str, Any]) -> dict[str, Any]:
    try:
        key = derive_macsec_key(
            Secret(bytes.fromhex(case["key"])),
            case["key_id"],
            CipherSuite(case["suite"]),
            ckn_prefix=case["prefix"],
            ckn_mode=CknMode(case["mode"]),
        )
    except KeyLengthError:
        return {"error": True}
    return {
        "cak": key.cak.reveal().hex(),
        "ckn": key.ckn,
        "truncated": key.truncated_from_bits is not None,
    }


def test_derivation_under_import_guard_equals_off_box(
    built_script: BuiltScript, run_guarded: Any
) -> None:
    cases = _cases()
    rng = random.Random(7)
    slot_cases = [
        {
            "used": rng.sample(range(64), rng.randrange(0, 63)),
            "after": rng.choice([None, *range(64)]),
        }
        for _ in range(100)
    ]
    answer = run_guarded(built_script.path, {"derive": cases, "slots": slot_cases})

    assert "load_error" not in answer, answer
    assert answer["refused"] == []
    assert answer["qkd_macsec_loaded"] is False
    assert answer["forbidden_loaded"] == []
    for case, got in zip(cases, answer["derive"], strict=True):
        want = _off_box(case)
        if "error" in want:
            assert "error" in got
        else:
            assert got == want
    seed = answer["derive"][0]
    assert seed["cak"] == "9cae39b731458c3038dbfd4aa3907a1f3db08b7e60afbd95b221f255b303f57f"
    assert seed["ckn"] == "abcd1234abcd5678abcd1234abcd5678d9b6fa63dd8847d28afe94fcecf40d19"
    assert seed["truncated"] is True
    assert answer["slots"] == [next_slot(c["used"], c["after"]) for c in slot_cases]


def test_guard_refuses_a_script_importing_cryptography(
    built_script: BuiltScript, run_guarded: Any, tmp_path: Any
) -> None:
    tampered = tmp_path / "qkd_onbox.py"
    tampered.write_text(
        built_script.path.read_text().replace(
            "import hashlib\n", "import hashlib\nimport cryptography\n", 1
        )
    )
    answer = run_guarded(tampered, {"derive": [], "slots": []})
    assert answer["refused"] == ["cryptography"]
    assert "not available on Junos" in answer["load_error"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import cryptography\n", "not available on Junos"),
        ("from OpenSSL import crypto\n", "not available on Junos"),
        ("import qkd_macsec.secret\n", "not available on Junos"),
        ("from . import derive\n", "relative import"),
        (
            "def f():\n    from qkd_macsec.core.slots import next_free_slot\n",
            "must be at top level",
        ),
    ],
)
def test_builder_refuses_forbidden_imports(source: str, message: str) -> None:
    import ast

    with pytest.raises(BuildError, match=message):
        check_imports("sample", ast.parse(source))


def test_bundle_is_deterministic_and_self_contained(built_script: BuiltScript) -> None:
    text = bundle_source()
    assert text == built_script.path.read_text()
    assert "from qkd_macsec" not in text
    assert text.count("from __future__ import annotations") == 1
    assert built_script.path.stat().st_mode & 0o777 == 0o644
    sidecar = built_script.path.with_name("qkd_onbox.py.sha256").read_text()
    assert sidecar.split()[0] == built_script.sha256


@pytest.mark.parametrize(
    ("source", "before", "message"),
    [
        ("from qkd_macsec.core.slots import next_free_slot as nfs\n", None, "aliased"),
        ("from qkd_macsec.core.slots import *\n", None, "star import"),
        ("import qkd_macsec.core.slots\n", None, "write 'from qkd_macsec.core.slots import"),
        ("from qkd_macsec.core.slots import next_free_slot\n", (), "comes later in the bundle"),
        ("from qkd_macsec.devices.junos_names import validate_slot\n", None, "not available"),
    ],
)
def test_builder_refuses_imports_that_stripping_would_break(
    source: str, before: tuple[str, ...] | None, message: str
) -> None:
    import ast

    order = MODULE_ORDER if before is None else before
    with pytest.raises(BuildError, match=message):
        check_imports("sample", ast.parse(source), order)


def test_builder_strips_a_plain_import_of_an_earlier_bundled_module() -> None:
    import ast

    source = "from __future__ import annotations\nfrom qkd_macsec.core.slots import (\n    x,\n)\n"
    assert check_imports("sample", ast.parse(source)) == [(1, 1), (2, 4)]


def test_builder_refuses_a_name_the_bundled_module_does_not_define(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qkd_macsec.onbox import build

    real = build._source
    wanted = "from qkd_macsec.core.slots import next_free_slot, slots_to_prune"

    def tampered(module: str) -> str:
        text = real(module)
        if module.endswith(".runtime"):
            assert wanted in text
            text = text.replace(wanted, wanted + ", no_such_rule")
        return text

    monkeypatch.setattr(build, "_source", tampered)
    with pytest.raises(BuildError, match=r"slots defines no top-level 'no_such_rule'"):
        bundle_source()
