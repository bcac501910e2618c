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
    if key not in _started:  # the try did not run here (a state set from the UI, say)
        return
    before = _started.pop(key)
    if "mlflow" not in sys.modules:  # the task never touched MLflow: nothing to look up
        return
    run_id = _last_run_id()
    if not run_id or run_id == before:  # no run of this try's own
        return
    try:
        with _bounded(timeout):
            import mlflow

            client = mlflow.MlflowClient()
            _link_run(event, step, client, run_id, mlflow.get_tracking_uri())
            for version in client.search_model_versions(f"run_id = '{run_id}'"):
                _add_version(event, step, version)
    except Exception as exc:  # an MLflow problem costs the links, not the try's record
        if type(exc).__name__ not in _logged:
            _logged.add(type(exc).__name__)
            log.warning("aimops could not read the task's MLflow run: %r", exc)


def _link_run(event: CaptureEvent, step: Urn, client: Any, run_id: str, tracking: str) -> None:
    run = client.get_run(run_id)
    event.aspect(
        step,
        "mlflowRun",
        {
            "run_id": run_id,
            "experiment_id": run.info.experiment_id,
            "run_name": run.info.run_name,
            "tracking_uri": _safe_uri(tracking),
        },
    )
    metrics = {k: v for k, v in run.data.metrics.items() if math.isfinite(v)}
    if metrics:  # searchable: store.search("step", where=[("metrics.auroc", ">", 0.9)])
        event.aspect(step, "metrics", metrics)
    if run.data.params:
        event.aspect(step, "params", {k: str(v) for k, v in run.data.params.items()})


def _add_version(event: CaptureEvent, step: Urn, version: Any) -> None:
    urn = event.reference(
        {
            MARKER: "modelVersion",
            "urn": str(make_urn("modelVersion", version.name, version.version)),
            "model": version.name,
            "version": str(version.version),
            "uri": f"models:/{version.name}/{version.version}",
            "mlflow_run_id": version.run_id or None,
        }
    )
    event.edge(urn, "producedBy", step)


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
