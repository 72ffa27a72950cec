"""Every platform passes the same checks: the Driver contract, rendering (secrets masked in the
preview, slots bounded by its own range), name rules that refuse injection, and the parsing of
its recorded replies — Junos' real-device recordings and the test-only FakeOS's alike.

Parametrised over the registry plus the test-only platforms; a platform registered without a
kit fails ``test_every_registered_platform_has_a_kit``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qkd_macsec.devices.base import (
    ChangeSet,
    DeviceConnectError,
    DeviceError,
    DeviceTarget,
    Driver,
    KeyChainEntry,
    StaticKey,
)
from qkd_macsec.devices.names import ConfigRenderError
from qkd_macsec.devices.platform import EndSettings, Platform, platform_names
from qkd_macsec.secret import Secret
from support import fake_platform, iosxr_kit, junos_kit, nxos_kit
from support.platform_kit import PlatformKit

KITS: dict[str, PlatformKit] = {
    "junos": junos_kit.KIT,
    "iosxr": iosxr_kit.KIT,
    "nxos": nxos_kit.KIT,
    fake_platform.NAME: fake_platform.KIT,
}
CONTRACT = sorted(
    name for name, member in vars(Driver).items() if callable(member) and not name.startswith("_")
)
CAK = bytes(range(0xA0, 0xC0))  # 32 bytes, recognisable in any text
CKN = "abcd1234abcd5678abcd1234abcd5678" + "0" * 30 + "42"
INJECTIONS = ["x;y", "a b", "x\ndelete", 'x"', "x{", "#x", ""]


@pytest.fixture(params=sorted(KITS))
def kit(request: pytest.FixtureRequest) -> PlatformKit:
    return KITS[request.param]


@pytest.fixture
def platform(kit: PlatformKit) -> Iterator[Platform]:
    with kit.platform() as registered:
        yield registered


def target(name: str = "r1", **overrides: object) -> DeviceTarget:
    values: dict[str, object] = {
        "name": name,
        "host": "127.0.0.1",
        "port": 1,  # nothing listens there: a network driver fails fast and typed
        "user": "netconf",
        "password": Secret(b"pw"),
        "insecure_host_keys": True,
        "timeout": 2.0,
    }
    values.update(overrides)
    return DeviceTarget(**values)  # type: ignore[arg-type]


def changes_for(kit: PlatformKit, platform: Platform) -> ChangeSet:
    chain = kit.binding.key_chain or "KC"
    return ChangeSet(
        bindings=[kit.binding],
        add_entries=[
            KeyChainEntry(chain, platform.slots - 1, CKN, Secret(CAK), datetime(2026, 12, 1, 7))
        ],
        remove_entries=[(chain, 0)],
        static_keys=[StaticKey("CA_psk", CKN, Secret(CAK))],
    )


def test_every_registered_platform_has_a_kit() -> None:
    assert set(platform_names()) <= set(KITS)


# ------------------------------------------------------------------------------------ contract
def test_the_driver_implements_every_verb_of_the_contract(platform: Platform) -> None:
    driver = platform.create(target())
    assert isinstance(driver, Driver)
    for verb in CONTRACT:
        implemented = getattr(type(driver), verb, None)
        assert implemented is not None, f"{platform.name} driver lacks {verb}"
        expected = list(inspect.signature(getattr(Driver, verb)).parameters)
        assert list(inspect.signature(implemented).parameters) == expected, verb
    assert driver.is_alive() is False
    driver.close()  # closing an unopened driver is a no-op


def test_an_unreachable_device_fails_with_a_typed_connect_error(platform: Platform) -> None:
    driver = platform.create(target("nowhere"))
    with pytest.raises(DeviceConnectError) as caught:
        driver.open()
    assert caught.value.device == "nowhere"
    driver.close()


def test_a_passed_deadline_stops_the_session_before_it_starts(platform: Platform) -> None:
    driver = platform.create(target("nowhere"))
    driver.set_deadline(1.0)  # long gone
    with pytest.raises(DeviceError):
        driver.open()


def test_bad_input_is_refused_before_any_io(kit: PlatformKit, platform: Platform) -> None:
    driver = platform.create(target("nowhere"))  # never opened: refusal must come first
    bad = replace(changes_for(kit, platform), remove_entries=[("KC", platform.slots)])
    with pytest.raises(ConfigRenderError):
        driver.apply(bad, comment="conformance")
    with pytest.raises(ConfigRenderError):
        driver.render(bad)


def test_a_reachable_device_answers_the_read_verbs(kit: PlatformKit, platform: Platform) -> None:
    if kit.reachable_device is None:
        pytest.skip("reached over the network only (integration tests)")
    driver = platform.create(target(kit.reachable_device))
    driver.open()
    try:
        assert driver.is_alive()
        assert driver.device_time().now.tzinfo is not None
        result = driver.apply(changes_for(kit, platform), comment="conformance")
        assert result.changed
        assert driver.preview(changes_for(kit, platform)) == 0  # already there
        assert [e.slot for e in driver.key_chain(kit.binding.key_chain or "KC")] == [
            platform.slots - 1
        ]
        assert driver.macsec_bindings() == {kit.binding.interface: kit.binding.ca}
        assert CAK.hex() not in repr(driver.macsec_config())
    finally:
        driver.close()


# ----------------------------------------------------------------------------------- rendering
def test_a_change_set_renders_and_its_preview_masks_every_secret(
    kit: PlatformKit, platform: Platform
) -> None:
    changes = changes_for(kit, platform)
    real = platform.render(changes, False)
    masked = platform.render(changes, True)
    assert CAK.hex() in real.lower()
    assert CAK.hex() not in masked.lower()
    assert CAK.hex()[:16] not in masked.lower()
    assert masked == platform.create(target()).render(changes)  # the driver's preview verb


def test_the_platform_extras_of_a_binding_render(kit: PlatformKit, platform: Platform) -> None:
    """What ``binding_options`` makes of the seed's per-end settings, its renderer takes."""
    settings = EndSettings(
        parameters=(("kme-host", "kme-a.example.net"), ("kme-port", "8443")),
        name_addresses=(("kme-a.example.net", "192.0.2.10"),),
    )
    binding = replace(kit.binding, options=platform.binding_options(settings))
    with_extras = platform.render(ChangeSet(bindings=[binding]), False)
    plain = platform.render(ChangeSet(bindings=[kit.binding]), False)
    assert plain in with_extras or set(plain.splitlines()) <= set(with_extras.splitlines())


