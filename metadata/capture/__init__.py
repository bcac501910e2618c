"""Capture for any orchestrator: what happened, as events applied to the store.

:mod:`~aimops.metadata.capture.events` builds capture events (pipelines, runs, steps, tries,
inputs and outputs), :mod:`~aimops.metadata.capture.sink` writes them with a short timeout or
spools them (:mod:`~aimops.metadata.capture.spool`), :mod:`~aimops.metadata.capture.values`
bounds and masks a try's values, and :mod:`~aimops.metadata.capture.mlflow_runs` links a try to
the MLflow run it logged to. The Airflow listener (:mod:`aimops.operators.capture`) and the
Prefect hooks only read their orchestrator's objects and call these.
"""
