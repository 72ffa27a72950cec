"""Network file validation: every error names the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qkd_macsec.kme.config import NetworkFileError, load_network_file, parse_network


def base() -> dict[str, Any]:
    return {
        "kmes": [
            {"id": "KME_A", "server_cert": "a.pem", "server_key": "a.key", "ca": "ca.pem"},
            {"id": "KME_B", "server_cert": "b.pem", "server_key": "b.key", "ca": "ca.pem"},
        ],
        "saes": [{"id": "sae-a", "kme": "KME_A"}, {"id": "sae-b", "kme": "KME_B"}],
        "links": [{"kmes": ["KME_A", "KME_B"]}],
    }


def problems(data: object) -> list[tuple[str, str]]:
    with pytest.raises(NetworkFileError) as caught:
        parse_network(data, "net.yaml")
    assert str(caught.value).startswith("net.yaml: ")
    return caught.value.problems


def fields(data: object) -> list[str]:
    return [field for field, _ in problems(data)]


def test_valid_defaults() -> None:
    spec = parse_network(base())
    kme = spec.kme("KME_A")
    assert kme.dialect == "etsi"
    assert kme.listen.port == 0
    assert kme.max_key_per_request == 128
    link = spec.link("KME_B", "KME_A")
    assert link is not None
    assert (link.key_size_bits, link.key_ttl_s, link.sync_delay_ms) == (256, 600, 0)


def test_field_errors_name_the_field() -> None:
    data = base()
    data["kmes"][0]["listen"] = {"port": 70000}
    data["kmes"][1]["dialect"] = "weird"
    data["kmes"][1]["faults"] = {"error_503_rate": 2}
    data["links"][0]["key_size_bits"] = 250
    assert fields(data) == [
        "kmes[0].listen.port",
        "kmes[1].dialect",
        "kmes[1].faults.error_503_rate",
        "links[0].key_size_bits",
    ]


def test_typos_are_refused() -> None:
    data = base()
    data["kmes"][0]["max_keys_per_request"] = 5
    assert fields(data) == ["kmes[0].max_keys_per_request"]


def test_cross_references() -> None:
    data = base()
    data["saes"].append({"id": "sae-a", "kme": "KME_Z"})
    data["links"].append({"kmes": ["KME_B", "KME_A"]})
    data["links"].append({"kmes": ["KME_A", "KME_A"]})
    found = problems(data)
    assert ("saes[2].id", "duplicate SAE ID 'sae-a'") in found
    assert ("saes[2].kme", "unknown KME 'KME_Z'") in found
    assert ("links[1].kmes", "duplicate link KME_B-KME_A") in found
    assert ("links[2].kmes", "a link joins two different KMEs") in found


def test_top_level_must_be_a_mapping() -> None:
    assert problems([1, 2]) == [("", "top level must be a mapping with kmes/saes/links")]


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(NetworkFileError, match=r"missing\.yaml: cannot read"):
        load_network_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kmes: [\n")
    with pytest.raises(NetworkFileError, match=r"bad\.yaml: line \d+: not valid YAML"):
        load_network_file(bad)


def test_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "certs").mkdir()
    for name in ("a.pem", "a.key", "b.pem", "b.key", "ca.pem"):
        (tmp_path / "certs" / name).write_text("x")
    data = base()
    for kme in data["kmes"]:
        for key in ("server_cert", "server_key", "ca"):
            kme[key] = f"certs/{kme[key]}"
    (tmp_path / "net.yaml").write_text(yaml.safe_dump(data))
    spec = load_network_file(tmp_path / "net.yaml")
    assert spec.kme("KME_B").server_key == (tmp_path / "certs" / "b.key").resolve()
    (tmp_path / "certs" / "b.key").unlink()
    with pytest.raises(NetworkFileError) as caught:
        load_network_file(tmp_path / "net.yaml")
    assert caught.value.problems[0][0] == "kmes[1].server_key"
    assert "net.yaml: kmes[1].server_key: file not found" in str(caught.value)
