"""The Airflow plugin: the capture listener, the extra links, the report and check pages.

``pip install aimops[airflow]`` registers it (entry point ``airflow.plugins``); a DAG opts in
with the tag ``aimops``. The API server mounts the evaluation reports under ``/aimops``
(:mod:`aimops.operators.web.app`, built at its first request).
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from aimops.operators.capture.listener import listener
from aimops.operators.links import task_links
from aimops.operators.web.app import report_app
from aimops.operators.web.urls import URL_PREFIX


class AimopsPlugin(AirflowPlugin):
    """Capture of opted-in DAGs into the AIM store, links from tasks to AIM and MLflow, and
    the evaluation reports inside Airflow."""

    name = "aimops"
    listeners = [listener]
    global_operator_extra_links = task_links()
    fastapi_apps = [{"app": report_app, "url_prefix": URL_PREFIX, "name": "aimops reports"}]

    @classmethod
    def on_load(cls, *args: Any, **kwargs: Any) -> None:
        """Airflow loads the plugin once per process: the links follow the environment then
        ("AIM step" only with ``AIMOPS_UI_URL``)."""
        cls.global_operator_extra_links = task_links()
