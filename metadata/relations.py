"""Edge relations and which way data flows along each.

An edge reads as a sentence, source first: ``step consumed dataset``, ``step produced
artifact``, ``modelVersion producedBy step``, ``evaluation evaluates modelVersion``,
``evaluation evaluatedOn dataset``. Lineage
needs the direction data moves in, which is not always source to destination; each relation
says it once here. Structural relations (``partOf``, ``versionOf``) carry no data flow.

Example:
    >>> flow_endpoints("consumed", src=1, dst=2)   # the dataset (2) flows into the step (1)
    (2, 1)
    >>> flow_endpoints("partOf", src=1, dst=2) is None
    True
"""

from __future__ import annotations

from enum import Enum

from aimops.errors import UnknownRelationError


class Flow(Enum):
    FORWARD = "forward"  # data flows from source to destination
    BACKWARD = "backward"  # data flows from destination to source
    STRUCTURE = "structure"  # no data flow: containment or grouping


RELATIONS: dict[str, Flow] = {
    "consumed": Flow.BACKWARD,
    "produced": Flow.FORWARD,
    "producedBy": Flow.BACKWARD,
    "derivedFrom": Flow.BACKWARD,
    "evaluates": Flow.BACKWARD,
    "evaluatedOn": Flow.BACKWARD,
    "checks": Flow.BACKWARD,
    "serves": Flow.BACKWARD,
    "partOf": Flow.STRUCTURE,
    "versionOf": Flow.STRUCTURE,
}


def relation_flow(relation: str) -> Flow:
    """How data flows along ``relation``; unknown relations raise UnknownRelationError."""
    try:
        return RELATIONS[relation]
    except KeyError:
        known = ", ".join(sorted(RELATIONS))
        raise UnknownRelationError(f"unknown relation {relation!r}; known: {known}") from None


def flow_endpoints(relation: str, *, src: int, dst: int) -> tuple[int, int] | None:
    """(upstream, downstream) ids for a lineage relation, None for structure."""
    flow = relation_flow(relation)
    if flow is Flow.FORWARD:
        return (src, dst)
    if flow is Flow.BACKWARD:
        return (dst, src)
    return None
