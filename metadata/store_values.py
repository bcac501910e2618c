"""The plain values the store hands back: entities, aspect versions, edges, points.

Example:
    >>> Edge("urn:aim:step:python/p/r/t", "produced", "urn:aim:artifact:m").to_dict()
    {'src': 'urn:aim:step:python/p/r/t', 'relation': 'produced', 'dst': 'urn:aim:artifact:m'}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, as aspect values are written; or None. A naive
    timestamp is taken to be UTC already, as the aspects take it (not the machine's time)."""
    if moment is None:
        return None
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Entity:
    """An entity: its URN, type and when it was first recorded."""

    urn: str
    type: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"urn": self.urn, "type": self.type, "created_at": iso(self.created_at)}


@dataclass(frozen=True)
class AspectVersion:
    """One version of one aspect of one entity; ``value`` is plain JSON data."""

    urn: str
    aspect: str
    version: int
    value: Any
    actor: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "aspect": self.aspect,
            "version": self.version,
            "created_at": iso(self.created_at),
            "actor": self.actor,
            "value": self.value,
        }


class Edge(NamedTuple):
    """A typed relation, read source first: ``step consumed dataset``."""

    src: str
    relation: str
    dst: str

    def to_dict(self) -> dict[str, str]:
        return {"src": self.src, "relation": self.relation, "dst": self.dst}


@dataclass(frozen=True)
class Point:
    """One time-series point."""

    timestamp: datetime
    value: float
