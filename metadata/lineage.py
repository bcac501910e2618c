"""Lineage: walking data-flow edges to a depth, in SQL, as a subgraph.

Downstream follows data: dataset → the step that consumed it → what that step produced →
what evaluates, checks or serves that. Upstream is the reverse. The walk is one recursive
CTE over the indexed ``flow_from``/``flow_to`` columns; the graph is never loaded into
Python. Asked of a run (or anything with ``partOf`` children), the walk starts from its
steps too, at depth 0: a run stands for its steps.

Example:
    >>> from aimops.metadata import AimStore
    >>> store = AimStore.open("sqlite://")
    >>> with store.transaction() as tx:
    ...     tx.put_entity("urn:aim:dataset:raw"); tx.put_entity("urn:aim:step:python/p/1/clean")
    ...     tx.put_edge("urn:aim:step:python/p/1/clean", "consumed", "urn:aim:dataset:raw")
    1
    2
    >>> [n.urn for n in store.lineage("urn:aim:dataset:raw", direction="downstream").nodes]
    ['urn:aim:dataset:raw', 'urn:aim:step:python/p/1/clean']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Literal, NamedTuple

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from aimops import validation
from aimops.errors import InvalidInputError
from aimops.metadata.relations import RELATIONS, Flow
from aimops.metadata.store_values import Edge

Direction = Literal["upstream", "downstream", "both"]
MAX_DEPTH = 50

_WALK = """
WITH RECURSIVE walk(id, depth) AS (
    SELECT seed.id, 0 FROM aim_entities AS seed WHERE seed.id IN :seeds
    UNION
    SELECT e.{to}, w.depth + 1
    FROM walk AS w JOIN aim_edges AS e ON e.{frm} = w.id
    WHERE w.depth < :depth
),
reached AS MATERIALIZED (SELECT id, MIN(depth) AS depth FROM walk GROUP BY id)
SELECT 'n' AS kind, r.id AS a, r.depth AS depth, n.urn AS urn, n.type AS type,
       NULL AS relation, NULL AS b
FROM reached AS r JOIN aim_entities AS n ON n.id = r.id
"""
_EDGES = """
UNION ALL
SELECT 'e', e.flow_from, NULL, NULL, NULL, e.relation, e.flow_to
FROM reached AS r {join} aim_edges AS e ON e.{frm} = r.id
"""
# The second half returns every lineage edge leaving a reached node (a covering index scan);
# the few whose far end was not reached are dropped in Python. Joining ``reached`` twice in
# SQL instead makes SQLite scan it once per edge. SQLite's CROSS JOIN keeps that join order.

_QUERIES = {
    (dialect, way, with_edges): text(
        (_WALK + (_EDGES if with_edges else "")).format(
            frm="flow_from" if way == "downstream" else "flow_to",
            to="flow_to" if way == "downstream" else "flow_from",
            join="CROSS JOIN" if dialect == "sqlite" else "JOIN",
        )
    ).bindparams(bindparam("seeds", expanding=True))
    for dialect in ("sqlite", "postgresql")
    for way in ("downstream", "upstream")
    for with_edges in (True, False)
}

_CHILDREN = text("SELECT src_id FROM aim_edges WHERE dst_id = :parent AND relation = 'partOf'")


class LineageNode(NamedTuple):
    """An entity in a lineage answer and how many edges away from the start it is."""

    urn: str
    type: str
    depth: int

    def to_dict(self) -> dict[str, Any]:
        return {"urn": self.urn, "type": self.type, "depth": self.depth}


@dataclass
class LineageGraph:
    """The subgraph a lineage query returns: nodes (start first) and the edges among them."""

    root: str
    direction: Direction
    depth: int
    nodes: list[LineageNode] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "direction": self.direction,
            "depth": self.depth,
            "nodes": [node.to_dict() for node in self.nodes],
            "edges": [edge.to_dict() for edge in self.edges],
        }


def check_walk(direction: Any, depth: Any) -> None:
    """Refuse a ``direction`` other than upstream, downstream or both, and a ``depth`` that is
    not a whole number from 0 to ``MAX_DEPTH``."""
    if not isinstance(direction, str) or direction not in ("upstream", "downstream", "both"):
        raise InvalidInputError(
            f"direction must be upstream, downstream or both, not {validation.shown(direction)}"
        )
    validation.whole_number(depth, "depth", minimum=0, maximum=MAX_DEPTH)


def walk_lineage(
    connection: Connection,
    root_id: int,
    root: str,
    direction: Direction,
    depth: int,
    *,
    with_edges: bool = True,
) -> LineageGraph:
    """The lineage subgraph around ``root_id`` to ``depth`` edges in ``direction``.

    ``with_edges=False`` answers with the nodes only (the closure), which is cheaper.
    """
    check_walk(direction, depth)
    seeds = [root_id, *connection.execute(_CHILDREN, {"parent": root_id}).scalars()]
    ways: Sequence[str] = ("upstream", "downstream") if direction == "both" else (direction,)
    nodes: dict[int, LineageNode] = {}
    flows: set[tuple[int, str, int]] = set()
    for way in ways:
        query = _QUERIES[(connection.dialect.name, way, with_edges)]
        rows = connection.execute(query, {"seeds": seeds, "depth": depth}).all()
        for kind, a, found_depth, urn, entity_type, relation, b in rows:
            if kind == "e":
                flows.add((a, relation, b))
                continue
            known = nodes.get(a)
            if known is None or found_depth < known.depth:
                nodes[a] = LineageNode(urn, entity_type, found_depth)
    forward = {name for name, flow in RELATIONS.items() if flow is Flow.FORWARD}
    edges = [
        Edge(nodes[up].urn, relation, nodes[down].urn)
        if relation in forward
        else Edge(nodes[down].urn, relation, nodes[up].urn)
        for up, relation, down in flows
        if up in nodes and down in nodes
    ]
    if with_edges:
        edges += [Edge(nodes[c].urn, "partOf", root) for c in seeds[1:] if c in nodes]
    edges.sort()
    ordered = sorted(nodes.values(), key=itemgetter(2, 0))  # by depth, then URN
    return LineageGraph(root, direction, depth, ordered, edges)
