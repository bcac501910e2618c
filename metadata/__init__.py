"""The AIM metadata store: URNs, entities, typed aspects, lineage edges and time series.

Example:
    >>> from aimops.metadata import AimStore, run_urn
    >>> store = AimStore.open("sqlite://")
    >>> store.get_entity(run_urn("python", "demo", "1")) is None
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimops.lazy import lazy_attributes

if TYPE_CHECKING:
    from aimops.metadata.aspects import ASPECTS, register_aspect
    from aimops.metadata.lineage import LineageGraph, LineageNode
    from aimops.metadata.relations import RELATIONS
    from aimops.metadata.states import STATES, normalize_state
    from aimops.metadata.store import AimStore
    from aimops.metadata.store_values import AspectVersion, Edge, Entity, Point
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

# Loaded on first use: importing a small module of this package (URNs, references) must not
# pay for the store's SQLAlchemy and pydantic machinery.
_LAZY = {
    "ASPECTS": "aimops.metadata.aspects",
    "AimStore": "aimops.metadata.store",
    "AspectVersion": "aimops.metadata.store_values",
    "Edge": "aimops.metadata.store_values",
    "Entity": "aimops.metadata.store_values",
    "LineageGraph": "aimops.metadata.lineage",
    "LineageNode": "aimops.metadata.lineage",
    "Point": "aimops.metadata.store_values",
    "RELATIONS": "aimops.metadata.relations",
    "STATES": "aimops.metadata.states",
    "StoreWriter": "aimops.metadata.writer",
    "Urn": "aimops.metadata.urns",
    "artifact_urn": "aimops.metadata.urns",
    "dataset_urn": "aimops.metadata.urns",
    "make_urn": "aimops.metadata.urns",
    "model_urn": "aimops.metadata.urns",
    "model_version_urn": "aimops.metadata.urns",
    "normalize_state": "aimops.metadata.states",
    "pipeline_urn": "aimops.metadata.urns",
    "register_aspect": "aimops.metadata.aspects",
    "run_urn": "aimops.metadata.urns",
    "step_urn": "aimops.metadata.urns",
}


__getattr__ = lazy_attributes("aimops.metadata", _LAZY)


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
