"""The aspect registry: one pydantic model per aspect name, validation, canonical JSON, indexing.

Every aspect is registered once (:func:`register_aspect`), with the entity types it may be attached
to and the fields that the store indexes for search. Writes are validated against the model;
anything that does not fit raises :class:`~aimops.errors.InvalidAspectError` naming the field.

Map aspects (``params``, ``metrics``, ``tags``) index every key, so "runs where metric
``auroc`` > 0.9" is one indexed lookup.

Example:
    >>> canonical_json("metrics", {"auroc": 0.91})
    '{"auroc":0.91}'
    >>> sorted(index_rows("tags", {"team": "risk"}))
    [('team', None, 'risk')]
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from aimops.errors import InvalidAspectError, InvalidInputError, UnknownAspectError

IndexRow = tuple[str, float | None, str | None]
MAX_INDEXED_TEXT = 512


class AspectModel(BaseModel):
    """Base of structured aspects: unknown fields are refused, timestamps are UTC."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    indexed: ClassVar[tuple[str, ...]] = ()

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            return as_utc(value)
        return value


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive timestamp is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class AspectSpec:
    """What the registry knows of one aspect."""

    name: str
    model: type[BaseModel]
    entity_types: frozenset[str] | None  # None: any entity type
    is_map: bool = False


ANY_TYPE = None
ASPECTS: dict[str, AspectSpec] = {}


def register_aspect(
    name: str, model: type[BaseModel], entity_types: frozenset[str] | None, *, is_map: bool = False
) -> None:
    """Add an aspect to the registry (later issues register theirs the same way)."""
    ASPECTS[name] = AspectSpec(name, model, entity_types, is_map)


def aspect_spec(name: str, entity_type: str | None = None) -> AspectSpec:
    """The registered spec of ``name``, checked against ``entity_type`` when given."""
    spec = ASPECTS.get(name)
    if spec is None:
        raise UnknownAspectError(
            f"unknown aspect {name!r}; registered: {', '.join(sorted(ASPECTS))}"
        )
    allowed_types = spec.entity_types
    if entity_type is not None and allowed_types is not None and entity_type not in allowed_types:
        allowed = ", ".join(sorted(allowed_types))
        raise InvalidAspectError(
            f"aspect {name!r} belongs on {allowed} entities, not on a {entity_type}"
        )
    return spec


def validate_aspect(name: str, value: Any, entity_type: str | None = None) -> BaseModel:
    """Validate ``value`` (a mapping or the aspect's model) into the aspect's model."""
    spec = aspect_spec(name, entity_type)
    if isinstance(value, spec.model):
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump()
    return build_model(spec.model, value, f"{name!r} aspect")


ModelT = TypeVar("ModelT", bound=BaseModel)


def build_model(model: type[ModelT], value: Any, what: str) -> ModelT:
    """Validate ``value`` into ``model``; failures raise InvalidAspectError naming each field."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidAspectError(f"invalid {what}: {problems}") from exc


def to_jsonable(name: str, value: Any, entity_type: str | None = None) -> Any:
    """The validated aspect as plain JSON-compatible data (timestamps as ISO 8601 UTC)."""
    return validate_aspect(name, value, entity_type).model_dump(mode="json")


def canonical_json(name: str, value: Any, entity_type: str | None = None) -> str:
    """The validated aspect as canonical JSON: equal values give equal text."""
    return dump_canonical(to_jsonable(name, value, entity_type))


def dump_canonical(data: Any) -> str:
    """Compact, key-sorted JSON."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def index_rows(name: str, data: Mapping[str, Any]) -> Iterator[IndexRow]:
    """The (field, number, text) rows the store indexes for an aspect's JSON data."""
    spec = aspect_spec(name)
    if spec.is_map:
        fields: Mapping[str, Any] = data
    else:
        wanted: tuple[str, ...] = getattr(spec.model, "indexed", ())
        fields = {field: data.get(field) for field in wanted}
    for field, value in fields.items():
        row = _index_value(check_name(f"{name} key", field, MAX_FIELD_NAME), value)
        if row is not None:
            yield row


def _index_value(field: str, value: Any) -> IndexRow | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return (field, float(value), str(value).lower())
    if isinstance(value, int | float):
        return (field, float(value), None)
    if isinstance(value, str):  # PostgreSQL's text holds no NUL: the index shows U+FFFD there
        return (field, None, value[:MAX_INDEXED_TEXT].replace("\x00", "\ufffd"))
    return None


#: The longest name of a searchable field (a params, metrics or tags key), in characters.
MAX_FIELD_NAME = 256


def check_name(what: str, name: str, limit: int) -> str:
    """``name`` when both backends can store it (no NUL, at most ``limit`` characters).

    Example:
        >>> check_name("metric", "auroc", 256)
        'auroc'
    """
    if "\x00" in name or len(name) > limit:
        raise InvalidInputError(
            f"a {what} name must have at most {limit} characters and no NUL byte: "
            f"{name[:60]!r}{'...' if len(name) > 60 else ''} ({len(name)} characters)"
        )
    return name
