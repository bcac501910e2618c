"""The Airflow plugin: the capture listener and the extra links, found by entry point.

``pip install aimops[airflow]`` registers it (entry point ``airflow.plugins``); a DAG opts in
with the tag ``aimops``.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from aimops.operators.links import AimStepLink, MlflowRunLink
from aimops.operators.listener import listener


class AimopsPlugin(AirflowPlugin):
    """Capture of opted-in DAGs into the AIM store, and links from tasks to AIM and MLflow."""

    name = "aimops"
    listeners = [listener]
    global_operator_extra_links = [AimStepLink(), MlflowRunLink()]