def test_slots_are_bounded_by_the_platform_range(kit: PlatformKit, platform: Platform) -> None:
    changes = changes_for(kit, platform)
    entry = changes.add_entries[0]
    platform.render(ChangeSet(add_entries=[replace(entry, slot=0)]), False)
    for slot in (-1, platform.slots):
        with pytest.raises(ConfigRenderError):
            platform.render(ChangeSet(add_entries=[replace(entry, slot=slot)]), False)


def test_rendered_key_chain_entries_read_back_as_written(
    kit: PlatformKit, platform: Platform
) -> None:
    """What the renderer writes, the platform's own key-chain parser reads (slot, CKN, start)."""
    chain = kit.binding.key_chain or "KC"
    # naive start-times: the device's own wall clock (UTC here)
    starts = {0: datetime(2026, 12, 1, 7, 30, 58), platform.slots - 1: kit.far_start}
    entries = [
        KeyChainEntry(chain, slot, f"{slot + 1:02x}" * 32, Secret(CAK), start)
        for slot, start in starts.items()
    ]
    text = platform.render(ChangeSet(add_entries=entries), True)
    read = platform.parse_key_chain(text, chain)
    assert [(e.slot, e.ckn, e.start_time) for e in read] == [
        (e.slot, e.ckn, e.start_time.replace(tzinfo=UTC)) for e in entries
    ]


def test_the_declared_limits_agree_with_the_name_rules_and_the_renderer(
    kit: PlatformKit, platform: Platform
) -> None:
    """What ``limits`` declares is what the platform's own rules and renderer do: the range
    ends are accepted, the longest CKN prefix that fits is accepted, and a CKN is written in the
    declared case (the same hex value either way)."""
    limits, rules = platform.limits, platform.names
    if limits.transmit_interval_ms is not None:
        for interval in limits.transmit_interval_ms:
            assert rules.transmit_interval_ms(interval) == interval
    for priority in limits.key_server_priority:
        assert rules.key_server_priority(priority) == priority
    longest = "ab" * ((limits.max_ckn_hex - 32) // 2)
    assert rules.ckn_prefix(longest).lower() == longest
    chain = kit.binding.key_chain or "KC"
    ckn = "abcdef" + "0" * 56 + "2a"
    entry = KeyChainEntry(chain, 0, ckn, Secret(CAK), datetime(2026, 12, 1, 7, 30, 58))
    text = platform.render(ChangeSet(add_entries=[entry]), True)
    written = ckn.upper() if limits.ckn_upper_case else ckn
    assert written in text
    if limits.ckn_upper_case:
        assert ckn not in text


@pytest.mark.parametrize("injection", INJECTIONS)
def test_name_rules_refuse_injection(kit: PlatformKit, platform: Platform, injection: str) -> None:
    rules = platform.names
    for rule, good in (
        (rules.interface, kit.binding.interface),
        (rules.connectivity_association, kit.binding.ca),
        (rules.key_chain, kit.binding.key_chain or "KC"),
    ):
        assert rule(good) == good
        with pytest.raises(ConfigRenderError):
            rule(good + injection if injection else injection)
    assert rules.ckn_prefix("ABCD") == "abcd"
    with pytest.raises(ConfigRenderError):
        rules.ckn_prefix("abc" + injection)


# ------------------------------------------------------------------------------------- parsing
def test_recorded_key_chain_replies_parse(kit: PlatformKit, platform: Platform) -> None:
    for recorded in kit.key_chains:
        entries = platform.parse_key_chain(recorded.path.read_text(), recorded.chain)
        assert tuple(e.slot for e in entries) == recorded.slots, recorded.path.name
        for entry in entries:
            assert entry.chain == recorded.chain
            assert entry.ckn == entry.ckn.lower()
            assert bytes.fromhex(entry.ckn)
            assert entry.start_time.tzinfo is not None
            assert 0 <= entry.slot < platform.slots


def test_recorded_mka_replies_parse(kit: PlatformKit, platform: Platform) -> None:
    for recorded in kit.mka:
        sessions = platform.parse_mka_sessions(recorded.path.read_text())
        live = {(s.interface, s.cak_name) for s in sessions if s.live}
        assert live == recorded.live, recorded.path.name


def test_a_malformed_reply_is_a_typed_error(kit: PlatformKit, platform: Platform) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each platform's own ValueError subclass
        platform.parse_key_chain(kit.malformed_key_chain, kit.binding.key_chain or "KC")


def test_recorded_replies_exist(kit: PlatformKit) -> None:
    paths: list[Path] = [r.path for r in kit.key_chains] + [r.path for r in kit.mka]
    assert paths
    assert all(p.is_file() for p in paths)
