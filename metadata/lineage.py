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
from typing import Any, Literal

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from aimops.errors import InvalidInputError
from aimops.metadata.records import Edge

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
reached AS (SELECT id, MIN(depth) AS depth FROM walk GROUP BY id)
SELECT 'n' AS kind, r.id AS a, r.depth AS depth, n.urn AS urn, n.type AS type,
       NULL AS relation, NULL AS b
FROM reached AS r JOIN aim_entities AS n ON n.id = r.id
UNION ALL
SELECT 'e', e.src_id, NULL, NULL, NULL, e.relation, e.dst_id
FROM aim_edges AS e
JOIN reached AS ra ON ra.id = e.{frm}
JOIN reached AS rb ON rb.id = e.{to}
"""

_QUERIES = {
    "downstream": text(_WALK.format(frm="flow_from", to="flow_to")).bindparams(
        bindparam("seeds", expanding=True)
    ),
    "upstream": text(_WALK.format(frm="flow_to", to="flow_from")).bindparams(
        bindparam("seeds", expanding=True)
    ),
}

_CHILDREN = text("SELECT src_id FROM aim_edges WHERE dst_id = :parent AND relation = 'partOf'")


@dataclass(frozen=True)
class LineageNode:
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


def walk_lineage(
    connection: Connection, root_id: int, root: str, direction: Direction, depth: int
) -> LineageGraph:
    """The lineage subgraph around ``root_id`` to ``depth`` edges in ``direction``."""
    if direction not in ("upstream", "downstream", "both"):
        raise InvalidInputError(
            f"direction must be upstream, downstream or both, not {direction!r}"
        )
    if not 0 <= depth <= MAX_DEPTH:
        raise InvalidInputError(f"depth must be between 0 and {MAX_DEPTH}, got {depth}")
    seeds = [root_id, *connection.execute(_CHILDREN, {"parent": root_id}).scalars()]
    ways: Sequence[str] = ("upstream", "downstream") if direction == "both" else (direction,)
    nodes: dict[int, LineageNode] = {}
    edge_ids: set[tuple[int, str, int]] = set()
    for way in ways:
        rows = connection.execute(_QUERIES[way], {"seeds": seeds, "depth": depth})
        for row in rows:
            if row.kind == "n":
                known = nodes.get(row.a)
                if known is None or row.depth < known.depth:
                    nodes[row.a] = LineageNode(row.urn, row.type, int(row.depth))
            else:
                edge_ids.add((row.a, row.relation, row.b))
    if seeds[1:]:
        edge_ids.update((child, "partOf", root_id) for child in seeds[1:] if child in nodes)
    ordered = sorted(nodes.values(), key=lambda node: (node.depth, node.urn))
    edges = sorted(
        Edge(nodes[src].urn, relation, nodes[dst].urn)
        for src, relation, dst in edge_ids
        if src in nodes and dst in nodes
    )
    return LineageGraph(root, direction, depth, ordered, edges)
