"""The AIM metadata store: URNs, entities, typed aspects, lineage edges and time series.

Example:
    >>> from aimops.metadata import AimStore, run_urn
    >>> store = AimStore.open("sqlite://")
    >>> store.get_entity(run_urn("python", "demo", "1")) is None
    True
"""

from __future__ import annotations

from aimops.metadata.aspects import ASPECTS, register_aspect
from aimops.metadata.lineage import LineageGraph, LineageNode
from aimops.metadata.records import AspectVersion, Edge, Entity, Point
from aimops.metadata.relations import RELATIONS
from aimops.metadata.states import STATES, normalize_state
from aimops.metadata.store import AimStore
from aimops.metadata.urns import (
    Urn,
    artifact_urn,
    dataset_urn,
    make_urn,
    model_urn,
    model_version_urn,
    pipeline_urn,
    run_urn,
    step_urn,
)
from aimops.metadata.writer import StoreWriter

__all__ = [
    "ASPECTS",
    "RELATIONS",
    "STATES",
    "AimStore",
    "AspectVersion",
    "Edge",
    "Entity",
    "LineageGraph",
    "LineageNode",
    "Point",
    "StoreWriter",
    "Urn",
    "artifact_urn",
    "dataset_urn",
    "make_urn",
    "model_urn",
    "model_version_urn",
    "normalize_state",
    "pipeline_urn",
    "register_aspect",
    "run_urn",
    "step_urn",
]
