"""Ramp actions as jobs: do the action, then rewrite the model version's page.

What the Airflow operators, the Prefect tasks and the CLI run, so each surface only parses its
arguments and says how the job ended (:mod:`aimops.tasks`).

Example:
    >>> import datetime, tempfile
    >>> from aimops.metadata import AimStore
    >>> from aimops.metadata.recording import record_model_version
    >>> from aimops.metadata.lifecycle.routers import FileRouter
    >>> store, router = AimStore.open("sqlite://"), FileRouter(tempfile.mkdtemp())
    >>> _ = record_model_version(store, "churn", 1)
    >>> _ = store.put_aspect("urn:aim:modelVersion:churn/1", "lifecycle", {
    ...     "state": "published", "transition": "publish", "previous": "publishable",
    ...     "actor": "ana", "at": datetime.datetime.now(datetime.UTC)})
    >>> done = run_ramp_action(store, "start", "churn/1", router=router, mlflow=False,
    ...                        report_dir=tempfile.mkdtemp())
    >>> done["did"], done["deployment"]["weights"], done["page"].endswith(".html")
    ('started', {'1': 100}, True)
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from aimops.errors import InvalidInputError
from aimops.metadata.urns import model_version_urn

if TYPE_CHECKING:
    from aimops.metadata.store import AimStore

log = logging.getLogger(__name__)
ACTIONS = ("start", "advance", "resume", "abort", "deramp", "status")


def run_ramp_action(
    store: AimStore,
    action: str,
    target: Any,
    *,
    report_dir: str | os.PathLike[str] | None = "default",
    **options: Any,
) -> dict[str, Any]:
    """Run ``action`` (one of :data:`ACTIONS`) on ``target`` (a model version, or a ramp or
    deployment URN for all but ``start`` and ``deramp``) with ``options`` (the engine's
    keyword arguments), then write the model version's page under ``report_dir`` (None: no
    page). Returns the report as JSON-ready data with ``page`` (None when it could not be
    written: the action stands, and the failure is logged)."""
    from aimops import validation
    from aimops.metadata.lifecycle.deramp import deramp
    from aimops.monitors.ramps import engine

    action = validation.choice(action, "a ramp action", ACTIONS)
    if action == "deramp":
        outcome = deramp(store, target, **options)
        done: dict[str, Any] = {"did": "deramped", **outcome.to_dict()}
        version = outcome.urn
    else:
        run: Any = {
            "start": engine.start_ramp,
            "advance": engine.advance_ramp,
            "resume": engine.resume_ramp,
            "abort": engine.abort_ramp,
            "status": engine.ramp_status,
        }[action]
        report = run(store, target, **options)
        done = report.to_dict()
        version = str(model_version_urn(report.ramp["model"], report.ramp["version"]))
    done["page"] = None if action == "status" else _page(store, version, report_dir)
    return done


def _page(store: AimStore, version: str, report_dir: Any) -> str | None:
    if report_dir is None:
        return None
    from aimops.monitors.reports.model_version_page import write_model_version_page

    try:
        return str(write_model_version_page(store, version, report_dir))
    except (OSError, InvalidInputError) as exc:
        log.warning("the page of %s could not be written: %s", version, exc)
        return None
