"""Search queries over entities: by type, tags and indexed aspect fields.

A condition names a field as ``<aspect>.<field>`` (``metrics.auroc``, ``runInfo.status``,
``tags.team``), an operator and a value; numbers compare numerically, text as text.

Example:
    >>> parse_condition(("metrics.auroc", ">", 0.9))
    ('metrics', 'auroc', '>', 0.9)
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, and_, select

from aimops import validation
from aimops.errors import InvalidInputError
from aimops.metadata import schema
from aimops.metadata.aspects import aspect_spec
from aimops.metadata.aspects.registry import MAX_FIELD_NAME, check_name, indexed_text
from aimops.metadata.urns import ENTITY_TYPES

Condition = tuple[str, str, Any]
OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
#: The largest limit or offset a query takes (a database's 64-bit integer).
MAX_COUNT = 2**63 - 1


def parse_condition(condition: Condition) -> tuple[str, str, str, Any]:
    """Split and check a condition into (aspect, field, operator, value).

    A number compares with the field's number (a finite one: NaN is refused); text
    with the field's text as the index holds it (see :func:`indexed_text`).
    """
    if not isinstance(condition, tuple | list) or len(condition) != 3:
        raise InvalidInputError(
            f"a condition is (field, operator, value), got {validation.shown(condition)}"
        )
    name, operator, value = condition
    aspect, dot, field = validation.text(name, "a condition field").partition(".")
    if not dot or not field:
        raise InvalidInputError(f"a condition field is <aspect>.<field>, got {name!r}")
    aspect_spec(aspect)
    check_name("condition field", field, MAX_FIELD_NAME)
    if not isinstance(operator, str) or operator not in OPERATORS:
        raise InvalidInputError(f"unknown operator {operator!r}; use one of {', '.join(OPERATORS)}")
    return aspect, field, operator, _comparable(name, value)


def _comparable(name: str, value: Any) -> float | str:
    """``value`` as the index compares it: a finite float, or text as the index holds it."""
    if isinstance(value, str):
        return indexed_text(validation.text(value, f"the value {name} is compared with"))
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(f"cannot compare {name} with {validation.shown(value)}")
    return validation.real_number(value, f"the value {name} is compared with")


def check_page(limit: int, offset: int) -> None:
    """Refuse a ``limit`` or ``offset`` that is not a whole number in [0, MAX_COUNT]."""
    validation.whole_number(limit, "limit", minimum=0, maximum=MAX_COUNT)
    validation.whole_number(offset, "offset", minimum=0, maximum=MAX_COUNT)


def check_relation(relation: str) -> str:
    """``relation`` when it is a registered relation's name (else UnknownRelationError)."""
    from aimops.metadata.relations import relation_flow

    relation_flow(validation.text(relation, "a relation"))
    return relation


def _compare(column: Any, operator: str, value: Any) -> Any:
    return {
        "=": column == value,
        "!=": column != value,
        "<": column < value,
        "<=": column <= value,
        ">": column > value,
        ">=": column >= value,
    }[operator]


def _matching_ids(aspect: str, field: str, operator: str, value: Any) -> Select[Any]:
    table = schema.aspect_fields
    column = table.c.num_value if isinstance(value, int | float) else table.c.text_value
    return select(table.c.entity_id).where(
        and_(table.c.aspect == aspect, table.c.field == field, _compare(column, operator, value))
    )


def search_query(
    entity_type: str | None, where: Sequence[Condition], tags: Mapping[str, str] | None
) -> Select[Any]:
    """The SELECT of matching entities, newest first."""
    table = schema.entities
    query = select(table.c.id, table.c.urn, table.c.type, table.c.created_at)
    if entity_type is not None:
        if not isinstance(entity_type, str) or entity_type not in ENTITY_TYPES:
            raise InvalidInputError(f"unknown entity type {validation.shown(entity_type)}")
        query = query.where(table.c.type == entity_type)
    conditions = [parse_condition(condition) for condition in validation.items(where, "where")]
    conditions += [
        parse_condition((f"tags.{validation.text(key, 'a tag name')}", "=", str(value)))
        for key, value in (validation.optional_mapping(tags, "tags") or {}).items()
    ]
    for number, (aspect, field, operator, value) in enumerate(conditions):
        # Read the field index once, whatever the planner's statistics say: with stale
        # statistics PostgreSQL turns an IN (...) into a re-scan per candidate entity.
        matching = (
            _matching_ids(aspect, field, operator, value)
            .cte(f"match_{number}")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        query = query.join(matching, matching.c.entity_id == table.c.id)
    return query.order_by(table.c.id.desc())


def neighbours_query(entity_id: int, relation: str, incoming: bool) -> Select[Any]:
    """Entities joined to ``entity_id`` by ``relation`` edges (outgoing unless ``incoming``)."""
    check_relation(relation)
    entities, edges = schema.entities, schema.edges
    near, far = (edges.c.dst_id, edges.c.src_id) if incoming else (edges.c.src_id, edges.c.dst_id)
    return (
        select(entities.c.urn, entities.c.type, entities.c.created_at)
        .join(edges, far == entities.c.id)
        .where(near == entity_id, edges.c.relation == relation)
        .order_by(entities.c.id)
    )
