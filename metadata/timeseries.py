"""Time-series points (urn, metric, timestamp, value): validation and reading.

Example:
    >>> from datetime import datetime, UTC
    >>> point_rows(1, "latency_p95_ms", [(datetime(2026, 1, 1, tzinfo=UTC), 12.5)])[0]["value"]
    12.5
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from aimops.errors import InvalidInputError
from aimops.metadata import schema
from aimops.metadata.aspects.registry import MAX_FIELD_NAME, check_name
from aimops.metadata.store_values import Point


def point_rows(
    entity_id: int, metric: str, points: Iterable[tuple[datetime, float]]
) -> list[dict[str, Any]]:
    """Rows for ``aim_points``; a non-finite value or a non-timestamp raises InvalidInputError."""
    if not metric:
        raise InvalidInputError("a time-series metric needs a name")
    check_name("time-series metric", metric, MAX_FIELD_NAME)
    rows = []
    for position, (timestamp, value) in enumerate(points):
        if not isinstance(timestamp, datetime):
            raise InvalidInputError(
                f"point {position} of {metric!r}: timestamp must be a datetime, got {timestamp!r}"
            )
        number = float(value)
        if not math.isfinite(number):
            raise InvalidInputError(f"point {position} of {metric!r} is not finite: {value!r}")
        rows.append(
            {"entity_id": entity_id, "metric": metric, "timestamp": timestamp, "value": number}
        )
    return rows


def read_points(
    connection: Connection,
    entity_id: int,
    metric: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Point]:
    """Points of one metric in time order, optionally within [since, until)."""
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
