"""Listing recorded evaluations for people and machines (the CLI's ``evaluations list``).

Example:
    >>> import aimops
    >>> from aimops.monitors import evaluate_binary
    >>> store = aimops.connect("sqlite://")
    >>> _ = evaluate_binary([0, 1], [0.3, 0.8]).record(store, key="e/1")
    >>> [item["urn"] for item in list_evaluations(store)]
    ['urn:aim:evaluation:e/1']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aimops.metadata.urns import Urn

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore


def list_evaluations(
    store: AimStore, *, model: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Evaluations newest first: urn, kind, target (model versions or data set), status, when,
    metrics. ``model`` keeps those of that model's versions."""
    entities = store.search("evaluation", limit=limit if model is None else 100_000)
    urns = [entity.urn for entity in entities]
    infos = store.latest_values(urns, "evaluationInfo")
    metrics = store.latest_values(urns, "metrics")
    found = []
    for urn in urns:
        info = infos.get(urn)
        if info is None:
            continue
        versions = list(info.get("model_versions") or [])
        if model is not None and not any(Urn.parse(v).segments[0] == model for v in versions):
            continue
        found.append(
            {
                "urn": urn,
                "kind": info["kind"],
                "label": info.get("label"),
                "target": ", ".join(versions) or info.get("dataset") or "-",
                "model_versions": versions,
                "dataset": info.get("dataset"),
                "status": info.get("status"),
                "evaluated_at": info["evaluated_at"],
                "metrics": metrics.get(urn, {}),
            }
        )
    found.sort(key=lambda item: item["evaluated_at"], reverse=True)
    return found[:limit]
