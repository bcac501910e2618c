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

from aimops import validation
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


#: The longest aspect name the store holds.
MAX_ASPECT_NAME = 64


def register_aspect(
    name: str, model: type[BaseModel], entity_types: frozenset[str] | None, *, is_map: bool = False
) -> None:
    """Add an aspect to the registry (later issues register theirs the same way).

    ``entity_types`` is a set of entity types (None: any type); everything is checked before
    the registry changes, so a bad registration cannot break the store's other aspects.
    """
    from aimops.metadata.urns import ENTITY_TYPES

    validation.text(name, "an aspect name", empty=False, limit=MAX_ASPECT_NAME, nul=False)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise InvalidInputError(
            f"aspect {name!r} needs a pydantic model class, not {validation.shown(model)}"
        )
    if entity_types is not None:
        types = validation.items(entity_types, f"the entity types of aspect {name!r}")
        unknown = [found for found in types if found not in ENTITY_TYPES]
        if unknown or not types:
            raise InvalidInputError(
                f"aspect {name!r} names unknown entity types {unknown or '(none)'}; "
                f"known: {', '.join(sorted(ENTITY_TYPES))}"
            )
        entity_types = frozenset(types)
    ASPECTS[name] = AspectSpec(name, model, entity_types, validation.flag(is_map, "is_map"))


def aspect_spec(name: str, entity_type: str | None = None) -> AspectSpec:
    """The registered spec of ``name``, checked against ``entity_type`` when given."""
    spec = ASPECTS.get(name) if isinstance(name, str) else None
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
    """The validated aspect as plain JSON-compatible data (timestamps as ISO 8601 UTC).

    Text that neither backend can hold (a lone surrogate, anywhere in the document) is
    refused with InvalidAspectError naming the field.
    """
    data = validate_aspect(name, value, entity_type).model_dump(mode="json")
    try:
        return validation.storable(data, f"the {name!r} aspect")
    except InvalidInputError as exc:
        raise InvalidAspectError(str(exc)) from None


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
        return (field, _indexed_number(field, value), None)
    if isinstance(value, str):
        return (field, None, indexed_text(value))
    return None


def _indexed_number(field: str, value: int | float) -> float:
    """``value`` as the index's float; an integer too large for one is refused (JSON holds
    it, but neither backend's index could)."""
    try:
        return float(value)
    except OverflowError:
        raise InvalidAspectError(
            f"{field} = {value:.3e} is too large a number to index (a float holds up to 1.8e308)"
        ) from None


def indexed_text(value: str) -> str:
    """Text as the field index holds it, and as a search compares it: its first
    ``MAX_INDEXED_TEXT`` characters, a NUL shown as U+FFFD (PostgreSQL's text holds no NUL).

    Example:
        >>> indexed_text("a\\x00b") == "a\\ufffdb"
        True
    """
    return value[:MAX_INDEXED_TEXT].replace("\x00", "\ufffd")


#: The longest name of a searchable field (a params, metrics or tags key), in characters.
MAX_FIELD_NAME = 256


def check_name(what: str, name: str, limit: int) -> str:
    """``name`` when both backends can store it: text of at most ``limit`` characters, with no
    NUL and no lone surrogate.

    Example:
        >>> check_name("metric", "auroc", 256)
        'auroc'
    """
    return validation.text(name, f"a {what} name", limit=limit, nul=False)
