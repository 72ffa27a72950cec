"""Reading an inventory file: YAML (safe, duplicate keys refused) → schema → resolved model.

Every failure becomes one :class:`InventoryError` naming the file and, per problem, the line
(YAML) or the field path (schema and references).
"""

from __future__ import annotations

import difflib
import types
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from qkd_macsec.inventory.errors import InventoryError, field_path
from qkd_macsec.inventory.model import Inventory
from qkd_macsec.inventory.resolve import resolve_inventory
from qkd_macsec.inventory.schema import InventorySpec

MAX_FILE_BYTES = 10 * 1024 * 1024
_SHOWN = 40
_SECRET_FIELDS = frozenset({"password"})


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping key given twice (PyYAML keeps the last silently)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:
            continue  # unhashable: construct_mapping reports it
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {str(key)[:_SHOWN]!r}",
                key_node.start_mark,
            )
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_unique_mapping,
)


def load_inventory(path: Path) -> Inventory:
    """Read, validate and resolve the inventory at ``path``."""
    display = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InventoryError(display, [f"the file is larger than {MAX_FILE_BYTES} bytes"])
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InventoryError(display, ["the file is not UTF-8 text"]) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InventoryError(display, [f"cannot read the file: {reason}"]) from None
    return parse_inventory(text, path)


def parse_inventory(text: str, source: Path, display: str | None = None) -> Inventory:
    """Validate inventory YAML ``text`` as if read from ``source`` (paths are relative to it)."""
    display = display or str(source)
    data = _read_yaml(text, display)
    if data is None:
        raise InventoryError(display, ["the file is empty (expected hosts:, links:, ...)"])
    if not isinstance(data, dict):
        raise InventoryError(
            display, [f"the top level must be a mapping (hosts:, links:, ...), not {_kind(data)}"]
        )
    try:
        spec = InventorySpec.model_validate(data)
    except ValidationError as exc:
        raise InventoryError(display, [_describe(error) for error in exc.errors()]) from None
    except RecursionError:
        raise InventoryError(display, ["the document nests too deeply"]) from None
    return resolve_inventory(spec, source, display)


def _read_yaml(text: str, display: str) -> object:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        # Never exc.__str__(): it quotes the offending line, which may hold a secret.
        raise InventoryError(display, [f"{where}: YAML syntax error: {what}"]) from None
    except yaml.YAMLError as exc:
        raise InventoryError(display, [f"YAML error: {type(exc).__name__}"]) from None
    except RecursionError:
        raise InventoryError(display, ["the document nests too deeply"]) from None


def _kind(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else type(value).__name__


def _describe(error: ErrorDetails) -> str:
    loc = error["loc"]
    field = field_path(loc)
    kind = error["type"]
    message = error["msg"]
    if kind == "extra_forbidden":
        return f"{field}: {_unknown_key(loc)}"
    if kind == "missing":
        return f"{field}: required"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{field}: must be a mapping (key: value, ...), not {_kind(error.get('input'))}"
    if kind in ("value_error", "assertion_error"):
        return f"{field}: {message.split(', ', 1)[1] if ', ' in message else message}"
    if not _SECRET_FIELDS & {str(part) for part in loc}:
        value = error.get("input")
        if isinstance(value, str | int | float | bool) or value is None:
            shown = repr(value)
            shown = shown if len(shown) <= _SHOWN else shown[: _SHOWN - 3] + "..."
            message = f"{message} (got {shown})"
    return f"{field}: {message}"


def _unknown_key(loc: tuple[int | str, ...]) -> str:
    key = str(loc[-1])[:_SHOWN]
    model = _model_at(loc[:-1])
    if model is None:
        return f"unknown key {key!r}"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r}{hint} (allowed: {', '.join(allowed)})"


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is Union or origin is types.UnionType:
            options = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The schema model found at ``loc`` (for listing the keys allowed there)."""
    annotation: Any = InventorySpec
    for part in loc:
        annotation = _unwrap(annotation)
        origin = get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found = annotation.model_fields.get(part) if isinstance(part, str) else None
            if found is None:
                return None
            annotation = found.annotation
        elif origin is list:
            annotation = get_args(annotation)[0]
        elif origin is dict:
            annotation = get_args(annotation)[1]
        else:
            return None
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None
