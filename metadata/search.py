"""Search queries over entities: by type, tags and indexed aspect fields.

A condition names a field as ``<aspect>.<field>`` (``metrics.auroc``, ``runInfo.status``,
``tags.team``), an operator and a value; numbers compare numerically, text as text.

Example:
    >>> parse_condition(("metrics.auroc", ">", 0.9))
    ('metrics', 'auroc', '>', 0.9)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, and_, select

from aimops.errors import InvalidInputError
from aimops.metadata import schema
from aimops.metadata.aspects import aspect_spec
from aimops.metadata.urns import ENTITY_TYPES

Condition = tuple[str, str, Any]
OPERATORS = ("=", "!=", "<", "<=", ">", ">=")


def parse_condition(condition: Condition) -> tuple[str, str, str, Any]:
    """Split and check a condition into (aspect, field, operator, value)."""
    try:
        name, operator, value = condition
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"a condition is (field, operator, value), got {condition!r}"
        ) from exc
    aspect, dot, field = str(name).partition(".")
    if not dot or not field:
        raise InvalidInputError(f"a condition field is <aspect>.<field>, got {name!r}")
    aspect_spec(aspect)
    if operator not in OPERATORS:
        raise InvalidInputError(f"unknown operator {operator!r}; use one of {', '.join(OPERATORS)}")
    if value is None or isinstance(value, bool | list | dict):
        raise InvalidInputError(f"cannot compare {name} with {value!r}")
    return aspect, field, operator, value


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
    entity_type: str | None, where: Sequence[Condition], tags: Mapping[str, str]
) -> Select[Any]:
    """The SELECT of matching entities, newest first."""
    table = schema.entities
    query = select(table.c.id, table.c.urn, table.c.type, table.c.created_at)
    if entity_type is not None:
        if entity_type not in ENTITY_TYPES:
            raise InvalidInputError(f"unknown entity type {entity_type!r}")
        query = query.where(table.c.type == entity_type)
    conditions = [parse_condition(condition) for condition in where]
    conditions += [("tags", key, "=", str(value)) for key, value in tags.items()]
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
    from aimops.metadata.relations import relation_flow

    relation_flow(relation)
    entities, edges = schema.entities, schema.edges
    near, far = (edges.c.dst_id, edges.c.src_id) if incoming else (edges.c.src_id, edges.c.dst_id)
    return (
        select(entities.c.urn, entities.c.type, entities.c.created_at)
        .join(edges, far == entities.c.id)
        .where(near == entity_id, edges.c.relation == relation)
        .order_by(entities.c.id)
    )
