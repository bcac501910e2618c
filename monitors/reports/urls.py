"""Where Airflow's API server shows aimops' pages: the layout of their addresses.

aimops' plugin (:mod:`aimops.operators.web`) serves its pages under :data:`URL_PREFIX` on
Airflow's API server: an evaluation's report at ``/aimops/evaluations/<urn>``, a check's page
at ``/aimops/checks/<urn>`` (``?report=evidently``: a report saved with it), a model version's
at ``/aimops/models/<urn>``. Whichever orchestrator links to a page builds its address here,
from ``base``, where Airflow is (default ``$AIMOPS_AIRFLOW_URL``; relative when it is empty):

- the Airflow operators through :mod:`aimops.operators.web.urls`, which falls back to
  Airflow's ``[api] base_url`` when ``$AIMOPS_AIRFLOW_URL`` is unset;
- the Prefect tasks (:mod:`aimops.flows`), which link a page only when
  ``$AIMOPS_AIRFLOW_URL`` is set (:func:`aimops.flows.artifacts.airflow_page`).

Nothing here imports an orchestrator.

Example:
    >>> report_url("urn:aim:evaluation:airflow/churn/manual__1/evaluate",
    ...            base="https://airflow.example.com/")
    'https://airflow.example.com/aimops/evaluations/urn:aim:evaluation:airflow/churn/manual__1/evaluate'
    >>> check_url("urn:aim:check:airflow/monitor/manual__1/drift", "evidently", base="")
    '/aimops/checks/urn:aim:check:airflow/monitor/manual__1/drift?report=evidently'
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from aimops.metadata.urns import Urn

#: Where the plugin's pages are mounted on Airflow's API server.
URL_PREFIX = "/aimops"
#: The variable that says where Airflow's API server is, as its users reach it.
AIRFLOW_URL_ENV = "AIMOPS_AIRFLOW_URL"


def configured_airflow_url() -> str:
    """``$AIMOPS_AIRFLOW_URL`` without a trailing slash; empty when it is unset.

    Example:
        >>> import os
        >>> os.environ["AIMOPS_AIRFLOW_URL"] = " https://airflow.example.com/ "
        >>> configured_airflow_url()
        'https://airflow.example.com'
        >>> del os.environ["AIMOPS_AIRFLOW_URL"]
        >>> configured_airflow_url()
        ''
    """
    return os.environ.get(AIRFLOW_URL_ENV, "").strip().rstrip("/")


def report_url(urn: str | Urn, *, base: str | None = None) -> str:
    """The page of the evaluation (or comparison) ``urn``: its HTML report."""
    return _page("evaluations", urn, base)


def check_url(urn: str | Urn, report: str | None = None, *, base: str | None = None) -> str:
    """The page of the check ``urn``; with ``report``, that saved report of it."""
    url = _page("checks", urn, base)
    return f"{url}?report={quote(report, safe='')}" if report else url


def model_version_url(urn: str | Urn, *, base: str | None = None) -> str:
    """The page of the model version ``urn``.

    Example:
        >>> model_version_url("urn:aim:modelVersion:churn/3", base="https://airflow.example.com")
        'https://airflow.example.com/aimops/models/urn:aim:modelVersion:churn/3'
    """
    return _page("models", urn, base)


def _page(section: str, urn: str | Urn, base: str | None) -> str:
    root = configured_airflow_url() if base is None else base.strip().rstrip("/")
    return f"{root}{URL_PREFIX}/{section}/{quote(str(urn), safe=':/')}"
