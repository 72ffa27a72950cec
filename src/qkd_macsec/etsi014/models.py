"""ETSI GS QKD 014 data formats: wire models (pydantic) and the key the client hands out.

Wire models are strict about the fields the spec defines (types, no coercion) and tolerant of
fields it does not (kept, reported by name only). Python names are snake_case; the spec's spelling
is the alias, so models accept and emit the wire names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from qkd_macsec.core.key_ids import canonical_key_id
from qkd_macsec.secret import Secret

__all__ = [
    "Count",
    "JsonObject",
    "KeyContainer",
    "KeyIdsRequest",
    "KeyRequest",
    "KmeStatus",
    "QkdKey",
    "WireKey",
    "WireModel",
    "canonical_key_id",
]

JsonObject = dict[str, Any]
Count = Annotated[StrictInt, Field(ge=0)]


class WireModel(BaseModel):
    """Base of every model read from a KME: strict types, unknown fields kept for reporting."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True, strict=True)

    def unknown_fields(self) -> list[str]:
        """Names of fields the spec does not define, in this model and the models it holds."""
        names = list(self.model_extra or {})
        for name in type(self).model_fields:
            value = getattr(self, name)
            children = value if isinstance(value, list) else [value]
            for child in children:
                if isinstance(child, WireModel):
                    names.extend(child.unknown_fields())
        return names


class KmeStatus(WireModel):
    """Answer of ``GET /api/v1/keys/{slave_SAE_ID}/status``. All sizes are bits."""

    source_kme_id: str = Field(alias="source_KME_ID")
    target_kme_id: str = Field(alias="target_KME_ID")
    master_sae_id: str = Field(alias="master_SAE_ID")
    slave_sae_id: str = Field(alias="slave_SAE_ID")
    key_size: Count
    stored_key_count: Count
    max_key_count: Count
    max_key_per_request: Count
    max_key_size: Count
    min_key_size: Count
    max_sae_id_count: Count = Field(default=0, alias="max_SAE_ID_count")
    status_extension: JsonObject | None = None


class WireKey(WireModel):
    """One entry of a key container; ``key`` is base64 text and never shown in repr."""

    key_id: str = Field(alias="key_ID")
    key: str = Field(repr=False)
    key_id_extension: JsonObject | None = Field(default=None, alias="key_ID_extension")
    key_extension: JsonObject | None = None


class KeyContainer(WireModel):
    """Answer of enc_keys and dec_keys. Accepts the ``Keys`` spelling one Java KME uses."""

    keys: list[WireKey]
    key_container_extension: JsonObject | None = None

    @model_validator(mode="before")
    @classmethod
    def _accept_capitalised_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "keys" not in data and "Keys" in data:
            data = dict(data)
            data["keys"] = data.pop("Keys")
        return data


class KeyRequest(BaseModel):
    """Body of ``POST enc_keys``."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    number: int
    size: int
    additional_slave_sae_ids: list[str] | None = Field(
        default=None, alias="additional_slave_SAE_IDs"
    )
    extension_mandatory: list[JsonObject] | None = None
    extension_optional: list[JsonObject] | None = None

    def wire(self) -> JsonObject:
        return self.model_dump(by_alias=True, exclude_none=True)


class KeyIdsRequest(BaseModel):
    """Body of ``POST dec_keys``."""

    model_config = ConfigDict(frozen=True)

    key_ids: list[str]

    def wire(self) -> JsonObject:
        return {"key_IDs": [{"key_ID": key_id} for key_id in self.key_ids]}


@dataclass(frozen=True)
class QkdKey:
    """A delivered QKD key. ``repr`` shows the key ID and length only."""

    key_id: str
    key: Secret
    key_id_extension: JsonObject | None = None
    key_extension: JsonObject | None = None

    @property
    def bits(self) -> int:
        return len(self.key) * 8

    def __repr__(self) -> str:
        return f"QkdKey(key_id={self.key_id!r}, bits={self.bits})"

    __str__ = __repr__
