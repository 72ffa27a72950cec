"""The engine's view of links: who the ends are, which SAE each is, what goes into config.

Built from the inventory once per run; everything downstream (key fetch, staging, verify,
recovery) reads these frozen records instead of the raw inventory.
"""

from __future__ import annotations

from dataclasses import dataclass

from qkd_macsec.engine.planner import SLOTS, KeyMode, LinkView
from qkd_macsec.macsec import CipherSuite, CknMode, KeyDerivation


@dataclass(frozen=True)
class EndSpec:
    """One end of a link: a device's interfaces in the CA and the SAE that fetches its keys."""

    device: str
    interfaces: tuple[str, ...]
    sae_id: str
    kme: str


@dataclass(frozen=True)
class MkaOptions:
    should_secure: bool = False
    exclude_protocols: tuple[str, ...] = ()
    key_server_priority: int | None = None
    transmit_interval_ms: int | None = None


@dataclass(frozen=True)
class LinkSpec:
    """A MACsec link (two ends) or group CA (one master, several slaves sharing one key)."""

    name: str
    master: EndSpec
    slaves: tuple[EndSpec, ...]
    ca: str
    key_chain: str | None
    suite: CipherSuite
    mode: KeyMode
    rotation_interval: float
    ckn_prefix: str
    ckn_mode: CknMode
    mka: MkaOptions = MkaOptions()
    keyid_check: bool = True
    chain_tolerance_s: int | None = None
    #: Key-chain slots 0..slots-1: the smallest range among the ends' platforms.
    slots: int = SLOTS
    #: ``hybrid``: the CAK also depends on a secret S of the controller's that no KME sees.
    key_derivation: KeyDerivation = KeyDerivation.SEED

    @property
    def ends(self) -> tuple[EndSpec, ...]:
        return (self.master, *self.slaves)

    @property
    def devices(self) -> tuple[str, ...]:
        return tuple(end.device for end in self.ends)

    def view(self) -> LinkView:
        return LinkView(self.name, self.rotation_interval, self.mode, slots=self.slots)
