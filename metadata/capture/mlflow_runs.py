"""What a task did in MLflow: the run it logged to, and the model versions it registered.

Nothing here asks MLflow anything unless the try logged to an MLflow run in this process.
When such a try ends, the step is linked to that run (its params and metrics are copied onto
the step, searchable), and the model versions registered from the run become AIM model
versions produced by the step. A version registered from another task's run is the task's
output when it returns ``aimops.model_version_ref`` (as the example's ``register_model``
does): MLflow records no trace of which process registered a version, and guessing from
timing credits the wrong tasks. Every MLflow call is bounded in time (no retries, a short
HTTP timeout) and a failure only loses these links, never the rest of the event.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
from dataclasses import dataclass, field
from typing import Any

from aimops.metadata.capture.events import CaptureEvent
from aimops.metadata.references import MARKER
from aimops.metadata.urns import Urn, make_urn
from aimops.settings import temporary_environment

log = logging.getLogger("aimops.capture")
# Per task instance started in this process: the MLflow run last active when the try started.
_started: dict[str, str | None] = {}
_logged: set[str] = set()


def try_started(key: str) -> None:
    """Remember where MLflow stood when a try began (cheap: no MLflow call)."""
    _started[key] = _last_run_id()


def forget() -> None:
    """Forget every try in flight (a new store, a test)."""
    _started.clear()


def add_links(event: CaptureEvent, step: Urn, key: str, timeout: float) -> None:
    """Add the MLflow run, and the versions registered from it, of a try that ended."""
    add_run_links(event, step, try_run_id(key), timeout)


def try_run_id(key: str) -> str | None:
    """The MLflow run the try ``key`` logged to, if it started one of its own (no MLflow call).

    Call it when the try ends, in the thread it ran in (MLflow's active run is per thread).
    """
    if key not in _started:  # the try did not run here (a state set from the UI, say)
        return None
    before = _started.pop(key)
    if "mlflow" not in sys.modules:  # the task never touched MLflow: nothing to look up
        return None
    run_id = _last_run_id()
    return run_id if run_id and run_id != before else None


def add_run_links(event: CaptureEvent, step: Urn, run_id: str | None, timeout: float) -> None:
    """Link ``step`` to MLflow run ``run_id`` and the versions registered from it."""
    add_snapshot(event, step, read_run(run_id, timeout))


@dataclass(frozen=True)
class RunSnapshot:
    """What MLflow held of a try's run when the try ended: the run, and the model versions
    registered from it by then (a version registered later, from another task, is not this
    try's)."""

    run_id: str
    experiment_id: str | None
    run_name: str | None
    tracking_uri: str
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    versions: tuple[tuple[str, str, str | None], ...] = ()


def read_run(run_id: str | None, timeout: float) -> RunSnapshot | None:
    """Read run ``run_id`` from MLflow, bounded by ``timeout``; None when it cannot be read."""
    if not run_id:
        return None
    try:
        with _bounded(timeout):
            import mlflow

            client = mlflow.MlflowClient()
            run = client.get_run(run_id)
            versions = client.search_model_versions(f"run_id = '{run_id}'")
            return RunSnapshot(
                run_id=run_id,
                experiment_id=run.info.experiment_id,
                run_name=run.info.run_name,
                tracking_uri=_safe_uri(mlflow.get_tracking_uri()),
                metrics={k: v for k, v in run.data.metrics.items() if math.isfinite(v)},
                params={k: str(v) for k, v in run.data.params.items()},
                versions=tuple((v.name, str(v.version), v.run_id or None) for v in versions),
            )
    except Exception as exc:  # an MLflow problem costs the links, not the try's record
        if type(exc).__name__ not in _logged:
            _logged.add(type(exc).__name__)
            log.warning("aimops could not read the task's MLflow run: %r", exc)
        return None


def add_snapshot(event: CaptureEvent, step: Urn, snapshot: RunSnapshot | None) -> None:
    """The step's link to the run, its metrics and params, and the versions it registered."""
    if snapshot is None:
        return
    event.aspect(
        step,
        "mlflowRun",
        {
            "run_id": snapshot.run_id,
            "experiment_id": snapshot.experiment_id,
            "run_name": snapshot.run_name,
            "tracking_uri": snapshot.tracking_uri,
        },
    )
    if snapshot.metrics:  # searchable: store.search("step", where=[("metrics.auroc", ">", 0.9)])
        event.aspect(step, "metrics", snapshot.metrics)
    if snapshot.params:
        event.aspect(step, "params", snapshot.params)
    for reference in version_references(snapshot):
        event.edge(event.reference(reference), "producedBy", step)


def version_references(snapshot: RunSnapshot | None) -> list[dict[str, Any]]:
    """The model versions registered from the run by the time the try ended, as references."""
    if snapshot is None:
        return []
    return [
        {
            MARKER: "modelVersion",
            "urn": str(make_urn("modelVersion", name, version)),
            "model": name,
            "version": version,
            "uri": f"models:/{name}/{version}",
            "mlflow_run_id": run_id,
        }
        for name, version, run_id in snapshot.versions
    ]


def _last_run_id() -> str | None:
    if "mlflow" not in sys.modules:
        return None
    fluent = sys.modules.get("mlflow.tracking.fluent")
    active = getattr(fluent, "active_run", None)
    current = active() if callable(active) else None
    if current is not None:
        return str(current.info.run_id)
    last: Any = getattr(fluent, "_last_active_run_id", None)
    if last is not None and hasattr(last, "get"):  # a ThreadLocalVariable in MLflow 3
        last = last.get()
    return str(last) if last else None


def _bounded(timeout: float) -> contextlib.AbstractContextManager[None]:
    """MLflow's HTTP client without retries and with a short timeout, for this block only."""
    return temporary_environment(
        {
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, math.ceil(timeout))),
        }
    )


def _safe_uri(uri: str) -> str:
    from aimops.metadata.engine import redact as redact_url

    return redact_url(uri) if "@" in uri else uri
