"""Where the API server shows aimops' pages: the addresses operators, links and alerts point to.

Pages live under :data:`URL_PREFIX` on Airflow's API server, at ``$AIMOPS_AIRFLOW_URL`` (else
Airflow's ``[api] base_url``; relative when neither is set). The layout is the core's
(:mod:`aimops.monitors.reports.urls`, which the Prefect tasks share); this side adds Airflow's
own configuration. Nothing here imports the web app.

Example:
    >>> import os
    >>> os.environ["AIMOPS_AIRFLOW_URL"] = "https://airflow.example.com/"
    >>> report_url("urn:aim:evaluation:airflow/churn/manual__1/evaluate")
    'https://airflow.example.com/aimops/evaluations/urn:aim:evaluation:airflow/churn/manual__1/evaluate'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimops.monitors.reports import urls as layout
from aimops.monitors.reports.urls import AIRFLOW_URL_ENV, URL_PREFIX, configured_airflow_url

if TYPE_CHECKING:
    from aimops.metadata.urns import Urn

__all__ = [
    "AIRFLOW_URL_ENV", "URL_PREFIX", "airflow_url", "check_url", "model_version_url",
    "report_url",
]  # fmt: skip


def airflow_url() -> str:
    """The Airflow web address: ``$AIMOPS_AIRFLOW_URL``, else Airflow's ``[api] base_url``;
    empty when neither is set (links are then relative to the server the UI came from)."""
    configured = configured_airflow_url()
    if not configured:
        try:
            from airflow.sdk.configuration import conf

            configured = str(conf.get("api", "base_url", fallback="") or "").strip()
        except Exception:  # no Airflow configuration here: a relative link still works
            configured = ""
    return configured.rstrip("/")


def report_url(urn: str | Urn) -> str:
    """Where the API server shows the report of the evaluation ``urn``."""
    return layout.report_url(urn, base=airflow_url())


def check_url(urn: str | Urn, report: str | None = None) -> str:
    """Where the API server shows the check ``urn``; with ``report``, that saved report of it.

    Example:
        >>> import os
        >>> os.environ["AIMOPS_AIRFLOW_URL"] = "https://airflow.example.com"
        >>> check_url("urn:aim:check:airflow/monitor/manual__1/drift", "evidently")
        'https://airflow.example.com/aimops/checks/urn:aim:check:airflow/monitor/manual__1/drift?report=evidently'
    """
    return layout.check_url(urn, report, base=airflow_url())


def model_version_url(urn: str | Urn) -> str:
    """Where the API server shows the page of the model version ``urn``.

    Example:
        >>> import os
        >>> os.environ["AIMOPS_AIRFLOW_URL"] = "https://airflow.example.com"
        >>> model_version_url("urn:aim:modelVersion:churn/3")
        'https://airflow.example.com/aimops/models/urn:aim:modelVersion:churn/3'
    """
    return layout.model_version_url(urn, base=airflow_url())
