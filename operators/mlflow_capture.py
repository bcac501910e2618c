"""What a task did in MLflow: the run it logged to, and the model versions it registered.

Nothing here runs unless the task imported MLflow. When a try ends, the step is linked to the
MLflow run the task logged to (its params and metrics are copied onto the step, searchable),
and model versions become AIM model versions produced by the step when they were registered
from that run, or registered while the try ran from a run the task was given as input (the
usual "register the model the train task logged" step). Every MLflow call is bounded in time
(no retries, a short HTTP timeout) and a failure only loses these links, never the rest of
the event.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from typing import Any

from aimops.metadata.capture import CaptureEvent
from aimops.metadata.references import MARKER
from aimops.metadata.urns import Urn, make_urn
from aimops.settings import temporary_environment

log = logging.getLogger("aimops.capture")
#: Versions created this long before a try started still count as registered by it (clocks).
CLOCK_SLACK_MS = 2_000
RECENT_VERSIONS = 50

# Per task instance: the MLflow run last active when the try started, when it started, and
# whether MLflow was loaded already (a process that ran an MLflow task before).
_started: dict[str, tuple[str | None, float, bool]] = {}
_logged: set[str] = set()


def try_started(key: str) -> None:
    """Remember where MLflow stood when a try began (cheap: no MLflow call)."""
    _started[key] = (_last_run_id(), time.time() * 1000, "mlflow" in sys.modules)


def forget() -> None:
    """Forget every try in flight (a new store, a test)."""
    _started.clear()


def add_links(event: CaptureEvent, step: Urn, key: str, inputs: str, timeout: float) -> None:
    """Add the MLflow run and the registered model versions of a try that ended."""
    before, started_ms, loaded_before = _started.pop(key, (None, time.time() * 1000, False))
    if "mlflow" not in sys.modules:  # the task never touched MLflow: nothing to look up
        return
    run_id = _last_run_id()
    own_run = run_id if run_id and run_id != before else None
    if not (own_run or not loaded_before or _tracking_uri_set()):
        return  # MLflow was loaded by an earlier task of this process, and this one used none
    try:
        with _bounded(timeout):
            import mlflow

            client = mlflow.MlflowClient()
            if own_run:
                _link_run(event, step, client, own_run, mlflow.get_tracking_uri())
            for version in _registered(client, own_run, started_ms, inputs):
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


def _registered(client: Any, own_run: str | None, started_ms: float, inputs: str) -> list[Any]:
    """Versions from the try's own run, or made during the try from a run it was given."""
    found = {}
    if own_run:
        for version in client.search_model_versions(f"run_id = '{own_run}'"):
            found[(version.name, version.version)] = version
    recent = client.search_model_versions(
        max_results=RECENT_VERSIONS, order_by=["creation_timestamp DESC"]
    )
    for version in recent:
        made_now = (version.creation_timestamp or 0) >= started_ms - CLOCK_SLACK_MS
        if made_now and version.run_id and version.run_id in inputs:
            found[(version.name, version.version)] = version
    return list(found.values())


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


def _tracking_uri_set() -> bool:
    utils = sys.modules.get("mlflow.tracking._tracking_service.utils")
    check = getattr(utils, "is_tracking_uri_set", None)
    return bool(check()) if callable(check) else False


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
