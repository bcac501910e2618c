"""Time-series points (urn, metric, timestamp, value): validation and reading.

Example:
    >>> from datetime import datetime, UTC
    >>> point_rows(1, "latency_p95_ms", [(datetime(2026, 1, 1, tzinfo=UTC), 12.5)])[0]["value"]
    12.5
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from aimops import validation
from aimops.errors import InvalidInputError
from aimops.metadata import schema
from aimops.metadata.aspects.registry import MAX_FIELD_NAME, check_name
from aimops.metadata.store_values import Point


def point_rows(
    entity_id: int, metric: str, points: Iterable[tuple[datetime, float]]
) -> list[dict[str, Any]]:
    """Rows for ``aim_points``; a point that is not a (datetime, finite number) pair raises
    InvalidInputError."""
    check_metric(metric)
    rows = []
    for position, point in enumerate(validation.items(points, f"the points of {metric!r}")):
        if not isinstance(point, tuple | list) or len(point) != 2:
            raise InvalidInputError(
                f"point {position} of {metric!r} must be a (timestamp, value) pair, "
                f"not {validation.shown(point)}"
            )
        timestamp, value = point
        what = f"point {position} of {metric!r}"
        validation.moment(timestamp, f"the timestamp of {what}")
        number = validation.real_number(value, f"the value of {what}")
        rows.append(
            {"entity_id": entity_id, "metric": metric, "timestamp": timestamp, "value": number}
        )
    return rows


def check_metric(metric: str) -> str:
    """``metric`` when it can name a time series: non-empty storable text, no NUL, at most
    ``MAX_FIELD_NAME`` characters."""
    if isinstance(metric, str) and not metric:
        raise InvalidInputError("a time-series metric needs a name")
    return check_name("time-series metric", metric, MAX_FIELD_NAME)


def read_points(
    connection: Connection,
    entity_id: int,
    metric: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Point]:
    """Points of one metric in time order, optionally within [since, until)."""
    check_metric(metric)
    validation.optional_moment(since, "since")
    validation.optional_moment(until, "until")
    table = schema.points
    query = select(table.c.timestamp, table.c.value).where(
        table.c.entity_id == entity_id, table.c.metric == metric
    )
    if since is not None:
        query = query.where(table.c.timestamp >= since)
    if until is not None:
        query = query.where(table.c.timestamp < until)
    rows = connection.execute(query.order_by(table.c.timestamp))
    return [Point(row.timestamp, row.value) for row in rows]
