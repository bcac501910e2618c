"""Extra links on every task: its AIM step page and the MLflow run it logged to.

Both are global operator extra links (the plugin registers :func:`task_links`), resolved by
Airflow's API server when the UI asks. The AIM link is registered only when ``AIMOPS_UI_URL``
says where AIM pages are (read when Airflow loads the plugin): Airflow lists every registered
link under a task's "Extra Links", so a link that could point nowhere is not registered at all.
The MLflow link has a URL once the capture linked the step to an MLflow run and a web UI is
known (``AIMOPS_MLFLOW_UI_URL``, the ``mlflow_default`` connection's UI, or an http(s) tracking
URI); until then the UI leaves its button out.

Example:
    >>> import os
    >>> os.environ["AIMOPS_UI_URL"] = "https://aim.example.com"
    >>> step_page("urn:aim:step:airflow/train/manual__1/fit")
    'https://aim.example.com/steps/urn%3Aaim%3Astep%3Aairflow%2Ftrain%2Fmanual__1%2Ffit'
"""

from __future__ import annotations

import os
from typing import Any, ClassVar
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

from aimops.metadata.urns import step_urn

UI_URL_ENV = "AIMOPS_UI_URL"
MLFLOW_UI_URL_ENV = "AIMOPS_MLFLOW_UI_URL"


def step_page(urn: str) -> str | None:
    """The AIM page of a step under ``$AIMOPS_UI_URL``; None when that is unset."""
    base = os.environ.get(UI_URL_ENV, "").strip().rstrip("/")
    return f"{base}/steps/{quote(urn, safe='')}" if base else None


def _step_of(ti_key: Any) -> str:
    map_index = getattr(ti_key, "map_index", -1)
    return str(step_urn("airflow", ti_key.dag_id, ti_key.run_id, ti_key.task_id, map_index))


class AimStepLink(BaseOperatorLink):
    """The task's step in the AIM store."""

    name: ClassVar[str] = "AIM step"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return step_page(_step_of(ti_key)) or ""


class MlflowRunLink(BaseOperatorLink):
    """The MLflow run the task logged to, when the capture saw one."""

    name: ClassVar[str] = "MLflow run"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from aimops.hooks.aim import lookup_store  # the store's machinery: only when asked

        store = lookup_store()
        if store is None:
            return ""
        try:
            found = store.get_aspect(_step_of(ti_key), "mlflowRun")
        except Exception:  # no store, no link: the UI shows the link disabled
            return ""
        if found is None:
            return ""
        return mlflow_run_page(found.value) or ""


def task_links() -> list[BaseOperatorLink]:
    """The links every task gets, as this process's environment has them: "AIM step" only
    with ``AIMOPS_UI_URL``, "MLflow run" always.

    Example:
        >>> import os
        >>> os.environ.pop("AIMOPS_UI_URL", None) and None
        >>> [link.name for link in task_links()]
        ['MLflow run']
        >>> os.environ["AIMOPS_UI_URL"] = "https://aim.example.com"
        >>> [link.name for link in task_links()]
        ['AIM step', 'MLflow run']
    """
    links: list[BaseOperatorLink] = [MlflowRunLink()]
    if os.environ.get(UI_URL_ENV, "").strip():
        links.insert(0, AimStepLink())
    return links


def mlflow_run_page(run: dict[str, Any]) -> str | None:
    """The MLflow web page of a linked run, when a web UI is known."""
    base = os.environ.get(MLFLOW_UI_URL_ENV, "").strip()
    if not base:
        tracking = str(run.get("tracking_uri") or "")
        base = tracking if tracking.startswith(("http://", "https://")) else ""
    if not base:
        try:
            from aimops.hooks.mlflow import MlflowHook

            base = MlflowHook().get_ui_url() or ""
        except Exception:
            base = ""
    if not base:
        return None
    experiment = run.get("experiment_id") or "0"
    return f"{base.rstrip('/')}/#/experiments/{experiment}/runs/{run['run_id']}"


def task_xcom(ti_key: Any, key: str) -> Any:
    """The XCom ``key`` the task instance ``ti_key`` pushed, or None.

    Only a task's process can read XComs through the Task SDK (Airflow 3 computes an operator's
    links there, when the task ends); elsewhere this is None.
    """
    from airflow.sdk.execution_time.xcom import XCom

    try:
        return XCom.get_value(ti_key=ti_key, key=key)
    except ImportError:  # no task supervisor to ask: not inside a task's process
        return None
